package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;

/**
 * A {@code ServiceEntry} ({@code networking.istio.io/v1}, {@code v1beta1}).
 *
 * @param labels {@code metadata.labels} (where {@code istio.io/use-waypoint} binds it)
 * @param hosts {@code hosts}, at least one
 * @param addresses {@code addresses}: the VIPs a client addresses (IP literals; CIDRs other than
 *        single addresses are refused by the translator)
 * @param ports {@code ports}, as Service ports: {@code name}, {@code number}, {@code targetPort}
 *        (defaults to the number) and {@code protocol} in place of {@code appProtocol}
 * @param endpoints {@code endpoints} (static workloads), or empty
 * @param workloadSelector {@code workloadSelector.labels}, or null when it has none
 * @param exportTo {@code exportTo} as written: {@code .} (its own namespace), {@code *} (every
 *        namespace), {@code ~} (none) or namespace names; empty: every namespace (meshConfig's
 *        {@code defaultServiceExportTo} default)
 */
public record ServiceEntrySpec(NamespacedName name, Map<String, String> labels, List<String> hosts,
                               List<InetAddress> addresses, List<ServicePortSpec> ports, Location location,
                               Resolution resolution, List<WorkloadEndpointSpec> endpoints,
                               Map<String, String> workloadSelector, SourceRef source, List<String> exportTo) {
    /** Exported everywhere (no {@code exportTo}). */
    public ServiceEntrySpec(NamespacedName name, Map<String, String> labels, List<String> hosts,
                            List<InetAddress> addresses, List<ServicePortSpec> ports, Location location,
                            Resolution resolution, List<WorkloadEndpointSpec> endpoints,
                            Map<String, String> workloadSelector, SourceRef source) {
        this(name, labels, hosts, addresses, ports, location, resolution, endpoints, workloadSelector, source, List.of());
    }

    public ServiceEntrySpec {
        exportTo = exportTo == null ? List.of() : List.copyOf(exportTo);
        labels = Map.copyOf(labels);
        hosts = List.copyOf(hosts);
        addresses = List.copyOf(addresses);
        ports = List.copyOf(ports);
        endpoints = List.copyOf(endpoints);
        workloadSelector = workloadSelector == null ? null : Map.copyOf(workloadSelector);
    }

    /** {@code location}: whether the endpoints are in the mesh (HBONE) or outside it (plaintext). */
    public enum Location { MESH_EXTERNAL, MESH_INTERNAL }

    /**
     * {@code resolution}: how endpoints are found. {@code DNS_ROUND_ROBIN} is read as {@code DNS}
     * (every resolved address is an endpoint); {@code DYNAMIC_DNS} is refused by the translator.
     */
    public enum Resolution { NONE, STATIC, DNS }

    /** The first host: the name used in logs, metrics and the config dump. */
    public String host() {
        return hosts.isEmpty() ? name.toString() : hosts.get(0);
    }

    /**
     * Whether callers from {@code namespace} see this entry ({@code exportTo}); null (a caller
     * without a mesh identity) sees only entries exported everywhere.
     */
    public boolean exportedTo(String namespace) {
        if (exportTo.isEmpty()) {
            return true;
        }
        for (String e : exportTo) {
            if (e.equals("*") || namespace != null && (e.equals(namespace) || e.equals(".") && namespace.equals(name.namespace()))) {
                return true;
            }
        }
        return false;
    }

    /** The port entry for port {@code number}, or null. */
    public ServicePortSpec port(int number) {
        for (ServicePortSpec p : ports) {
            if (p.port() == number) {
                return p;
            }
        }
        return null;
    }
}
