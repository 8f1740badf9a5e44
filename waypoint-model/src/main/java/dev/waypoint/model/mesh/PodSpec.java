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
 *        (the EndpointSlice controller's {@code serving}); see {@link #healthy()} for what makes an endpoint
 * @param namedPorts container port name to number, for named {@code targetPort}s
 * @param workload the workload it belongs to, derived from {@code ownerReferences} as Istio does
 *        (null: the pod itself)
 * @param terminating {@code metadata.deletionTimestamp} is set: the pod is shutting down
 * @param hostNetwork {@code spec.hostNetwork: true}: the pod shares its node's network namespace
 * @param sidecar the {@code sidecar.istio.io/status} annotation is present: Istio injected a sidecar
 * @param ambientRedirected the {@code ambient.istio.io/redirection} annotation is {@code enabled}: the
 *        istio-cni node agent captured the pod for its node's ztunnel
 */
public record PodSpec(NamespacedName name, Map<String, String> labels, String serviceAccount, InetAddress ip,
                      boolean ready, Map<String, Integer> namedPorts, SourceRef source, WorkloadRef workload,
                      boolean terminating, boolean hostNetwork, boolean sidecar, boolean ambientRedirected) {
    /** The label that puts a pod, or every pod of a namespace, in the ambient mesh. */
    public static final String DATAPLANE_MODE = "istio.io/dataplane-mode";

    public PodSpec {
        labels = Map.copyOf(labels);
        namedPorts = Map.copyOf(namedPorts);
        if (workload == null) {
            workload = WorkloadRef.pod(name.name());
        }
    }

    /** A running pod with a network namespace of its own, no sidecar and no CNI annotation. */
    public PodSpec(NamespacedName name, Map<String, String> labels, String serviceAccount, InetAddress ip,
                   boolean ready, Map<String, Integer> namedPorts, SourceRef source, WorkloadRef workload) {
        this(name, labels, serviceAccount, ip, ready, namedPorts, source, workload, false, false, false, false);
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

    /**
     * Whether new requests may go to this pod: ready and not terminating.
     *
     * <p>Istio (pilot/pkg/serviceregistry/ambient/workloads.go): "Kubernetes has Ready, Serving, and
     * Terminating. We only have a boolean": {@code if !IsPodReady(p) || p.DeletionTimestamp != nil
     * { status = UNHEALTHY }}. The EndpointSlice controller likewise writes {@code ready: false}
     * for a terminating pod ({@code ready} = serving and not terminating).
     */
    public boolean healthy() {
        return ready && !terminating;
    }

    /**
     * Whether this pod is in the ambient mesh, i.e. reached over HBONE through its node's ztunnel.
     * The rules in order, first match wins:
     * <ol>
     *   <li>{@code spec.hostNetwork}: never. Istio's CNI (cni/pkg/util/enablement_selector.go,
     *       {@code Matches}): "Host-network pods can never be captured ... so they are always
     *       excluded regardless of labels".</li>
     *   <li>{@code sidecar.istio.io/status} present: never. Same function: "Ztunnel and sidecar for
     *       a single pod is currently not supported; opt out."</li>
     *   <li>{@code ambient.istio.io/redirection: enabled}: yes. istiod sets the workload's tunnel
     *       protocol to HBONE on that annotation (workloads.go, {@code setTunnelProtocol}); the CNI
     *       writes it once the pod is captured.</li>
     *   <li>Otherwise Istio's default enablement selectors (manifests/charts/istio-cni/values.yaml):
     *       the pod's {@code istio.io/dataplane-mode=ambient}, or the namespace's with the pod's
     *       not {@code none}. This is what the CNI would do, for a directory of manifests where no
     *       CNI annotated anything.</li>
     * </ol>
     * Istio has no value of {@code ambient.istio.io/redirection} that opts out ({@code enabled} and
     * {@code pending} only, pkg/config/constants/constants.go); the opt-out is the label's {@code none}.
     *
     * @param namespace the pod's namespace, or null when the manifests have none
     */
    public boolean inAmbient(NamespaceSpec namespace) {
        if (hostNetwork || sidecar) {
            return false;
        }
        if (ambientRedirected) {
            return true;
        }
        // podSelector {istio.io/dataplane-mode: ambient}, or {NotIn [none]} with the namespace's
        String own = labels.get(DATAPLANE_MODE);
        if ("ambient".equals(own)) {
            return true;
        }
        return !"none".equals(own) && namespace != null && "ambient".equals(namespace.labels().get(DATAPLANE_MODE));
    }
}
