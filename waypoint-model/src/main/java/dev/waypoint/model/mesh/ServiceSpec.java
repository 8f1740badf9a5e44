package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;

/**
 * A {@code Service}.
 *
 * @param clusterIps the VIPs ({@code spec.clusterIPs}, else {@code spec.clusterIP}); empty when headless
 * @param selector pod selector, or null when the Service has none (endpoints come from EndpointSlices)
 */
public record ServiceSpec(NamespacedName name, Map<String, String> labels, List<InetAddress> clusterIps,
                          List<ServicePortSpec> ports, Map<String, String> selector, SourceRef source) {
    public ServiceSpec {
        labels = Map.copyOf(labels);
        clusterIps = List.copyOf(clusterIps);
        ports = List.copyOf(ports);
        selector = selector == null ? null : Map.copyOf(selector);
    }

    /** {@code name.namespace.svc.<domain>}. */
    public String hostname(String clusterDomain) {
        return name.name() + "." + name.namespace() + ".svc." + clusterDomain;
    }

    /** The port entry for service port {@code port}, or null. */
    public ServicePortSpec port(int port) {
        for (ServicePortSpec p : ports) {
            if (p.port() == port) {
                return p;
            }
        }
        return null;
    }
}
