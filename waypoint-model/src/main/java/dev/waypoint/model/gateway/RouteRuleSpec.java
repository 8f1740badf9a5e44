package dev.waypoint.model.gateway;

import java.util.List;

/**
 * One {@code spec.rules[]} entry. A rule without matches was given the CRD default
 * ({@code PathPrefix /}) at translation.
 *
 * @param name {@code rules[].name}, or null
 * @param timeouts {@code timeouts}, or null when unset
 * @param retry {@code retry}, or null when unset
 */
public record RouteRuleSpec(String name, List<RouteMatchSpec> matches, List<HttpFilterSpec> filters,
                            List<BackendRefSpec> backendRefs, RouteTimeoutsSpec timeouts, RouteRetrySpec retry) {
    public RouteRuleSpec {
        matches = List.copyOf(matches);
        filters = List.copyOf(filters);
        backendRefs = List.copyOf(backendRefs);
    }
}
