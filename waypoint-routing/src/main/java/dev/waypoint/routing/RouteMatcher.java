package dev.waypoint.routing;

import com.google.re2j.Pattern;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.request.RequestAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One compiled {@code HTTPRouteMatch}: every present condition must hold (AND). Built once per
 * snapshot (regexes compiled with RE2 semantics, prefixes normalized); {@link #matches} parses
 * nothing but the query string, and that only when a query condition exists.
 */
final class RouteMatcher {
    private final RouteMatchSpec.PathType pathType;
    private final String pathValue; // Exact: as written; PathPrefix: without a trailing '/' ("" for "/")
    private final Pattern pathRegex;
    private final String method;
    private final Value[] headers;
    private final Value[] query;

    private record Value(String name, String exact, Pattern regex) {
        boolean test(String actual) {
            return actual != null && (regex != null ? regex.matches(actual) : exact.equals(actual));
        }
    }

    RouteMatcher(RouteMatchSpec spec) {
        this.pathType = spec.path().type();
        String v = spec.path().value();
        this.pathRegex = pathType == RouteMatchSpec.PathType.REGULAR_EXPRESSION ? Pattern.compile(v) : null;
        // "a trailing '/' in the value is ignored": /abc/ matches /abc, /abc/ and /abc/def
        this.pathValue = pathType == RouteMatchSpec.PathType.PATH_PREFIX && v.endsWith("/")
                ? v.substring(0, v.length() - 1) : v;
        this.method = spec.method();
        // headers: "If multiple entries specify equivalent header names, only the first entry
        // with an equivalent name MUST be considered"; names are case-insensitive
        this.headers = values(spec.headers(), true);
        // query params: names are case-sensitive; the same first-entry rule
        this.query = values(spec.queryParams(), false);
    }

    private static Value[] values(List<RouteMatchSpec.ValueMatch> specs, boolean foldCase) {
        List<Value> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (RouteMatchSpec.ValueMatch m : specs) {
            String name = foldCase ? m.name().toLowerCase(Locale.ROOT) : m.name();
            if (seen.add(name)) {
                out.add(new Value(name, m.value(),
                        m.type() == RouteMatchSpec.ValueType.REGULAR_EXPRESSION ? Pattern.compile(m.value()) : null));
            }
        }
        return out.toArray(new Value[0]);
    }

    /** How many distinct header conditions count for precedence. */
    int headerCount() {
        return headers.length;
    }

    /** How many distinct query conditions count for precedence. */
    int queryCount() {
        return query.length;
    }

    /** The PathPrefix value without its trailing '/', or null for other path types. */
    String prefix() {
        return pathType == RouteMatchSpec.PathType.PATH_PREFIX ? pathValue : null;
    }

    /** Whether {@code request} matches; {@link #matches(RequestAttributes, String, String)} when the path is split already. */
    boolean matches(RequestAttributes request) {
        String full = request.path();
        int q = full.indexOf('?');
        return matches(request, q < 0 ? full : full.substring(0, q), q < 0 ? "" : full.substring(q + 1));
    }

    /**
     * Whether {@code request} matches, given its path without the query and the query string
     * (without '?'), split once per request by the caller.
     */
    boolean matches(RequestAttributes request, String path, String qs) {
        if (!pathMatches(path)) {
            return false;
        }
        if (method != null && !method.equals(request.method())) {
            return false;
        }
        for (Value h : headers) {
            // several values of one header: tested joined with ',' (what Envoy's header matcher sees)
            List<String> all = request.headers().getAll(h.name());
            if (!h.test(all.isEmpty() ? null : all.size() == 1 ? all.get(0) : String.join(",", all))) {
                return false;
            }
        }
        if (query.length > 0) {
            for (Value p : query) {
                if (!p.test(firstQueryValue(qs, p.name()))) {
                    return false;
                }
            }
        }
        return true;
    }

    boolean pathMatches(String path) {
        return switch (pathType) {
            // "Exact and PathPrefix are case-sensitive"
            case EXACT -> path.equals(pathValue);
            // element-wise: /abc matches /abc, /abc/ and /abc/def, not /abcd
            case PATH_PREFIX -> path.startsWith(pathValue)
                    && (path.length() == pathValue.length() || path.charAt(pathValue.length()) == '/');
            case REGULAR_EXPRESSION -> pathRegex.matches(path);
        };
    }

    /** "If multiple query params have the same name, the first value SHOULD be used" (Extended). */
    static String firstQueryValue(String qs, String name) {
        int i = 0;
        while (i <= qs.length()) {
            int amp = qs.indexOf('&', i);
            int end = amp < 0 ? qs.length() : amp;
            int eq = qs.indexOf('=', i);
            int nameEnd = eq < 0 || eq > end ? end : eq;
            if (nameEnd - i == name.length() && qs.startsWith(name, i)) {
                return nameEnd == end ? "" : qs.substring(nameEnd + 1, end);
            }
            if (amp < 0) {
                break;
            }
            i = amp + 1;
        }
        return null;
    }
}
