package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.net.InetAddress;
import java.util.List;

/**
 * An {@code EndpointSlice} (discovery.k8s.io/v1), used for Services without a selector.
 *
 * @param service the owning Service, from label {@code kubernetes.io/service-name}
 */
public record EndpointSliceSpec(NamespacedName name, NamespacedName service, List<Endpoint> endpoints,
                                List<Port> ports, SourceRef source) {
    public EndpointSliceSpec {
        endpoints = List.copyOf(endpoints);
        ports = List.copyOf(ports);
    }

    /**
     * One endpoint.
     *
     * @param pod {@code targetRef} when it names a Pod, else null
     */
    public record Endpoint(List<InetAddress> addresses, boolean ready, NamespacedName pod) {
        public Endpoint {
            addresses = List.copyOf(addresses);
        }
    }

    /** One port; {@code name} matches the Service port's name (empty when unnamed). */
    public record Port(String name, int port, String appProtocol) {}
}
