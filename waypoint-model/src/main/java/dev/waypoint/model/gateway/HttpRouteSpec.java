package dev.waypoint.model.gateway;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A validated {@code gateway.networking.k8s.io/v1} {@code HTTPRoute}. Only what the mesh (GAMMA)
 * profile reads is kept: {@code hostnames} are dropped at translation, because for a Service
 * parent "GAMMA implementations SHOULD NOT infer any behavior from the hostnames field"
 * (GEP-1294) and Istio ignores them.
 *
 * @param creationTimestamp {@code metadata.creationTimestamp}, or null when the manifest has none
 *        (it then sorts after every route that has one; ties go to namespace/name)
 */
public record HttpRouteSpec(NamespacedName name, Instant creationTimestamp, List<ParentRefSpec> parentRefs,
                            List<RouteRuleSpec> rules, SourceRef source) {
    public HttpRouteSpec {
        Objects.requireNonNull(name, "name");
        parentRefs = List.copyOf(parentRefs);
        rules = List.copyOf(rules);
        Objects.requireNonNull(source, "source");
    }
}
