package dev.waypoint.routing;

import dev.waypoint.model.gateway.RouteMatchSpec;
import java.time.Instant;
import java.util.Comparator;

/**
 * The precedence of one {@code HTTPRouteMatch} among every match of every route attached to a
 * Service port, fixed at compile time (STYLE rule 4). Smaller sorts first and wins. Gateway API
 * ({@code HTTPRouteRule.Matches}): "Proxy or Load Balancer routing configuration generated from
 * HTTPRoutes MUST prioritize matches based on the following criteria, continuing on ties":
 * <ol>
 *   <li>"Exact" path match;</li>
 *   <li>"Prefix" path match with largest number of characters;</li>
 *   <li>Method match;</li>
 *   <li>Largest number of header matches;</li>
 *   <li>Largest number of query param matches.</li>
 * </ol>
 * "If ties still exist across multiple Routes, matching precedence MUST be determined in order of
 * the following criteria, continuing on ties: The oldest Route based on creation timestamp. The
 * Route appearing first in alphabetical order by "{namespace}/{name}". If ties still exist within
 * an HTTPRoute, matching precedence MUST be granted to the FIRST matching rule (in list order)".
 * "Precedence of RegularExpression path matches is implementation-specific": as Istio
 * ({@code getURIRank}), a regex ranks after every PathPrefix, longer regexes first.
 *
 * @param created the route's creation timestamp, null (no timestamp) sorts after every timestamp
 * @param routeKey {@code namespace/name}
 */
record MatchSummary(RouteMatchSpec.PathType pathType, int pathLength, boolean method, int headers, int queryParams,
                    Instant created, String routeKey, int ruleIndex, int matchIndex) implements Comparable<MatchSummary> {
    private static final Comparator<MatchSummary> ORDER = Comparator
            .comparingInt((MatchSummary m) -> rank(m.pathType))
            .thenComparing(MatchSummary::pathLength, Comparator.reverseOrder())
            .thenComparing(MatchSummary::method, Comparator.reverseOrder())
            .thenComparing(MatchSummary::headers, Comparator.reverseOrder())
            .thenComparing(MatchSummary::queryParams, Comparator.reverseOrder())
            .thenComparing(MatchSummary::created, Comparator.nullsLast(Comparator.naturalOrder()))
            .thenComparing(MatchSummary::routeKey)
            .thenComparingInt(MatchSummary::ruleIndex)
            .thenComparingInt(MatchSummary::matchIndex);

    private static int rank(RouteMatchSpec.PathType t) {
        return switch (t) {
            case EXACT -> 0;
            case PATH_PREFIX -> 1;
            case REGULAR_EXPRESSION -> 2;
        };
    }

    /**
     * A {@code GRPCRouteMatch}. Gateway API ({@code GRPCRouteRule.Matches}): "precedence MUST be
     * given to the rule with the largest number of: Characters in a matching non-wildcard hostname.
     * Characters in a matching hostname. Characters in a matching service. Characters in a
     * matching method. Header matches." (hostnames mean nothing for a Service parent), then the
     * oldest route, then namespace/name, then rule order. Encoded as a PathPrefix entry whose
     * length orders service characters before method characters, so gRPC entries rank among
     * themselves exactly so; against HTTPRoute entries on the same port (an order no spec gives)
     * they rank as prefixes of that length: below Exact paths, above short prefixes. A
     * RegularExpression service or method counts no characters (its precedence is
     * implementation-specific) and so ranks after every exact one.
     *
     * @param method the method match, or null for a match without one
     */
    static MatchSummary grpc(RouteMatchSpec.GrpcMethodMatch method, int headers, Instant created, String routeKey,
                             int ruleIndex, int matchIndex) {
        int service = 0;
        int name = 0;
        if (method != null && method.type() == RouteMatchSpec.ValueType.EXACT) {
            service = method.service() == null ? 0 : method.service().length();
            name = method.method() == null ? 0 : method.method().length();
        }
        // a service is at most 1024 characters long and a method 1024 (CRD MaxLength): service first
        int length = Math.min(service, 1024) * 2048 + Math.min(name, 1024);
        return new MatchSummary(RouteMatchSpec.PathType.PATH_PREFIX, length, false, headers, 0, created, routeKey, ruleIndex,
                matchIndex);
    }

    @Override
    public int compareTo(MatchSummary o) {
        return ORDER.compare(this, o);
    }
}
