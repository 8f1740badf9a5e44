package dev.waypoint.lb;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelIndex;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Services and their pods (or EndpointSlices, for Services without a selector) to an
 * {@link EndpointTable}.
 *
 * <ul>
 *   <li>Selector Services: healthy pods ({@link PodSpec#healthy()}: ready and not terminating) of
 *       the same namespace whose labels match, with an IP, on the target port (numeric, or named
 *       and resolved against the pod's container ports; a pod without that port name is skipped,
 *       as Kubernetes does).</li>
 *   <li>Services without a selector: ready addresses of EndpointSlices labelled
 *       {@code kubernetes.io/service-name}, on the slice port whose name equals the Service
 *       port's name. {@code conditions.ready} alone decides, as in Istio's
 *       {@code endpointHealthStatus} (pilot/pkg/serviceregistry/kube/controller/endpointslice.go):
 *       not ready is unhealthy or, with {@code terminating}, "Terminating ... we should not send it
 *       traffic"; {@code serving} only matters there for persistent sessions (draining).</li>
 *   <li>Mesh membership: {@link PodSpec#inAmbient} (never hostNetwork or sidecar pods; the CNI's
 *       {@code ambient.istio.io/redirection: enabled}; else {@code istio.io/dataplane-mode=ambient}
 *       on the pod or its namespace, the pod value {@code none} opting out). Members get HBONE
 *       with the pod's SPIFFE identity; every other endpoint is plaintext.</li>
 *   <li>Traffic policy: each port's DestinationRule policy ({@link TrafficPolicyCompiler}),
 *       compiled over the port's endpoints, in the same part.</li>
 * </ul>
 */
public final class EndpointCompiler implements PartCompiler<EndpointTable> {
    @Override
    public SnapshotPart<EndpointTable> part() {
        return EndpointTable.PART;
    }

    @Override
    public EndpointTable compile(ResourceSet resources, Diagnostics diagnostics) {
        Map<String, NamespaceSpec> namespaces = new HashMap<>();
        for (NamespaceSpec ns : resources.namespaces()) {
            namespaces.put(ns.name(), ns);
        }
        Map<NamespacedName, PodSpec> podsByName = new HashMap<>();
        Map<NamespacedName, Boolean> meshPods = new HashMap<>();
        for (PodSpec pod : resources.pods()) {
            podsByName.put(pod.name(), pod);
            meshPods.put(pod.name(), inMesh(pod, namespaces.get(pod.name().namespace())));
        }
        // selected once per Service from a label index, not by scanning the namespace's pods per port
        LabelIndex<PodSpec> podIndex = LabelIndex.pods(resources.pods());
        Map<NamespacedName, List<EndpointSliceSpec>> slices = new HashMap<>();
        for (EndpointSliceSpec slice : resources.endpointSlices()) {
            slices.computeIfAbsent(slice.service(), k -> new ArrayList<>()).add(slice);
        }

        Map<EndpointTable.Key, List<Endpoint>> out = new LinkedHashMap<>();
        Map<EndpointTable.Key, LbPolicy> policies = new LinkedHashMap<>();
        TrafficPolicyCompiler trafficPolicies = new TrafficPolicyCompiler(resources, diagnostics);
        String td = resources.trustDomain();
        for (ServiceSpec svc : resources.services()) {
            List<PodSpec> selected = svc.selector() == null ? List.of()
                    : podIndex.select(svc.name().namespace(), svc.selector());
            for (ServicePortSpec port : svc.ports()) {
                List<Endpoint> eps = new ArrayList<>();
                if (svc.selector() != null) {
                    for (PodSpec pod : selected) {
                        if (pod.ip() == null || !pod.healthy()) {
                            continue;
                        }
                        int target = port.targetPortName() != null
                                ? pod.namedPorts().getOrDefault(port.targetPortName(), 0) : port.targetPortNumber();
                        if (target <= 0) {
                            continue;
                        }
                        eps.add(endpoint(pod.ip(), target, pod, meshPods.get(pod.name()), td));
                    }
                } else {
                    for (EndpointSliceSpec slice : slices.getOrDefault(svc.name(), List.of())) {
                        int target = slicePort(slice, port);
                        if (target <= 0) {
                            continue;
                        }
                        for (EndpointSliceSpec.Endpoint e : slice.endpoints()) {
                            if (!e.ready()) {
                                continue;
                            }
                            PodSpec pod = e.pod() == null ? null : podsByName.get(e.pod());
                            boolean mesh = pod != null && meshPods.getOrDefault(pod.name(), false);
                            for (InetAddress a : e.addresses()) {
                                eps.add(endpoint(a, target, pod, mesh, td));
                            }
                        }
                    }
                }
                List<Endpoint> ready = List.copyOf(eps);
                EndpointTable.Key key = new EndpointTable.Key(svc.name(), port.port());
                out.put(key, ready);
                LbPolicy policy = trafficPolicies.compile(svc, port, ready);
                if (policy != null) {
                    policies.put(key, policy);
                }
            }
        }
        return new EndpointTable(Map.copyOf(out), Map.copyOf(meshPods), Map.copyOf(policies), resources.meshConfig());
    }

    private static Endpoint endpoint(InetAddress ip, int port, PodSpec pod, Boolean mesh, String td) {
        return new Endpoint(new HostPort(ip, port), pod != null && Boolean.TRUE.equals(mesh) ? pod.identity(td) : null, pod);
    }

    private static int slicePort(EndpointSliceSpec slice, ServicePortSpec port) {
        String name = port.name() == null ? "" : port.name();
        for (EndpointSliceSpec.Port p : slice.ports()) {
            if (name.equals(p.name() == null ? "" : p.name())) {
                return p.port();
            }
        }
        return 0;
    }

    /** Whether {@code pod} is reached over HBONE: {@link PodSpec#inAmbient}. */
    static boolean inMesh(PodSpec pod, NamespaceSpec ns) {
        return pod.inAmbient(ns);
    }

    static boolean matches(Map<String, String> selector, Map<String, String> labels) {
        return LabelIndex.matches(selector, labels);
    }
}
