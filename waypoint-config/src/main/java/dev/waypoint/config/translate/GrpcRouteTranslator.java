package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code gateway.networking.k8s.io/v1} {@code GRPCRoute} → an {@link HttpRouteSpec} of kind
 * {@code GRPCRoute}: a gRPC call is an HTTP/2 POST to {@code /<service>/<method>}, so each
 * {@code matches[].method} becomes the path match the router evaluates, as Istio converts a
 * GRPCRoute to VirtualService URI matches ({@code pilot/pkg/config/kube/gateway/conversion.go}):
 * <ul>
 *   <li>Exact service and method → {@code Exact /<service>/<method>};</li>
 *   <li>Exact service only → {@code PathPrefix /<service>} (segment-wise: {@code /<service>/...});</li>
 *   <li>Exact method only → {@code RegularExpression /[^/]+/<method>};</li>
 *   <li>RegularExpression → {@code RegularExpression /<service or [^/]+>/<method or [^/]+>}.</li>
 * </ul>
 * The method match itself is kept ({@link RouteMatchSpec#grpcMethod()}) for GRPCRoute precedence.
 * Headers, filters ({@code RequestHeaderModifier}, {@code ResponseHeaderModifier},
 * {@code RequestMirror}, {@code ExtensionRef}) and weighted backendRefs read as for HTTPRoute; the
 * CRD's validation is repeated (method types, "one of service or method", the service and method
 * patterns, the filter types GRPCRoute allows).
 */
final class GrpcRouteTranslator {
    private static final Set<String> SPEC = Set.of("parentRefs", "hostnames", "rules", "useDefaultGateways");
    private static final Set<String> RULE = Set.of("name", "matches", "filters", "backendRefs", "sessionPersistence");
    private static final Set<String> MATCH = Set.of("method", "headers");
    private static final Set<String> METHOD = Set.of("type", "service", "method");
    private static final Set<String> FILTERS = Set.of("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
            "ExtensionRef");
    // apis/v1/grpcroute_types.go: Exact service "^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$", method "^[A-Za-z_][A-Za-z_0-9]*$"
    private static final Pattern SERVICE = Pattern.compile("(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*");
    private static final Pattern METHOD_NAME = Pattern.compile("[A-Za-z_][A-Za-z_0-9]*");
    private static final String ANY_SEGMENT = "[^/]+";

    private GrpcRouteTranslator() {}

    static HttpRouteSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        Instant created = HttpRouteTranslator.creationTimestamp(ctx, child(tree, "metadata"));
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.knownFields(spec, "spec", SPEC);
        HttpRouteTranslator.useDefaultGateways(ctx, spec);
        List<ParentRefSpec> parents = HttpRouteTranslator.parentRefs(ctx, spec, name);
        ctx.list(spec, "spec", "hostnames"); // GEP-1294: no meaning for a Service parent
        List<RouteRuleSpec> rules = new ArrayList<>();
        List<JsonNode> rs = ctx.list(spec, "spec", "rules");
        for (int i = 0; i < rs.size(); i++) {
            String p = index("spec.rules", i);
            JsonNode n = ctx.element(rs.get(i), p, "rules[" + i + "]");
            if (n != null) {
                rules.add(rule(ctx, n, p, name));
            }
        }
        if (rs.isEmpty()) {
            // no rules: every call of the parent matches and has no backend (500), as an empty HTTPRoute rule
            rules.add(new RouteRuleSpec(null, List.of(RouteMatchSpec.any()), List.of(), List.of(), null, null));
        }
        return new HttpRouteSpec(name, created, parents, rules, ctx.source(), HttpRouteSpec.GRPC_ROUTE);
    }

    private static RouteRuleSpec rule(ObjectContext ctx, JsonNode n, String p, NamespacedName route) {
        ctx.knownFields(n, p, RULE);
        HttpRouteTranslator.sessionPersistence(ctx, n, p); // it was accepted and silently dropped
        String ruleName = ctx.string(n, p, "name");
        List<RouteMatchSpec> matches = new ArrayList<>();
        List<JsonNode> ms = ctx.list(n, p, "matches");
        for (int i = 0; i < ms.size(); i++) {
            String mp = index(path(p, "matches"), i);
            JsonNode m = ctx.element(ms.get(i), mp, "matches[" + i + "]");
            if (m != null) {
                matches.add(match(ctx, m, mp));
            }
        }
        if (matches.isEmpty()) {
            // "If no matches are specified, the implementation MUST match every gRPC request"
            matches.add(RouteMatchSpec.any());
        }
        checkFilterTypes(ctx, n, p);
        List<HttpFilterSpec> filters = HttpRouteTranslator.filters(ctx, n, p, route);
        List<BackendRefSpec> backends = new ArrayList<>();
        List<JsonNode> bs = ctx.list(n, p, "backendRefs");
        for (int i = 0; i < bs.size(); i++) {
            String bp = index(path(p, "backendRefs"), i);
            JsonNode b = ctx.element(bs.get(i), bp, "backendRefs[" + i + "]");
            if (b != null) {
                checkFilterTypes(ctx, b, bp);
                BackendRefSpec ref = HttpRouteTranslator.backendRef(ctx, b, bp, route, true);
                if (ref != null) {
                    backends.add(ref);
                }
            }
        }
        return new RouteRuleSpec(ruleName, matches, filters, backends, null, null);
    }

    /** GRPCRouteFilterType: only the header modifiers, RequestMirror and ExtensionRef exist for gRPC. */
    private static void checkFilterTypes(ObjectContext ctx, JsonNode owner, String p) {
        JsonNode fs = child(owner, "filters");
        if (fs == null || !fs.isArray()) {
            return;
        }
        for (int i = 0; i < fs.size(); i++) {
            JsonNode type = child(fs.get(i), "type");
            if (type != null && type.isTextual() && !FILTERS.contains(type.textValue())) {
                ctx.error(path(index(path(p, "filters"), i), "type"), message("type", type.textValue(),
                        "RequestHeaderModifier, ResponseHeaderModifier, RequestMirror or ExtensionRef (a GRPCRoute filter)"));
            }
        }
    }

    private static RouteMatchSpec match(ObjectContext ctx, JsonNode m, String mp) {
        ctx.knownFields(m, mp, MATCH);
        List<RouteMatchSpec.ValueMatch> headers = HttpRouteTranslator.valueMatches(ctx, m, mp, "headers");
        JsonNode mn = ctx.object(m, mp, "method");
        if (mn == null) {
            return new RouteMatchSpec(new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.PATH_PREFIX, "/"), headers, List.of(),
                    null, null);
        }
        String p = path(mp, "method");
        ctx.knownFields(mn, p, METHOD);
        String type = ctx.string(mn, p, "type");
        type = type == null ? "Exact" : type;
        String service = ctx.string(mn, p, "service");
        String method = ctx.string(mn, p, "method");
        // CEL: "One or both of 'service' or 'method' must be specified"
        if (service == null && method == null) {
            ctx.error(p, message("method", "{}", "one or both of service and method"));
        }
        RouteMatchSpec.PathMatch path;
        RouteMatchSpec.ValueType t;
        switch (type) {
            case "Exact" -> {
                t = RouteMatchSpec.ValueType.EXACT;
                if (service != null && !SERVICE.matcher(service).matches()) {
                    ctx.error(path(p, "service"), message("service", service, "a gRPC service name such as pkg.Service"));
                }
                if (method != null && !METHOD_NAME.matcher(method).matches()) {
                    ctx.error(path(p, "method"), message("method", method, "a gRPC method name such as Echo"));
                }
                if (service != null && method != null) {
                    path = new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.EXACT, "/" + service + "/" + method);
                } else if (service != null) {
                    path = new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.PATH_PREFIX, "/" + service);
                } else {
                    path = new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.REGULAR_EXPRESSION,
                            "/" + ANY_SEGMENT + "/" + Pattern.quote(method == null ? "" : method));
                }
            }
            case "RegularExpression" -> {
                t = RouteMatchSpec.ValueType.REGULAR_EXPRESSION;
                if (service != null) {
                    HttpRouteTranslator.checkRegex(ctx, service, path(p, "service"));
                }
                if (method != null) {
                    HttpRouteTranslator.checkRegex(ctx, method, path(p, "method"));
                }
                path = new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.REGULAR_EXPRESSION,
                        "/" + (service == null ? ANY_SEGMENT : "(?:" + service + ")") + "/" + (method == null ? ANY_SEGMENT : "(?:" + method + ")"));
            }
            default -> {
                ctx.error(path(p, "type"), message("type", type, "Exact or RegularExpression"));
                t = RouteMatchSpec.ValueType.EXACT;
                path = new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.PATH_PREFIX, "/");
            }
        }
        return new RouteMatchSpec(path, headers, List.of(), null, new RouteMatchSpec.GrpcMethodMatch(t, service, method));
    }
}
