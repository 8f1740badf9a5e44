package dev.waypoint.model.gateway;

import java.time.Duration;

/**
 * {@code rules[].timeouts}. Each is null when unset; {@link Duration#ZERO} means "disabled"
 * (Gateway API: "Setting a timeout to the zero duration (e.g. "0s") SHOULD disable the timeout").
 *
 * @param request the whole client transaction
 * @param backendRequest one upstream attempt
 */
public record RouteTimeoutsSpec(Duration request, Duration backendRequest) {}
