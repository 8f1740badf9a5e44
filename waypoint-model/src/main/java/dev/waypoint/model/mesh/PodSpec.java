package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.net.InetAddress;
import java.util.Map;

/**
 * A {@code Pod} as far as the mesh cares.
 *
 * @param serviceAccount {@code spec.serviceAccountName} ({@code default} when absent)
 * @param ip {@code status.podIP}, or null when it has none yet (such a pod is no endpoint)
 * @param ready false only when {@code status.conditions} says {@code Ready=False} or the phase is terminal
 * @param namedPorts container port name to number, for named {@code targetPort}s
 * @param workload the workload it belongs to, derived from {@code ownerReferences} as Istio does
 *        (null: the pod itself)
 */
public record PodSpec(NamespacedName name, Map<String, String> labels, String serviceAccount, InetAddress ip,
                      boolean ready, Map<String, Integer> namedPorts, SourceRef source, WorkloadRef workload) {
    public PodSpec {
        labels = Map.copyOf(labels);
        namedPorts = Map.copyOf(namedPorts);
        if (workload == null) {
            workload = WorkloadRef.pod(name.name());
        }
    }

    /** A pod that is its own workload. */
    public PodSpec(NamespacedName name, Map<String, String> labels, String serviceAccount, InetAddress ip,
                   boolean ready, Map<String, Integer> namedPorts, SourceRef source) {
        this(name, labels, serviceAccount, ip, ready, namedPorts, source, null);
    }

    /** This pod's SPIFFE identity in {@code trustDomain}. */
    public SpiffeId identity(String trustDomain) {
        return new SpiffeId(trustDomain, name.namespace(), serviceAccount);
    }
}
