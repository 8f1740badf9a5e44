package dev.waypoint.model.gateway;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A validated {@code gateway.networking.k8s.io/v1} {@code HTTPRoute}, or a {@code GRPCRoute} in the
 * same shape ({@link #kind}): a GRPCRoute rule is an HTTPRoute rule whose method matches became path
 * matches on {@code /<service>/<method>} (as Istio converts both to one VirtualService), so both
 * kinds on one Service are ranked and served by one route table. Only what the mesh (GAMMA)
 * profile reads is kept: {@code hostnames} are dropped at translation, because for a Service
 * parent "GAMMA implementations SHOULD NOT infer any behavior from the hostnames field"
 * (GEP-1294) and Istio ignores them.
 *
 * @param creationTimestamp {@code metadata.creationTimestamp}, or null when the manifest has none
 *        (it then sorts after every route that has one; ties go to namespace/name)
 */
public record HttpRouteSpec(NamespacedName name, Instant creationTimestamp, List<ParentRefSpec> parentRefs,
                            List<RouteRuleSpec> rules, SourceRef source, String kind) {
    /** {@code HTTPRoute}. */
    public static final String HTTP_ROUTE = "HTTPRoute";
    /** {@code GRPCRoute}. */
    public static final String GRPC_ROUTE = "GRPCRoute";

    public HttpRouteSpec {
        Objects.requireNonNull(name, "name");
        parentRefs = List.copyOf(parentRefs);
        rules = List.copyOf(rules);
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(kind, "kind");
    }

    /** An {@code HTTPRoute}. */
    public HttpRouteSpec(NamespacedName name, Instant creationTimestamp, List<ParentRefSpec> parentRefs,
                         List<RouteRuleSpec> rules, SourceRef source) {
        this(name, creationTimestamp, parentRefs, rules, source, HTTP_ROUTE);
    }

    /** Whether this is a {@code GRPCRoute} (its matches carry {@link RouteMatchSpec#grpcMethod()}). */
    public boolean grpc() {
        return kind.equals(GRPC_ROUTE);
    }
}
