package dev.waypoint.routing;

import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.PathRewrite;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import dev.waypoint.model.request.RouteSelection;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@code route} stage: decides each request's route against the request's own snapshot and
 * writes it to {@link RouteSelection#KEY} for the upstream stage.
 *
 * <ol>
 *   <li>A Service target whose port has HTTPRoutes (for this caller): the winning match of the
 *       {@link RouteTable}; none → {@code 404 route_not_found}; an unservable rule or backend →
 *       {@code 500 route_invalid}.</li>
 *   <li>Otherwise the default route ("by default a Service routes to its own endpoints"; a pod
 *       target goes to that pod).</li>
 * </ol>
 * The decision is {@link RouteDecision#decide} (pure); this filter executes it. The rule's filters
 * run in listed order, followed by the chosen backend's:
 * RequestHeaderModifier and URLRewrite hostname through {@link RequestContext#requestHeaders()},
 * the URLRewrite path through the {@link PathRewrite} slot, RequestRedirect as a local reply
 * with {@code location}; ResponseHeaderModifiers are kept for {@link #onResponse}. A rule's CORS
 * filter runs first: it answers preflights itself and adds the CORS headers to responses for
 * allowed origins ({@link CorsPolicy}).
 */
public final class RouteFilter implements HttpFilter {
    /** The stage name, as in logs and metrics. */
    public static final String NAME = "route";

    /** The response header modifiers of the chosen rule and backend, for {@link #onResponse}. */
    private static final RequestKey<ResponseModifiers> RESPONSE = RequestKey.of("route-response", ResponseModifiers.class);

    private record ResponseModifiers(List<HttpFilterSpec.HeaderModifier> modifiers) {
        /** {@code set x-a: 1, add x-b: 2, remove x-c}: for {@code explain}. */
        @Override
        public String toString() {
            List<String> parts = new ArrayList<>();
            for (HttpFilterSpec.HeaderModifier m : modifiers) {
                m.set().forEach(h -> parts.add("set " + h.name() + ": " + h.value()));
                m.add().forEach(h -> parts.add("add " + h.name() + ": " + h.value()));
                m.remove().forEach(n -> parts.add("remove " + n));
            }
            return String.join(", ", parts);
        }
    }

    /** The CORS headers a response from an allowed origin gets, for {@link #onResponse}. */
    private static final RequestKey<CorsResponse> CORS = RequestKey.of("route-cors", CorsResponse.class);

    private record CorsResponse(CorsPolicy policy, String origin) {
        @Override
        public String toString() {
            return "cors headers for origin " + origin;
        }
    }

    private final BackendPicker picker;

    /** The data path's filter: random weighted backend choice. */
    public RouteFilter() {
        this(BackendPicker.random());
    }

    /** With a given picker (tests: {@link BackendPicker#seeded}). */
    public RouteFilter(BackendPicker picker) {
        this.picker = Objects.requireNonNull(picker, "picker");
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        RouteTable table = request.snapshot().part(RouteTable.PART);
        RouteDecision decision = RouteDecision.decide(table, request.target(), request.attributes(), picker);
        if (decision instanceof RouteDecision.UseDefault) {
            RouteSelection route = DefaultRoutes.route(request.target(), table.defaultRetry());
            request.set(RouteSelection.KEY, route);
            request.outcome().route(route.routeName()); // the decision carries its own label (STYLE rule 12)
            return FilterResult.CONTINUE;
        }
        if (decision instanceof RouteDecision.Answer a) {
            if (a.routeName() != null) {
                request.outcome().route(a.routeName());
            }
            return FilterResult.reply(a.rejection(), a.headers());
        }
        RouteDecision.Forward f = (RouteDecision.Forward) decision;
        CompiledRule rule = f.rule();
        request.outcome().route(rule.routeName());
        if (rule.cors() != null) {
            // the CORS filter runs before the router: a preflight never reaches a backend (CorsPolicy)
            String origin = request.requestHeaders().get(CorsPolicy.ORIGIN);
            if (origin != null && CorsPolicy.preflight(request.attributes().method(), request.requestHeaders())) {
                return FilterResult.reply(new Rejection(Rejection.Reason.CORS_PREFLIGHT, "preflight answered by " + rule.routeName()),
                        rule.cors().preflightHeaders(origin, request.requestHeaders()));
            }
            if (origin != null && rule.cors().allows(origin)) {
                request.set(CORS, new CorsResponse(rule.cors(), origin));
            }
        }
        List<HttpFilterSpec.HeaderModifier> responseModifiers = null;
        for (HttpFilterSpec filter : f.filters()) {
            if (filter instanceof HttpFilterSpec.RequestHeaderModifier m) {
                apply(m.modifier(), request.requestHeaders());
            } else if (filter instanceof HttpFilterSpec.ResponseHeaderModifier m) {
                if (responseModifiers == null) {
                    responseModifiers = new ArrayList<>(2);
                }
                responseModifiers.add(m.modifier());
            } else if (filter instanceof HttpFilterSpec.UrlRewrite u) {
                rewrite(u, f.prefix(), request);
            }
            // RequestMirror: compiled into rule.mirrors() (below); a RequestRedirect was decided as an
            // answer; Unsupported filters made the rule invalid
        }
        if (responseModifiers != null) {
            request.set(RESPONSE, new ResponseModifiers(responseModifiers));
        }
        request.set(RouteSelection.KEY, new RouteSelection(rule.routeName(), f.backend().target(), rule.timeout(), rule.retry(),
                mirrors(rule, f.backend())));
        return FilterResult.CONTINUE;
    }

    /**
     * The mirrors this request is copied to: the rule's, then those of the backendRef it was sent
     * to, each drawn against its share ("percent", "fraction").
     */
    private List<RouteSelection.Backend> mirrors(CompiledRule rule, CompiledRule.Backend backend) {
        if (rule.mirrors().isEmpty() && backend.mirrors().isEmpty()) {
            return List.of();
        }
        List<RouteSelection.Backend> out = new ArrayList<>(rule.mirrors().size() + backend.mirrors().size());
        draw(rule.mirrors(), out);
        draw(backend.mirrors(), out);
        return out;
    }

    private void draw(List<CompiledRule.Mirror> mirrors, List<RouteSelection.Backend> out) {
        for (CompiledRule.Mirror m : mirrors) {
            if (m.fraction() >= 1 || picker.next(1_000_000) < m.fraction() * 1_000_000) {
                out.add(m.target());
            }
        }
    }

    @Override
    public void onResponse(RequestContext request, int status, HeadersView headers) {
        CorsResponse cors = request.get(CORS);
        if (cors != null) {
            cors.policy().addResponseHeaders(cors.origin(), headers);
        }
        ResponseModifiers m = request.get(RESPONSE);
        if (m != null) {
            for (HttpFilterSpec.HeaderModifier modifier : m.modifiers()) {
                apply(modifier, headers);
            }
        }
    }

    /** {@code set} replaces, {@code add} appends a value, {@code remove} deletes; names case-insensitive. */
    static void apply(HttpFilterSpec.HeaderModifier m, HeadersView headers) {
        for (HttpFilterSpec.Header h : m.set()) {
            headers.set(h.name(), h.value());
        }
        for (HttpFilterSpec.Header h : m.add()) {
            headers.add(h.name(), h.value());
        }
        for (String name : m.remove()) {
            headers.remove(name);
        }
    }

    private static void rewrite(HttpFilterSpec.UrlRewrite u, String prefix, RequestContext request) {
        if (u.hostname() != null) {
            // "Hostname is the value to be used to replace the Host header value during forwarding"
            request.requestHeaders().set("host", u.hostname());
        }
        if (u.path() != null) {
            request.set(PathRewrite.KEY, new PathRewrite(RouteActions.rewritePath(u.path(), prefix, request.attributes().path())));
        }
    }
}
