package dev.waypoint.model.gateway;

import java.time.Duration;
import java.util.List;

/**
 * {@code rules[].retry}.
 *
 * @param attempts "the maximum number of times an individual request from the gateway to a
 *        backend should be retried"; null when unset
 * @param codes the HTTP statuses to retry (400-599)
 * @param backoff the minimum wait between tries, or null
 */
public record RouteRetrySpec(Integer attempts, List<Integer> codes, Duration backoff) {
    public RouteRetrySpec {
        codes = List.copyOf(codes);
    }
}
