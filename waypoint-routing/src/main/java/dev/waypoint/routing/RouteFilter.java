package dev.waypoint.routing;

import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RouteSelection;

/**
 * The {@code route} stage: decides each request's route and writes it to
 * {@link RouteSelection#KEY} for the upstream stage. Today that is the default route of the
 * request's target ("by default a Service routes to its own endpoints"), decided per request
 * against the request's own snapshot; HTTPRoute matching plugs in here.
 */
public final class RouteFilter implements HttpFilter {
    /** The stage name, as in logs and metrics. */
    public static final String NAME = "route";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        RouteSelection route = DefaultRoutes.route(request.target());
        request.set(RouteSelection.KEY, route);
        request.outcome().route(route.routeName()); // the decision carries its own label (STYLE rule 12)
        return FilterResult.CONTINUE;
    }
}
