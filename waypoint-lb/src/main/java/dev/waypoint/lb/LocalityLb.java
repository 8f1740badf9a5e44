package dev.waypoint.lb;

import dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec;
import java.util.List;

/**
 * A Service port's {@code localityLbSetting} over its endpoints, compiled with the snapshot; the
 * {@link LocalityPlan} depends on the waypoint's own locality ({@link UpstreamSettings#locality()}),
 * so it is built on the first pick and kept (one per generation, then every pick reads it).
 */
final class LocalityLb {
    private record Built(Locality self, LocalityPlan plan) {}

    private final LocalityLbSpec spec;
    private final List<Endpoint> endpoints;
    /** The MeshConfig's {@code localityLbSetting} (the port's DestinationRule has none). */
    private final boolean fromMesh;
    private volatile Built built;

    LocalityLb(LocalityLbSpec spec, List<Endpoint> endpoints) {
        this(spec, endpoints, false);
    }

    LocalityLb(LocalityLbSpec spec, List<Endpoint> endpoints, boolean fromMesh) {
        this.spec = spec;
        this.endpoints = endpoints;
        this.fromMesh = fromMesh;
    }

    /** Whether the setting is the MeshConfig's rather than a DestinationRule's. */
    boolean fromMesh() {
        return fromMesh;
    }

    LocalityLbSpec spec() {
        return spec;
    }

    /** The plan for a waypoint in {@code self}, or null when locality changes nothing here. */
    LocalityPlan plan(Locality self) {
        Built b = built;
        if (b == null || !b.self().equals(self)) {
            b = new Built(self, LocalityPlan.of(spec, self, endpoints));
            built = b;
        }
        return b.plan();
    }

    String describe() {
        return (spec.distribute().isEmpty()
                ? "failover" + (spec.failoverPriority().isEmpty() ? "" : " by " + spec.failoverPriority())
                        + (spec.failover().isEmpty() ? "" : " " + spec.failover())
                : "distribute " + spec.distribute()) + (fromMesh ? " (MeshConfig)" : "");
    }
}
