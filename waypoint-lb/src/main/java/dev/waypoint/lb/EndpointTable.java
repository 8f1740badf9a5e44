package dev.waypoint.lb;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Set;
import java.util.List;
import java.util.Map;

/**
 * Ready endpoints of every Service port, compiled once per snapshot by {@link EndpointCompiler}.
 * Lists are immutable and in a stable order (so round robin is fair across generations).
 */
public final class EndpointTable {
    /** The snapshot key of this part. */
    public static final SnapshotPart<EndpointTable> PART = SnapshotPart.of("endpoints", EndpointTable.class);

    /** A Service port. */
    record Key(NamespacedName service, int port) {}

    private final Map<Key, List<Endpoint>> byServicePort;
    private final Map<NamespacedName, Boolean> meshPods;
    private final Set<HostPort> addresses;
    private final Map<Key, LbPolicy> policies;
    private final MeshConfigSpec mesh;

    EndpointTable(Map<Key, List<Endpoint>> byServicePort, Map<NamespacedName, Boolean> meshPods) {
        this(byServicePort, meshPods, Map.of());
    }

    EndpointTable(Map<Key, List<Endpoint>> byServicePort, Map<NamespacedName, Boolean> meshPods,
                  Map<Key, LbPolicy> policies) {
        this(byServicePort, meshPods, policies, MeshConfigSpec.DEFAULT);
    }

    /** @param mesh the mesh config the policies were compiled under (for the config dump) */
    EndpointTable(Map<Key, List<Endpoint>> byServicePort, Map<NamespacedName, Boolean> meshPods,
                  Map<Key, LbPolicy> policies, MeshConfigSpec mesh) {
        this.mesh = mesh;
        this.byServicePort = byServicePort;
        this.meshPods = meshPods;
        this.policies = policies;
        Set<HostPort> all = new HashSet<>();
        byServicePort.values().forEach(list -> list.forEach(e -> all.add(e.address())));
        this.addresses = Collections.unmodifiableSet(all);
    }

    /** Every endpoint address of every Service port. */
    public Set<HostPort> addresses() {
        return addresses;
    }

    /** Ready endpoints of {@code service}'s port {@code port}; empty if none. */
    public List<Endpoint> endpoints(NamespacedName service, int port) {
        return byServicePort.getOrDefault(new Key(service, port), List.of());
    }

    /** The DestinationRule policy of {@code service}'s port {@code port}, or null (Istio's defaults). */
    LbPolicy policy(NamespacedName service, int port) {
        return policies.isEmpty() ? null : policies.get(new Key(service, port));
    }

    /** For the config dump: {@code "ns/name:port" -> {destinationRule, loadBalancer, outlierDetection}}. */
    public Map<String, Map<String, Object>> debugPolicies() {
        Map<String, Map<String, Object>> out = new java.util.TreeMap<>();
        policies.forEach((k, v) -> out.put(k.service() + ":" + k.port(), v.debug(mesh)));
        return out;
    }

    /**
     * For the config dump: the MeshConfig's upstream defaults in force, for every port without a
     * DestinationRule that sets them ({@code connectTimeout}, {@code tcpKeepalive},
     * {@code localityLbSetting}), each with where it comes from.
     */
    public Map<String, Object> debugDefaults() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("connectTimeout", LbPolicy.connectTimeout(mesh, null));
        m.put("tcpKeepalive", LbPolicy.keepalive(mesh, null));
        TrafficPolicySpec.LocalityLbSpec l = mesh.effectiveLocalityLbSetting();
        m.put("localityLbSetting", (!l.enabled() ? "disabled"
                : l.distribute().isEmpty() ? "failover" + (l.failoverPriority().isEmpty() ? "" : " by " + l.failoverPriority())
                        + (l.failover().isEmpty() ? "" : " " + l.failover()) + " (ports with outlierDetection)"
                : "distribute " + l.distribute())
                + (mesh.localityLbSetting() == null ? " (Istio's default)" : " (MeshConfig)"));
        m.put("h2UpgradePolicy", mesh.h2Upgrade() ? "UPGRADE (MeshConfig): HTTP/1.1 to ports declaring HTTP goes as h2c"
                : "DO_NOT_UPGRADE");
        return m;
    }

    /** Every ready endpoint of every Service port (slow start dates new ones from their first generation). */
    java.util.Collection<List<Endpoint>> allEndpoints() {
        return byServicePort.values();
    }

    /** Whether a pod is in the ambient mesh (reached with HBONE). */
    public boolean inMesh(NamespacedName pod) {
        return meshPods.getOrDefault(pod, false);
    }

    /** For the config dump: {@code "ns/name:port" -> ["10.0.0.1:8080 (hbone ...)"]}. */
    public Map<String, List<String>> debug() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        byServicePort.forEach((k, v) -> out.put(k.service() + ":" + k.port(), v.stream().map(Endpoint::toString).toList()));
        return out;
    }
}
