package dev.waypoint.model.mesh;

import java.net.InetAddress;
import java.util.Map;

/**
 * The workload part shared by a {@code WorkloadEntry}'s spec and a {@code ServiceEntry}'s
 * {@code endpoints[]} entry ({@code networking.istio.io/v1} {@code WorkloadEntry} message).
 *
 * @param address {@code address}: an IP literal, or a DNS name (ServiceEntries with {@code resolution: DNS})
 * @param ip the address parsed when it is an IP literal, else null
 * @param ports {@code ports}: service port name to the port this workload listens on (overrides the
 *        ServiceEntry port's {@code targetPort})
 * @param labels {@code labels} (what a {@code workloadSelector} matches)
 * @param serviceAccount {@code serviceAccount}, or null (then {@code default}): the identity of a
 *        {@code MESH_INTERNAL} endpoint
 * @param weight {@code weight} (0 when unset: equal shares)
 */
public record WorkloadEndpointSpec(String address, InetAddress ip, Map<String, Integer> ports, Map<String, String> labels,
                                   String serviceAccount, int weight) {
    public WorkloadEndpointSpec {
        ports = Map.copyOf(ports);
        labels = Map.copyOf(labels);
    }

    /** This workload's SPIFFE identity: its service account in {@code namespace}. */
    public SpiffeId identity(String trustDomain, String namespace) {
        return new SpiffeId(trustDomain, namespace, serviceAccount == null ? "default" : serviceAccount);
    }
}
