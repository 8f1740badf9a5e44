package dev.waypoint.routing;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RetryPolicy;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The compiled HTTPRoutes of one snapshot, per Service port (the GAMMA parent) or ServiceEntry
 * port ({@link PortKey}). Immutable;
 * matchers were built and ranked once by {@link HttpRouteCompiler}, {@link #find} only walks a
 * sorted list ("first match wins", in {@link MatchSummary} order).
 */
public final class RouteTable {
    /** The snapshot part the {@code route} stage reads. */
    public static final SnapshotPart<RouteTable> PART = SnapshotPart.of("routes", RouteTable.class);
    private static final String ENTRY_PREFIX = "ServiceEntry ";

    private final Map<PortKey, PortRoutes> byPort;
    private final RetryPolicy defaultRetry;
    /** Whether any ServiceEntry port has routes: without, a ServiceEntry request builds no key. */
    private final boolean entryRoutes;

    RouteTable(Map<PortKey, PortRoutes> byPort, RetryPolicy defaultRetry) {
        this.byPort = Map.copyOf(byPort);
        this.defaultRetry = defaultRetry;
        this.entryRoutes = byPort.keySet().stream().anyMatch(PortKey::entry);
    }

    /**
     * Where routes attach: a Service's port, or a ServiceEntry's ({@code entry}), kept apart from a
     * Service of the same name (as {@link L4RouteTable.Key} does). A record, so a request's lookup
     * hashes a name and a number instead of building a string; {@link #toString} is the form
     * {@code config_dump} shows ({@code ns/name:port}, {@code ServiceEntry ns/name:port}).
     */
    record PortKey(boolean entry, NamespacedName name, int port) {
        @Override
        public String toString() {
            return entry ? entryKey(name, port) : key(name, port);
        }
    }

    /**
     * The retry policy of default routes (no HTTPRoute applies) and of rules without a
     * {@code retry}: the mesh config's {@code defaultHttpRetryPolicy}, else Istio's default.
     */
    public RetryPolicy defaultRetry() {
        return defaultRetry;
    }

    static String key(NamespacedName service, int port) {
        return service + ":" + port;
    }

    /**
     * The key of a ServiceEntry's port: kept apart from a Service of the same name (as
     * {@link L4RouteTable.Key} does), and shown this way in {@code config_dump}.
     */
    static String entryKey(NamespacedName entry, int port) {
        return ENTRY_PREFIX + entry + ":" + port;
    }

    /** The routes attached to {@code service}'s port {@code port}, or null when none is (default routing). */
    PortRoutes routes(NamespacedName service, int port) {
        return byPort.get(new PortKey(false, service, port));
    }

    /** The routes attached to ServiceEntry {@code entry}'s port {@code port}, or null when none is (default routing). */
    PortRoutes entryRoutes(NamespacedName entry, int port) {
        return entryRoutes ? byPort.get(new PortKey(true, entry, port)) : null;
    }

    /** One line per Service port and match, in precedence order: the golden form for tests and {@code config_dump}. */
    public String toDebugString() {
        StringBuilder sb = new StringBuilder();
        if (!defaultRetry.equals(RetryPolicy.ISTIO_DEFAULT)) {
            sb.append("default retry: ").append(defaultRetry).append('\n');
        }
        byName().forEach((k, v) -> v.render(k, sb));
        return sb.toString();
    }

    /**
     * {@code namespace/service:port -> ranked entries} (a ServiceEntry's port:
     * {@code ServiceEntry namespace/name:port}), one line each, for {@code config_dump}.
     */
    public Map<String, List<String>> debug() {
        Map<String, List<String>> out = new java.util.LinkedHashMap<>();
        byName().forEach((k, v) -> {
            StringBuilder sb = new StringBuilder();
            v.render("", sb);
            out.put(k, sb.toString().lines().map(l -> l.substring(" from ".length())).map(l -> "from " + l).toList());
        });
        return out;
    }

    /** The routes by their keys' shown form, sorted (the order of the debug forms). */
    private TreeMap<String, PortRoutes> byName() {
        TreeMap<String, PortRoutes> sorted = new TreeMap<>();
        byPort.forEach((k, v) -> sorted.put(k.toString(), v));
        return sorted;
    }

    /** One ranked match and the rule it selects. */
    record Entry(MatchSummary summary, RouteMatcher matcher, CompiledRule rule) {}

    /**
     * The routes of one Service port: the producer routes (in the Service's namespace, for every
     * caller) and, per caller namespace, the consumer routes declared there.
     */
    record PortRoutes(List<Entry> producer, Map<String, List<Entry>> consumers) {
        PortRoutes {
            producer = List.copyOf(producer);
            consumers = Map.copyOf(consumers);
        }

        /**
         * The winning entry for a request from {@code callerNamespace} (null when unknown), or
         * null when routes exist and none matches (404). GEP-1294: a consumer route "only affects
         * traffic from the consumer namespace"; when the caller's namespace has consumer routes
         * for this Service, they are used instead of the producer routes.
         */
        Entry find(RequestAttributes request, String callerNamespace) {
            List<Entry> entries = callerNamespace == null ? null : consumers.get(callerNamespace);
            if (entries == null) {
                entries = producer;
            }
            String full = request.path();
            int q = full.indexOf('?');
            String path = q < 0 ? full : full.substring(0, q); // split once, not per entry
            String query = q < 0 ? "" : full.substring(q + 1);
            for (Entry e : entries) {
                if (e.matcher().matches(request, path, query)) {
                    return e;
                }
            }
            return null;
        }

        /** Whether a caller from {@code callerNamespace} sees any route here (else: default routing). */
        boolean appliesTo(String callerNamespace) {
            return !producer.isEmpty() || (callerNamespace != null && consumers.containsKey(callerNamespace));
        }

        void render(String key, StringBuilder sb) {
            for (Entry e : producer) {
                line(sb, key, "*", e);
            }
            new TreeMap<>(consumers).forEach((ns, list) -> list.forEach(e -> line(sb, key, ns, e)));
        }

        private static void line(StringBuilder sb, String key, String callers, Entry e) {
            MatchSummary s = e.summary();
            sb.append(key).append(" from ").append(callers).append(": ").append(s.pathType()).append(' ')
                    .append(s.pathLength()).append(s.method() ? " method" : "").append(" h").append(s.headers())
                    .append(" q").append(s.queryParams()).append(" -> ").append(e.rule().routeName());
            if (e.rule().invalid() != null) {
                sb.append(" (500: ").append(e.rule().invalid()).append(')');
            }
            sb.append('\n');
        }
    }
}
