package dev.waypoint.routing;

import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.Target;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the route stage decided for one request (STYLE rule 5: decide, then do). {@link #decide}
 * is pure — no Netty, no request slots — and {@link RouteFilter} executes the result.
 */
sealed interface RouteDecision {
    /** No HTTPRoute applies to this target and caller: the target's default route. */
    record UseDefault() implements RouteDecision {}

    /** The waypoint answers: 404 no match, 500 unservable rule or backend, or a redirect. */
    record Answer(String routeName, Rejection rejection, Map<String, String> headers) implements RouteDecision {}

    /**
     * Forward to {@code backend} of {@code rule}, after the request filters in {@code filters}
     * (the rule's, then the backend's, in listed order).
     *
     * @param prefix the matched PathPrefix without its trailing '/' (for ReplacePrefixMatch), or null
     */
    record Forward(CompiledRule rule, CompiledRule.Backend backend, String prefix, List<HttpFilterSpec> filters)
            implements RouteDecision {}

    UseDefault DEFAULT = new UseDefault();

    /** Decides the route of {@code request} to {@code target} against {@code table}. */
    static RouteDecision decide(RouteTable table, Target target, RequestAttributes request, BackendPicker picker) {
        RouteTable.PortRoutes routes;
        int port;
        if (target instanceof Target.ServiceTarget st) {
            routes = table.routes(st.service().name(), st.port().port());
            port = st.port().port();
        } else if (target instanceof Target.ServiceEntryTarget se) {
            // an HTTPRoute whose parent is the ServiceEntry (Istio: a VirtualService for its hosts and port)
            routes = table.entryRoutes(se.entry().name(), se.port().port());
            port = se.port().port();
        } else {
            return DEFAULT; // routes bind to the Service frontend; a pod-addressed request is not routed
        }
        SpiffeId peer = request.sourcePrincipal();
        String caller = peer == null ? null : peer.namespace();
        if (routes == null || !routes.appliesTo(caller)) {
            return DEFAULT;
        }
        RouteTable.Entry entry = routes.find(request, caller);
        if (entry == null) {
            // "When no rule of the routes attached to the parent matches, return 404"
            return new Answer(null, new Rejection(Rejection.Reason.ROUTE_NOT_FOUND,
                    "no HTTPRoute rule of " + (target instanceof Target.ServiceTarget st ? "Service " + st.service().name()
                            : "ServiceEntry " + ((Target.ServiceEntryTarget) target).entry().name()) + ":" + port + " matches"), Map.of());
        }
        CompiledRule rule = entry.rule();
        if (rule.invalid() != null) {
            return new Answer(rule.routeName(), new Rejection(Rejection.Reason.ROUTE_INVALID,
                    rule.routeName() + ": " + rule.invalid()), Map.of());
        }
        CompiledRule.Backend backend = rule.backends().isEmpty() ? null : rule.pick(picker);
        if (backend != null && backend.target() == null) {
            // "an invalid backend gets its share of 500s"
            return new Answer(rule.routeName(), new Rejection(Rejection.Reason.ROUTE_INVALID,
                    rule.routeName() + ": " + backend.invalid()), Map.of());
        }
        List<HttpFilterSpec> filters = rule.filters();
        if (backend != null && !backend.filters().isEmpty()) {
            filters = new ArrayList<>(rule.filters());
            filters.addAll(backend.filters());
        }
        String prefix = entry.matcher().prefix();
        for (HttpFilterSpec f : filters) {
            if (f instanceof HttpFilterSpec.RequestRedirect r) {
                // a redirect answers; request filters before it would change nothing the client sees
                return new Answer(rule.routeName(), new Rejection(redirectReason(r.statusCode()), "redirected by " + rule.routeName()),
                        Map.of("location", RouteActions.location(r, prefix, request, port)));
            }
        }
        return new Forward(rule, backend, prefix, filters);
    }

    private static Rejection.Reason redirectReason(int status) {
        return switch (status) {
            case 301 -> Rejection.Reason.REDIRECT_301;
            case 303 -> Rejection.Reason.REDIRECT_303;
            case 307 -> Rejection.Reason.REDIRECT_307;
            case 308 -> Rejection.Reason.REDIRECT_308;
            default -> Rejection.Reason.REDIRECT_302;
        };
    }
}
