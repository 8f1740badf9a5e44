package dev.waypoint.routing;

import dev.waypoint.model.request.RetryPolicy;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;

/**
 * The route a request takes when no HTTPRoute applies to its target and caller: "by default a
 * Service routes to its own endpoints" (GAMMA: "no routes for the Service → send to the Service as
 * usual"); workload-addressed traffic goes to the addressed pod and port (no load balancing). Pure.
 */
public final class DefaultRoutes {
    /** Route name used in logs and metrics for the default route. */
    public static final String DEFAULT = "default";

    private DefaultRoutes() {}

    /** The default route for {@code target}, without retries. */
    public static RouteSelection route(Target target) {
        return route(target, RetryPolicy.NONE);
    }

    /**
     * The default route for {@code target} with {@code retry}: Istio's waypoint default route is
     * "more like the outbound route", with the mesh's default retry policy
     * ({@code httproute.go buildSidecarInboundHTTPRouteConfig}, {@code BuildDefaultHTTPOutboundRoute}),
     * for Service, ServiceEntry and workload targets alike; no timeout.
     */
    public static RouteSelection route(Target target, RetryPolicy retry) {
        if (target instanceof Target.ServiceTarget s) {
            return new RouteSelection(DEFAULT, new RouteSelection.ServiceBackend(s.service(), s.port()), null, retry);
        }
        if (target instanceof Target.ServiceEntryTarget se) {
            // a ServiceEntry routes to its own endpoints (or, resolution NONE, to where the client was going)
            return new RouteSelection(DEFAULT, new RouteSelection.ServiceEntryBackend(se.entry(), se.port(), se.authority()), null,
                    retry);
        }
        Target.WorkloadTarget w = (Target.WorkloadTarget) target;
        return new RouteSelection(DEFAULT, new RouteSelection.PodBackend(w.pod(), w.authority().port()), null, retry);
    }
}
