package dev.waypoint.routing;

import com.google.re2j.Pattern;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.request.HeadersView;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A rule's {@code CORS} filter, compiled once: origin matchers built as Istio converts
 * {@code HTTPCORSFilter.allowOrigins} ({@code conversion.go createCorsFilter}: {@code *} alone →
 * any well-formed origin, no {@code *} → exact, one trailing {@code *} → prefix, else a regular
 * expression where {@code *} spans any characters, several labels included), and the answers of
 * Envoy's CORS filter ({@code source/extensions/filters/http/cors/cors_filter.cc}):
 * <ul>
 *   <li>a preflight ({@code OPTIONS} with {@code Origin} and {@code Access-Control-Request-Method})
 *       is answered by the waypoint, 200 with an empty body, never forwarded (Istio sets
 *       {@code unmatchedPreflights: IGNORE} for Gateway API routes); it carries the CORS headers
 *       only when the origin is allowed;</li>
 *   <li>another request from an allowed origin goes on, and its response gets
 *       {@code Access-Control-Allow-Origin} (the request's origin),
 *       {@code Access-Control-Allow-Credentials} and {@code Access-Control-Expose-Headers};</li>
 *   <li>a request from an origin not allowed goes on untouched.</li>
 * </ul>
 * Wildcards and credentials (HTTPCORSFilter docs): with {@code allowCredentials: true} a
 * {@code *} in allowMethods / allowHeaders is answered with the request's
 * {@code Access-Control-Request-Method} / {@code -Headers} (browsers do not read {@code *} as a
 * wildcard on credentialed requests), and a {@code *} in exposeHeaders is not sent. The origin is
 * always echoed, never {@code *}, as Envoy does. Immutable.
 */
final class CorsPolicy {
    static final String ORIGIN = "origin";
    static final String REQUEST_METHOD = "access-control-request-method";
    static final String REQUEST_HEADERS = "access-control-request-headers";
    static final String ALLOW_ORIGIN = "access-control-allow-origin";
    static final String ALLOW_CREDENTIALS = "access-control-allow-credentials";
    static final String ALLOW_METHODS = "access-control-allow-methods";
    static final String ALLOW_HEADERS = "access-control-allow-headers";
    static final String EXPOSE_HEADERS = "access-control-expose-headers";
    static final String MAX_AGE = "access-control-max-age";
    private static final Pattern ANY_ORIGIN = Pattern.compile("[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s?#]+");

    private final List<String> exact = new ArrayList<>();
    private final List<String> prefixes = new ArrayList<>();
    private final List<Pattern> patterns = new ArrayList<>();
    private final boolean credentials;
    private final String methods;
    private final boolean anyMethod;
    private final String headers;
    private final boolean anyHeader;
    private final String expose;
    private final String maxAge;

    CorsPolicy(HttpFilterSpec.Cors spec) {
        for (String o : spec.allowOrigins()) {
            if (o.equals("*")) {
                patterns.add(ANY_ORIGIN);
            } else if (o.indexOf('*') < 0) {
                exact.add(o);
            } else if (o.indexOf('*') == o.length() - 1) {
                prefixes.add(o.substring(0, o.length() - 1));
            } else {
                List<String> quoted = new ArrayList<>();
                for (String part : o.split("\\*", -1)) {
                    quoted.add(part.isEmpty() ? "" : Pattern.quote(part));
                }
                patterns.add(Pattern.compile(String.join(".*", quoted)));
            }
        }
        this.credentials = spec.allowCredentials();
        this.anyMethod = spec.allowMethods().contains("*");
        this.methods = spec.allowMethods().isEmpty() ? null : String.join(", ", spec.allowMethods());
        this.anyHeader = spec.allowHeaders().contains("*");
        this.headers = spec.allowHeaders().isEmpty() ? null : String.join(", ", spec.allowHeaders());
        boolean anyExpose = spec.exposeHeaders().contains("*");
        this.expose = spec.exposeHeaders().isEmpty() || (anyExpose && credentials) ? null : String.join(", ", spec.exposeHeaders());
        this.maxAge = Integer.toString(spec.maxAge());
    }

    /** Whether {@code origin} is one of the allowed origins. */
    boolean allows(String origin) {
        if (exact.contains(origin)) {
            return true;
        }
        for (String p : prefixes) {
            if (origin.startsWith(p)) {
                return true;
            }
        }
        for (Pattern p : patterns) {
            if (p.matches(origin)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the request is a CORS preflight: {@code OPTIONS} with an origin and a non-empty requested method. */
    static boolean preflight(String method, HeadersView request) {
        String requested = request.get(REQUEST_METHOD);
        return method.equals("OPTIONS") && request.get(ORIGIN) != null && requested != null && !requested.isEmpty();
    }

    /** The headers of the waypoint's answer to a preflight from {@code origin} (none when it is not allowed). */
    Map<String, String> preflightHeaders(String origin, HeadersView request) {
        if (!allows(origin)) {
            return Map.of();
        }
        Map<String, String> h = new LinkedHashMap<>();
        h.put(ALLOW_ORIGIN, origin);
        if (credentials) {
            h.put(ALLOW_CREDENTIALS, "true");
        }
        if (methods != null) {
            h.put(ALLOW_METHODS, anyMethod && credentials ? request.get(REQUEST_METHOD) : methods);
        }
        if (headers != null) {
            String requested = request.get(REQUEST_HEADERS);
            if (!(anyHeader && credentials)) {
                h.put(ALLOW_HEADERS, headers);
            } else if (requested != null && !requested.isEmpty()) {
                h.put(ALLOW_HEADERS, requested);
            }
        }
        if (expose != null) {
            h.put(EXPOSE_HEADERS, expose);
        }
        h.put(MAX_AGE, maxAge);
        return h;
    }

    /** Adds the CORS headers of an actual (non-preflight) request's response from the allowed {@code origin}. */
    void addResponseHeaders(String origin, HeadersView response) {
        response.set(ALLOW_ORIGIN, origin);
        if (credentials) {
            response.set(ALLOW_CREDENTIALS, "true");
        }
        if (expose != null) {
            response.set(EXPOSE_HEADERS, expose);
        }
    }

    @Override
    public String toString() {
        return "CORS origins " + exact + prefixes.stream().map(p -> p + "*").toList() + patterns.stream().map(Pattern::pattern).toList()
                + (credentials ? " with credentials" : "");
    }
}
