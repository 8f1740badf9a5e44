package dev.waypoint.listener.target;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.request.Target;
import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which addresses this waypoint serves: every bound Service VIP:port and every bound Pod IP,
 * plus, for addresses it knows but does not serve, why (so a refusal can say it). Built once per
 * snapshot by {@link TargetTableCompiler}; read-only afterwards.
 */
public final class TargetTable {
    /** The snapshot key of this part. */
    public static final SnapshotPart<TargetTable> PART = SnapshotPart.of("targets", TargetTable.class);

    final Map<InetAddress, Map<Integer, Target.ServiceTarget>> services;
    final Map<InetAddress, PodSpec> pods;
    final Map<InetAddress, Map<Integer, dev.waypoint.model.mesh.AppProtocol>> podProtocols;
    final Map<InetAddress, String> notBound;
    final GatewaySpec self;
    final String waypointFor;
    /** Bound ServiceEntries' addresses and ports (a Service VIP wins over a ServiceEntry address). */
    final Map<InetAddress, Map<Integer, Target.ServiceEntryTarget>> serviceEntries;

    TargetTable(Map<InetAddress, Map<Integer, Target.ServiceTarget>> services, Map<InetAddress, PodSpec> pods,
                Map<InetAddress, Map<Integer, dev.waypoint.model.mesh.AppProtocol>> podProtocols,
                Map<InetAddress, String> notBound, GatewaySpec self, String waypointFor) {
        this(services, pods, podProtocols, notBound, self, waypointFor, Map.of());
    }

    TargetTable(Map<InetAddress, Map<Integer, Target.ServiceTarget>> services, Map<InetAddress, PodSpec> pods,
                Map<InetAddress, Map<Integer, dev.waypoint.model.mesh.AppProtocol>> podProtocols,
                Map<InetAddress, String> notBound, GatewaySpec self, String waypointFor,
                Map<InetAddress, Map<Integer, Target.ServiceEntryTarget>> serviceEntries) {
        this.serviceEntries = serviceEntries;
        this.services = services;
        this.pods = pods;
        this.podProtocols = podProtocols;
        this.notBound = notBound;
        this.self = self;
        this.waypointFor = waypointFor;
    }

    /** The Gateway this process is, or null if it is not among the manifests. */
    public GatewaySpec self() {
        return self;
    }

    /** {@code istio.io/waypoint-for} in force: service, workload, all or none. */
    public String waypointFor() {
        return waypointFor;
    }

    /** Bound services' VIP:port, for the config dump ({@code "10.0.0.1:80" -> "ns/name"}). */
    public Map<String, String> debugServices() {
        Map<String, String> out = new LinkedHashMap<>();
        services.forEach((ip, ports) -> ports.forEach((port, t) -> out.put(t.authority().authority(),
                t.service().name() + " (" + t.port().protocol().name().toLowerCase(java.util.Locale.ROOT) + ")")));
        return out;
    }

    /** Bound ServiceEntries' address:port, for the config dump ({@code "240.0.0.1:80" -> "ns/name api.example.com (http)"}). */
    public Map<String, String> debugServiceEntries() {
        Map<String, String> out = new LinkedHashMap<>();
        serviceEntries.forEach((ip, ports) -> ports.forEach((port, t) -> out.put(t.authority().authority(),
                t.entry().name() + " " + t.entry().host() + " (" + t.port().protocol().name().toLowerCase(java.util.Locale.ROOT)
                        + ", " + t.entry().resolution().name().toLowerCase(java.util.Locale.ROOT) + ")")));
        return out;
    }

    /** Bound pods' IPs, for the config dump ({@code "10.1.0.4" -> "ns/name"}). */
    public Map<String, String> debugWorkloads() {
        Map<String, String> out = new LinkedHashMap<>();
        pods.forEach((ip, pod) -> out.put(ip.getHostAddress(), pod.name().toString()));
        return out;
    }

    /** The Services bound to this waypoint (each with at least one port served here). */
    public java.util.Set<dev.waypoint.model.mesh.NamespacedName> boundServices() {
        java.util.Set<dev.waypoint.model.mesh.NamespacedName> out = new java.util.LinkedHashSet<>();
        services.values().forEach(ports -> ports.values().forEach(t -> out.add(t.service().name())));
        return out;
    }

    /** The ServiceEntries bound to this waypoint (each with at least one address:port served here). */
    public java.util.Set<dev.waypoint.model.mesh.NamespacedName> boundServiceEntries() {
        java.util.Set<dev.waypoint.model.mesh.NamespacedName> out = new java.util.LinkedHashSet<>();
        serviceEntries.values().forEach(ports -> ports.values().forEach(t -> out.add(t.entry().name())));
        return out;
    }

    /** Known addresses that are not bound here, with the reason. */
    public Map<String, String> debugNotBound() {
        Map<String, String> out = new LinkedHashMap<>();
        notBound.forEach((ip, why) -> out.put(ip.getHostAddress(), why));
        return out;
    }

    /** Number of bound service ports and pods (for logs). */
    public List<Integer> counts() {
        int ports = 0;
        for (Map<Integer, Target.ServiceTarget> m : services.values()) {
            ports += m.size();
        }
        return List.of(ports, pods.size());
    }
}
