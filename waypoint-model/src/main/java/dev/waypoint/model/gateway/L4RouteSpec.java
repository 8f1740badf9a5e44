package dev.waypoint.model.gateway;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A {@code TCPRoute} or {@code TLSRoute} ({@code gateway.networking.k8s.io/v1alpha2}; TLSRoute
 * also {@code v1alpha3}): routes of a connection, not of requests.
 *
 * @param creationTimestamp {@code metadata.creationTimestamp}, or null (sorts last)
 * @param hostnames TLSRoute {@code hostnames} (SNI names, exact or {@code *.} wildcards); empty for TCPRoute
 * @param rules each rule's weighted backendRefs
 */
public record L4RouteSpec(Kind kind, NamespacedName name, Instant creationTimestamp, List<ParentRefSpec> parentRefs,
                          List<String> hostnames, List<Rule> rules, SourceRef source) {
    public L4RouteSpec {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
        parentRefs = List.copyOf(parentRefs);
        hostnames = List.copyOf(hostnames);
        rules = List.copyOf(rules);
    }

    /** Which route kind. */
    public enum Kind {
        TCP("TCPRoute"), TLS("TLSRoute");

        private final String kindName;

        Kind(String kindName) {
            this.kindName = kindName;
        }

        /** {@code TCPRoute} or {@code TLSRoute}. */
        public String kindName() {
            return kindName;
        }
    }

    /** One {@code rules[]} entry: {@code name} (or null) and its backendRefs (filters are always empty). */
    public record Rule(String name, List<BackendRefSpec> backendRefs) {
        public Rule {
            backendRefs = List.copyOf(backendRefs);
        }
    }
}
