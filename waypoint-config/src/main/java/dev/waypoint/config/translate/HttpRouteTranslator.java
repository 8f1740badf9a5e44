package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteRetrySpec;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.gateway.RouteTimeoutsSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code gateway.networking.k8s.io/v1} {@code HTTPRoute} → {@link HttpRouteSpec}, with the CRD
 * defaults applied and the CRD's validation repeated (the API server would have refused what is
 * reported here; a YAML directory has no API server). Unknown fields are errors: a field this
 * waypoint does not read (a newer feature) would otherwise be silently dropped.
 */
final class HttpRouteTranslator {
    // apis/v1/shared_types.go, Duration: "^([0-9]{1,5}(h|m|s|ms)){1,4}$"
    private static final Pattern DURATION = Pattern.compile("([0-9]{1,5}(h|m|s|ms)){1,4}");
    private static final Pattern DURATION_PART = Pattern.compile("([0-9]{1,5})(h|ms|m|s)");
    static final String DURATION_FORMAT = "a Gateway API duration such as 10s, 500ms or 1h30m";
    private static final Set<String> METHODS =
            Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");

    private static final Set<String> SPEC = Set.of("parentRefs", "hostnames", "rules", "useDefaultGateways");
    private static final Set<String> PARENT = Set.of("group", "kind", "namespace", "name", "port", "sectionName");
    private static final Set<String> RULE = Set.of("name", "matches", "filters", "backendRefs", "timeouts", "retry",
            "sessionPersistence");
    private static final Set<String> MATCH = Set.of("path", "headers", "queryParams", "method");
    private static final Set<String> PATH = Set.of("type", "value");
    private static final Set<String> VALUE_MATCH = Set.of("type", "name", "value");
    private static final Set<String> BACKEND = Set.of("group", "kind", "namespace", "name", "port", "weight", "filters");
    private static final Set<String> FILTER = Set.of("type", "requestHeaderModifier", "responseHeaderModifier",
            "requestRedirect", "urlRewrite", "requestMirror", "cors", "extensionRef", "externalAuth");
    private static final Set<String> HEADER_MODIFIER = Set.of("set", "add", "remove");
    private static final Set<String> REDIRECT = Set.of("scheme", "hostname", "port", "path", "statusCode");
    private static final Set<String> REWRITE = Set.of("hostname", "path");
    private static final Set<String> PATH_MODIFIER = Set.of("type", "replaceFullPath", "replacePrefixMatch");
    private static final Set<String> MIRROR = Set.of("backendRef", "percent", "fraction");
    private static final Set<String> TIMEOUTS = Set.of("request", "backendRequest");
    private static final Set<String> RETRY = Set.of("attempts", "codes", "backoff");

    private HttpRouteTranslator() {}

    /**
     * A rule's {@code sessionPersistence} (experimental channel, HTTPRoute and GRPCRoute): read and
     * not applied, with a warning: requests of one session may reach different backends.
     */
    static void sessionPersistence(ObjectContext ctx, JsonNode rule, String p) {
        if (ctx.object(rule, p, "sessionPersistence") != null) {
            ctx.warning(path(p, "sessionPersistence"), "sessionPersistence is not applied by this waypoint: "
                    + "requests of one session may reach different backends");
        }
    }

    /**
     * {@code spec.useDefaultGateways} (experimental, GEP-3793) attaches a route to the cluster's
     * default Gateways; a waypoint is not one, so it is read and ignored, with a note.
     */
    static void useDefaultGateways(ObjectContext ctx, JsonNode spec) {
        String v = ctx.string(spec, "spec", "useDefaultGateways");
        if (v != null) {
            ctx.note("spec.useDefaultGateways", "useDefaultGateways: " + v
                    + " attaches the route to default Gateways; a waypoint is not one, it goes by the parentRefs");
        }
    }

    static HttpRouteSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        Instant created = creationTimestamp(ctx, child(tree, "metadata"));
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.knownFields(spec, "spec", SPEC);
        useDefaultGateways(ctx, spec);
        List<ParentRefSpec> parents = parentRefs(ctx, spec, name);
        // hostnames: read for validity only. GEP-1294: "GAMMA implementations SHOULD NOT infer any
        // behavior from the hostnames field"; Istio ignores them for Service parents.
        ctx.list(spec, "spec", "hostnames");

        List<RouteRuleSpec> rules = new ArrayList<>();
        List<JsonNode> rs = child(spec, "rules") == null ? List.of() : ctx.list(spec, "spec", "rules");
        if (child(spec, "rules") == null) {
            // CRD default: rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
            rules.add(new RouteRuleSpec(null, List.of(RouteMatchSpec.any()), List.of(), List.of(), null, null));
        }
        for (int i = 0; i < rs.size(); i++) {
            String p = index("spec.rules", i);
            JsonNode n = ctx.element(rs.get(i), p, "rules[" + i + "]");
            if (n != null) {
                rules.add(rule(ctx, n, p, name));
            }
        }
        return new HttpRouteSpec(name, created, parents, rules, ctx.source());
    }

    /** {@code spec.parentRefs}, with the CRD defaults (group, kind Gateway, the route's namespace). Shared with GRPCRoute. */
    static List<ParentRefSpec> parentRefs(ObjectContext ctx, JsonNode spec, NamespacedName name) {
        List<ParentRefSpec> parents = new ArrayList<>();
        List<JsonNode> ps = ctx.list(spec, "spec", "parentRefs");
        for (int i = 0; i < ps.size(); i++) {
            String p = index("spec.parentRefs", i);
            JsonNode n = ctx.element(ps.get(i), p, "parentRefs[" + i + "]");
            if (n == null) {
                continue;
            }
            ctx.knownFields(n, p, PARENT);
            String group = orDefault(ctx.string(n, p, "group"), "gateway.networking.k8s.io");
            String kind = orDefault(ctx.string(n, p, "kind"), "Gateway");
            String ns = orDefault(ctx.string(n, p, "namespace"), name.namespace());
            String parent = ctx.requiredString(n, p, "name", "the parent's name");
            int port = child(n, "port") == null ? 0 : ctx.port(n, p, "port");
            String section = ctx.string(n, p, "sectionName");
            String expectedGroup = switch (kind) {
                case "Service" -> "";
                case "ServiceEntry" -> "networking.istio.io";
                default -> group;
            };
            if (!group.equals(expectedGroup)) {
                // the usual slip: a Service parent without group "" defaults to gateway.networking.k8s.io,
                // which Istio reports as an unsupported parent; the route attaches to nothing there
                ctx.warning(path(p, "group"), message("group", group.isEmpty() ? "\"\"" : group,
                        "\"" + expectedGroup + "\" for a " + kind + " parent; unset, group is gateway.networking.k8s.io;"
                                + " this parentRef attaches the route to nothing, as Istio's unsupported parent"));
            }
            if (parent != null) {
                parents.add(new ParentRefSpec(group, kind, ns, parent, port, section));
            }
        }
        return parents;
    }

    private static RouteRuleSpec rule(ObjectContext ctx, JsonNode n, String p, NamespacedName route) {
        ctx.knownFields(n, p, RULE);
        sessionPersistence(ctx, n, p);
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
            // "If no matches are specified, the default is a prefix path match on "/""
            matches.add(RouteMatchSpec.any());
        }
        List<HttpFilterSpec> filters = filters(ctx, n, p, route);
        List<BackendRefSpec> backends = new ArrayList<>();
        List<JsonNode> bs = ctx.list(n, p, "backendRefs");
        for (int i = 0; i < bs.size(); i++) {
            String bp = index(path(p, "backendRefs"), i);
            JsonNode b = ctx.element(bs.get(i), bp, "backendRefs[" + i + "]");
            if (b != null) {
                BackendRefSpec ref = backendRef(ctx, b, bp, route, true);
                if (ref != null) {
                    backends.add(ref);
                }
            }
        }
        // CEL on HTTPRouteRule: "RequestRedirect filter must not be used together with backendRefs"
        if (!backends.isEmpty() && filters.stream().anyMatch(f -> f instanceof HttpFilterSpec.RequestRedirect)) {
            ctx.error(path(p, "filters"), message("filters", "RequestRedirect with backendRefs",
                    "a RequestRedirect rule without backendRefs"));
        }
        return new RouteRuleSpec(ruleName, matches, filters, backends, timeouts(ctx, n, p), retry(ctx, n, p));
    }

    private static RouteMatchSpec match(ObjectContext ctx, JsonNode m, String mp) {
        ctx.knownFields(m, mp, MATCH);
        RouteMatchSpec.PathMatch path = new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.PATH_PREFIX, "/");
        JsonNode pn = ctx.object(m, mp, "path");
        if (pn != null) {
            String pp = path(mp, "path");
            ctx.knownFields(pn, pp, PATH);
            String type = orDefault(ctx.string(pn, pp, "type"), "PathPrefix");
            String value = orDefault(ctx.string(pn, pp, "value"), "/");
            RouteMatchSpec.PathType t = switch (type) {
                case "Exact" -> RouteMatchSpec.PathType.EXACT;
                case "PathPrefix" -> RouteMatchSpec.PathType.PATH_PREFIX;
                case "RegularExpression" -> RouteMatchSpec.PathType.REGULAR_EXPRESSION;
                default -> {
                    ctx.error(path(pp, "type"), message("type", type, "Exact, PathPrefix or RegularExpression"));
                    yield RouteMatchSpec.PathType.PATH_PREFIX;
                }
            };
            if (t != RouteMatchSpec.PathType.REGULAR_EXPRESSION && !value.startsWith("/")) {
                ctx.error(path(pp, "value"), message("value", value, "an absolute path starting with '/'"));
            } else if (t != RouteMatchSpec.PathType.REGULAR_EXPRESSION && (value.contains("//") || value.contains("/./")
                    || value.contains("/../") || value.contains("%2f") || value.contains("%2F") || value.contains("#"))) {
                // CRD CEL: "must not contain '//'", "must not contain '/./'", ... "'#'"
                ctx.error(path(pp, "value"), message("value", value, "a path without '//', '/./', '/../', '%2f' or '#'"));
            } else if (t == RouteMatchSpec.PathType.REGULAR_EXPRESSION) {
                checkRegex(ctx, value, path(pp, "value"));
            }
            path = new RouteMatchSpec.PathMatch(t, value);
        }
        List<RouteMatchSpec.ValueMatch> headers = valueMatches(ctx, m, mp, "headers");
        List<RouteMatchSpec.ValueMatch> query = valueMatches(ctx, m, mp, "queryParams");
        String method = ctx.string(m, mp, "method");
        if (method != null && !METHODS.contains(method)) {
            ctx.error(path(mp, "method"), message("method", method, String.join(", ", new java.util.TreeSet<>(METHODS))));
            method = null;
        }
        return new RouteMatchSpec(path, headers, query, method);
    }

    static List<RouteMatchSpec.ValueMatch> valueMatches(ObjectContext ctx, JsonNode m, String mp, String key) {
        List<RouteMatchSpec.ValueMatch> out = new ArrayList<>();
        List<JsonNode> hs = ctx.list(m, mp, key);
        for (int i = 0; i < hs.size(); i++) {
            String hp = index(path(mp, key), i);
            JsonNode h = ctx.element(hs.get(i), hp, key + "[" + i + "]");
            if (h == null) {
                continue;
            }
            ctx.knownFields(h, hp, VALUE_MATCH);
            String type = orDefault(ctx.string(h, hp, "type"), "Exact");
            String name = ctx.requiredString(h, hp, "name", key.equals("headers") ? "a header name" : "a query parameter name");
            String value = ctx.requiredString(h, hp, "value", "a value");
            RouteMatchSpec.ValueType t = switch (type) {
                case "Exact" -> RouteMatchSpec.ValueType.EXACT;
                case "RegularExpression" -> RouteMatchSpec.ValueType.REGULAR_EXPRESSION;
                default -> {
                    ctx.error(path(hp, "type"), message("type", type, "Exact or RegularExpression"));
                    yield RouteMatchSpec.ValueType.EXACT;
                }
            };
            if (t == RouteMatchSpec.ValueType.REGULAR_EXPRESSION && value != null) {
                checkRegex(ctx, value, path(hp, "value"));
            }
            if (name != null && value != null) {
                out.add(new RouteMatchSpec.ValueMatch(t, name, value));
            }
        }
        return out;
    }

    static void checkRegex(ObjectContext ctx, String regex, String at) {
        try {
            java.util.regex.Pattern.compile(regex); // the router compiles with RE2 semantics; a Java-invalid one is surely bad
        } catch (java.util.regex.PatternSyntaxException e) {
            ctx.error(at, message("value", regex, "a regular expression (" + e.getDescription() + ")"));
        }
    }

    static List<HttpFilterSpec> filters(ObjectContext ctx, JsonNode n, String p, NamespacedName route) {
        List<HttpFilterSpec> out = new ArrayList<>();
        List<JsonNode> fs = ctx.list(n, p, "filters");
        Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < fs.size(); i++) {
            String fp = index(path(p, "filters"), i);
            JsonNode f = ctx.element(fs.get(i), fp, "filters[" + i + "]");
            if (f == null) {
                continue;
            }
            ctx.knownFields(f, fp, FILTER);
            String type = ctx.requiredString(f, fp, "type", "a filter type such as RequestHeaderModifier");
            if (type == null) {
                continue;
            }
            // CEL: "RequestHeaderModifier filter cannot be repeated" (and the same for the other kinds but mirrors)
            if (!type.equals("RequestMirror") && !type.equals("ExtensionRef") && !seen.add(type)) {
                ctx.error(path(fp, "type"), message("type", type, "at most one " + type + " filter per rule"));
            }
            HttpFilterSpec spec = switch (type) {
                case "RequestHeaderModifier" -> headerModifier(ctx, f, fp, "requestHeaderModifier", true);
                case "ResponseHeaderModifier" -> headerModifier(ctx, f, fp, "responseHeaderModifier", false);
                case "RequestRedirect" -> redirect(ctx, f, fp);
                case "URLRewrite" -> rewrite(ctx, f, fp);
                case "RequestMirror" -> mirror(ctx, f, fp, route);
                case "CORS" -> cors(ctx, f, fp);
                // parsed, never run: the rule answers 500 ("the filter MUST NOT be skipped")
                case "ExtensionRef", "ExternalAuth" -> new HttpFilterSpec.Unsupported(type);
                default -> {
                    ctx.error(path(fp, "type"), message("type", type,
                            "RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror, CORS, "
                            + "ExtensionRef or ExternalAuth"));
                    yield null;
                }
            };
            if (spec != null) {
                out.add(spec);
            }
        }
        if (seen.contains("RequestRedirect") && seen.contains("URLRewrite")) {
            // CEL: "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"
            ctx.error(path(p, "filters"), message("filters", "RequestRedirect and URLRewrite", "at most one of them"));
        }
        return out;
    }

    private static final Set<String> CORS = Set.of("allowOrigins", "allowCredentials", "allowMethods", "allowHeaders",
            "exposeHeaders", "maxAge");
    // apis/v1/httproute_types.go CORSOrigin: "^(([^:/?#]+):)(//([^/?#]*))([?#]*)$" or "*"
    private static final Pattern ORIGIN = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://[^/?#\\s]+");

    /** {@code HTTPCORSFilter}, with the CRD's defaults ({@code maxAge: 5}) and checks. */
    private static HttpFilterSpec cors(ObjectContext ctx, JsonNode f, String fp) {
        JsonNode body = filterBody(ctx, f, fp, "cors");
        String bp = path(fp, "cors");
        ctx.knownFields(body, bp, CORS);
        List<String> origins = ctx.stringList(body, bp, "allowOrigins");
        for (int i = 0; i < origins.size(); i++) {
            String o = origins.get(i);
            if (!o.equals("*") && !ORIGIN.matcher(o).matches()) {
                ctx.error(index(path(bp, "allowOrigins"), i), message("allowOrigins[" + i + "]", o,
                        "* or an origin scheme://host[:port] (a * in the host is a wildcard)"));
            }
        }
        List<String> methods = ctx.stringList(body, bp, "allowMethods");
        for (int i = 0; i < methods.size(); i++) {
            String m = methods.get(i);
            if (!m.equals("*") && !METHODS.contains(m)) {
                ctx.error(index(path(bp, "allowMethods"), i), message("allowMethods[" + i + "]", m,
                        "* or one of " + String.join(", ", new java.util.TreeSet<>(METHODS))));
            }
        }
        // CEL: "AllowMethods cannot contain '*' alongside other methods" (the same for headers)
        List<String> allowHeaders = ctx.stringList(body, bp, "allowHeaders");
        List<String> exposeHeaders = ctx.stringList(body, bp, "exposeHeaders");
        for (String key : List.of("allowMethods", "allowHeaders", "exposeHeaders")) {
            List<String> v = key.equals("allowMethods") ? methods : key.equals("allowHeaders") ? allowHeaders : exposeHeaders;
            if (v.contains("*") && v.size() > 1) {
                ctx.error(path(bp, key), message(key, String.join(", ", v), "* alone, or a list without *"));
            }
        }
        Boolean credentials = child(body, "allowCredentials") == null ? null : child(body, "allowCredentials").isBoolean()
                ? child(body, "allowCredentials").booleanValue() : null;
        if (child(body, "allowCredentials") != null && credentials == null) {
            ctx.error(path(bp, "allowCredentials"), message("allowCredentials", renderJson(child(body, "allowCredentials")),
                    "true or false"));
        }
        int maxAge = ctx.integer(body, bp, "maxAge", 1, Integer.MAX_VALUE, 5);
        return new HttpFilterSpec.Cors(origins, credentials != null && credentials, methods, allowHeaders, exposeHeaders, maxAge);
    }

    private static JsonNode filterBody(ObjectContext ctx, JsonNode f, String fp, String key) {
        JsonNode body = ctx.object(f, fp, key);
        if (body == null) {
            ctx.error(path(fp, key), message(key, "missing", "an object when type is set to its filter"));
        }
        return body;
    }

    private static HttpFilterSpec headerModifier(ObjectContext ctx, JsonNode f, String fp, String key, boolean request) {
        JsonNode body = filterBody(ctx, f, fp, key);
        String bp = path(fp, key);
        ctx.knownFields(body, bp, HEADER_MODIFIER);
        HttpFilterSpec.HeaderModifier m = new HttpFilterSpec.HeaderModifier(headers(ctx, body, bp, "set"),
                headers(ctx, body, bp, "add"), removes(ctx, body, bp));
        return request ? new HttpFilterSpec.RequestHeaderModifier(m) : new HttpFilterSpec.ResponseHeaderModifier(m);
    }

    private static List<HttpFilterSpec.Header> headers(ObjectContext ctx, JsonNode body, String bp, String key) {
        List<HttpFilterSpec.Header> out = new ArrayList<>();
        List<JsonNode> hs = ctx.list(body, bp, key);
        for (int i = 0; i < hs.size(); i++) {
            String hp = index(path(bp, key), i);
            JsonNode h = ctx.element(hs.get(i), hp, key + "[" + i + "]");
            if (h == null) {
                continue;
            }
            ctx.knownFields(h, hp, Set.of("name", "value"));
            String name = ctx.requiredString(h, hp, "name", "a header name");
            String value = ctx.string(h, hp, "value");
            if (name != null) {
                out.add(new HttpFilterSpec.Header(name, value == null ? "" : value));
            }
        }
        return out;
    }

    private static List<String> removes(ObjectContext ctx, JsonNode body, String bp) {
        List<String> out = new ArrayList<>();
        List<JsonNode> rs = ctx.list(body, bp, "remove");
        for (int i = 0; i < rs.size(); i++) {
            JsonNode r = rs.get(i);
            if (!r.isTextual() || r.textValue().isEmpty()) {
                ctx.error(index(path(bp, "remove"), i), message("remove[" + i + "]", renderJson(r), "a header name"));
            } else {
                out.add(r.textValue());
            }
        }
        return out;
    }

    private static HttpFilterSpec redirect(ObjectContext ctx, JsonNode f, String fp) {
        JsonNode body = filterBody(ctx, f, fp, "requestRedirect");
        String bp = path(fp, "requestRedirect");
        ctx.knownFields(body, bp, REDIRECT);
        String scheme = ctx.string(body, bp, "scheme");
        if (scheme != null && !scheme.equals("http") && !scheme.equals("https")) {
            ctx.error(path(bp, "scheme"), message("scheme", scheme, "http or https"));
        }
        String hostname = ctx.string(body, bp, "hostname");
        int port = child(body, "port") == null ? 0 : ctx.port(body, bp, "port");
        HttpFilterSpec.PathModifier path = pathModifier(ctx, body, bp);
        int status = ctx.integer(body, bp, "statusCode", 0, 999, 302);
        if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
            ctx.error(path(bp, "statusCode"), message("statusCode", Integer.toString(status), "301, 302, 303, 307 or 308"));
        }
        return new HttpFilterSpec.RequestRedirect(scheme, hostname, port, path, status);
    }

    private static HttpFilterSpec rewrite(ObjectContext ctx, JsonNode f, String fp) {
        JsonNode body = filterBody(ctx, f, fp, "urlRewrite");
        String bp = path(fp, "urlRewrite");
        ctx.knownFields(body, bp, REWRITE);
        return new HttpFilterSpec.UrlRewrite(ctx.string(body, bp, "hostname"), pathModifier(ctx, body, bp));
    }

    private static HttpFilterSpec.PathModifier pathModifier(ObjectContext ctx, JsonNode body, String bp) {
        JsonNode pn = ctx.object(body, bp, "path");
        if (pn == null) {
            return null;
        }
        String pp = path(bp, "path");
        ctx.knownFields(pn, pp, PATH_MODIFIER);
        String type = ctx.requiredString(pn, pp, "type", "ReplaceFullPath or ReplacePrefixMatch");
        if (type == null) {
            return null;
        }
        switch (type) {
            case "ReplaceFullPath" -> {
                String v = ctx.string(pn, pp, "replaceFullPath");
                if (v == null) {
                    ctx.error(path(pp, "replaceFullPath"), message("replaceFullPath", "missing", "a path when type is ReplaceFullPath"));
                    return null;
                }
                return new HttpFilterSpec.PathModifier(HttpFilterSpec.PathModifierType.REPLACE_FULL_PATH, v);
            }
            case "ReplacePrefixMatch" -> {
                String v = ctx.string(pn, pp, "replacePrefixMatch");
                if (v == null) {
                    ctx.error(path(pp, "replacePrefixMatch"), message("replacePrefixMatch", "missing", "a path when type is ReplacePrefixMatch"));
                    return null;
                }
                return new HttpFilterSpec.PathModifier(HttpFilterSpec.PathModifierType.REPLACE_PREFIX_MATCH, v);
            }
            default -> {
                ctx.error(path(pp, "type"), message("type", type, "ReplaceFullPath or ReplacePrefixMatch"));
                return null;
            }
        }
    }

    private static HttpFilterSpec mirror(ObjectContext ctx, JsonNode f, String fp, NamespacedName route) {
        JsonNode body = filterBody(ctx, f, fp, "requestMirror");
        String bp = path(fp, "requestMirror");
        ctx.knownFields(body, bp, MIRROR);
        JsonNode b = ctx.object(body, bp, "backendRef");
        if (b == null) {
            ctx.error(path(bp, "backendRef"), message("backendRef", "missing", "the Service to mirror to"));
            return null;
        }
        BackendRefSpec ref = backendRef(ctx, b, path(bp, "backendRef"), route, false);
        // "Only one of Fraction or Percent may be specified"; neither: every request
        double share = 1;
        if (child(body, "percent") != null && child(body, "fraction") != null) {
            ctx.error(bp, message("requestMirror", "percent and fraction", "at most one of them"));
        } else if (child(body, "percent") != null) {
            share = ctx.integer(body, bp, "percent", 0, 100, 100) / 100.0;
        } else if (child(body, "fraction") != null) {
            JsonNode fr = ctx.object(body, bp, "fraction");
            String frp = path(bp, "fraction");
            ctx.knownFields(fr, frp, Set.of("numerator", "denominator"));
            int num = ctx.integer(fr, frp, "numerator", 0, Integer.MAX_VALUE, 0);
            int den = ctx.integer(fr, frp, "denominator", 1, Integer.MAX_VALUE, 100);
            if (child(fr, "numerator") == null) {
                ctx.error(path(frp, "numerator"), message("numerator", "missing", "an integer"));
            } else if (num > den) {
                // CEL: "numerator must be less than or equal to denominator"
                ctx.error(path(frp, "numerator"), message("numerator", Integer.toString(num), "at most the denominator " + den));
            } else {
                share = (double) num / den;
            }
        }
        return ref == null ? null : new HttpFilterSpec.RequestMirror(ref, share);
    }

    static BackendRefSpec backendRef(ObjectContext ctx, JsonNode b, String bp, NamespacedName route, boolean full) {
        ctx.knownFields(b, bp, full ? BACKEND : Set.of("group", "kind", "namespace", "name", "port"));
        String group = orDefault(ctx.string(b, bp, "group"), "");
        String kind = orDefault(ctx.string(b, bp, "kind"), "Service");
        String ns = orDefault(ctx.string(b, bp, "namespace"), route.namespace());
        String name = ctx.requiredString(b, bp, "name", "a backend name");
        int port = child(b, "port") == null ? 0 : ctx.port(b, bp, "port");
        int weight = full ? ctx.integer(b, bp, "weight", 0, 1_000_000, 1) : 1;
        List<HttpFilterSpec> filters = full ? filters(ctx, b, bp, route) : List.of();
        return name == null ? null : new BackendRefSpec(group, kind, ns, name, port, weight, filters);
    }

    private static RouteTimeoutsSpec timeouts(ObjectContext ctx, JsonNode n, String p) {
        JsonNode t = ctx.object(n, p, "timeouts");
        if (t == null) {
            return null;
        }
        String tp = path(p, "timeouts");
        ctx.knownFields(t, tp, TIMEOUTS);
        Duration request = duration(ctx, t, tp, "request");
        Duration backend = duration(ctx, t, tp, "backendRequest");
        // CEL: "backendRequest timeout cannot be longer than request timeout"
        if (request != null && backend != null && !request.isZero() && (backend.isZero() || backend.compareTo(request) > 0)) {
            ctx.error(path(tp, "backendRequest"), message("backendRequest", child(t, "backendRequest").asText(),
                    "at most the request timeout " + child(t, "request").asText()));
        }
        return new RouteTimeoutsSpec(request, backend);
    }

    private static RouteRetrySpec retry(ObjectContext ctx, JsonNode n, String p) {
        JsonNode r = ctx.object(n, p, "retry");
        if (r == null) {
            return null;
        }
        String rp = path(p, "retry");
        ctx.knownFields(r, rp, RETRY);
        Integer attempts = child(r, "attempts") == null ? null : ctx.integer(r, rp, "attempts", 0, Integer.MAX_VALUE, 0);
        List<Integer> codes = new ArrayList<>();
        List<JsonNode> cs = ctx.list(r, rp, "codes");
        for (int i = 0; i < cs.size(); i++) {
            JsonNode c = cs.get(i);
            if (!c.isIntegralNumber() || c.intValue() < 400 || c.intValue() > 599) {
                ctx.error(index(path(rp, "codes"), i), message("codes[" + i + "]", renderJson(c), "400-599"));
            } else {
                codes.add(c.intValue());
            }
        }
        return new RouteRetrySpec(attempts, codes, duration(ctx, r, rp, "backoff"));
    }

    /** A Gateway API duration ({@code 1h30m}, {@code 500ms}, {@code 0s}); null when absent or bad (reported). */
    static Duration duration(ObjectContext ctx, JsonNode parent, String parentPath, String key) {
        String s = ctx.string(parent, parentPath, key);
        if (s == null) {
            return null;
        }
        Duration d = parseDuration(s);
        if (d == null) {
            ctx.error(path(parentPath, key), message(key, s, DURATION_FORMAT));
        }
        return d;
    }

    /** Parses a Gateway API duration, or null when it is not one. */
    static Duration parseDuration(String s) {
        if (!DURATION.matcher(s).matches()) {
            return null;
        }
        Duration d = Duration.ZERO;
        Matcher m = DURATION_PART.matcher(s);
        while (m.find()) {
            long v = Long.parseLong(m.group(1));
            d = d.plus(switch (m.group(2)) {
                case "h" -> Duration.ofHours(v);
                case "m" -> Duration.ofMinutes(v);
                case "s" -> Duration.ofSeconds(v);
                default -> Duration.ofMillis(v);
            });
        }
        return d;
    }

    static Instant creationTimestamp(ObjectContext ctx, JsonNode metadata) {
        String s = ctx.string(metadata, "metadata", "creationTimestamp");
        if (s == null) {
            return null;
        }
        try {
            return Instant.parse(s);
        } catch (DateTimeParseException e) {
            ctx.error("metadata.creationTimestamp", message("creationTimestamp", s, "an RFC 3339 time such as 2024-01-01T00:00:00Z"));
            return null;
        }
    }

    private static String orDefault(String s, String dflt) {
        return s == null ? dflt : s;
    }
}
