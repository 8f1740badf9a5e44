package dev.waypoint.lb;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelIndex;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.mesh.WorkloadEndpointSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ServiceEntries to {@link ServiceEntryEndpoints}, per port:
 *
 * <ul>
 *   <li>{@code endpoints}: each entry on {@code ports[<port name>]}, else the port's
 *       {@code targetPort}, else its number. With {@code resolution: DNS} an entry whose address
 *       is a name is resolved; with {@code STATIC} every address is an IP (the translator checks).</li>
 *   <li>{@code workloadSelector}: healthy Pods (ready, not terminating) with an IP and
 *       WorkloadEntries with an IP address, in the ServiceEntry's namespace, whose labels match.</li>
 *   <li>{@code resolution: DNS} without endpoints: each of {@code hosts}, resolved, on the target port.</li>
 *   <li>{@code resolution: NONE}: nothing here; the upstream goes to the original destination.</li>
 * </ul>
 *
 * <p>How endpoints are reached follows {@code location}: {@code MESH_EXTERNAL} endpoints are
 * plaintext ("Non-mesh endpoint (…, external ServiceEntry endpoint, DNS endpoint): plain TCP");
 * {@code MESH_INTERNAL} endpoints are HBONE to {@code address:15008}, the destination ztunnel
 * presenting the workload's identity (its {@code serviceAccount}, {@code default} when unset, in
 * the namespace of the entry that declares it; a Pod's own identity).
 */
public final class ServiceEntryEndpointCompiler implements PartCompiler<ServiceEntryEndpoints> {

    @Override
    public SnapshotPart<ServiceEntryEndpoints> part() {
        return ServiceEntryEndpoints.PART;
    }

    @Override
    public ServiceEntryEndpoints compile(ResourceSet resources, Diagnostics diagnostics) {
        String td = resources.trustDomain();
        LabelIndex<PodSpec> podIndex = LabelIndex.pods(resources.pods());
        Map<String, List<WorkloadEntrySpec>> wesByNamespace = new HashMap<>();
        for (WorkloadEntrySpec we : resources.workloadEntries()) {
            wesByNamespace.computeIfAbsent(we.name().namespace(), k -> new ArrayList<>()).add(we);
        }
        Map<String, NamespaceSpec> namespaces = new HashMap<>();
        resources.namespaces().forEach(ns -> namespaces.put(ns.name(), ns));

        Map<ServiceEntryEndpoints.Key, List<Endpoint>> fixed = new LinkedHashMap<>();
        Map<ServiceEntryEndpoints.Key, List<ServiceEntryEndpoints.DnsName>> dns = new LinkedHashMap<>();
        Map<ServiceEntryEndpoints.Key, LbPolicy> policies = new LinkedHashMap<>();
        // DestinationRules whose host is one of the entry's hosts: the same balancers, outlier
        // detection, connection pool and TLS as for Services (resolution NONE has no endpoints to balance)
        TrafficPolicyCompiler rules = new TrafficPolicyCompiler(resources, diagnostics, true);
        Map<ServiceEntryEndpoints.Key, int[]> weights = new LinkedHashMap<>();
        for (ServiceEntrySpec se : resources.serviceEntries()) {
            boolean internal = se.location() == ServiceEntrySpec.Location.MESH_INTERNAL;
            String ns = se.name().namespace();
            for (ServicePortSpec port : se.ports()) {
                ServiceEntryEndpoints.Key key = new ServiceEntryEndpoints.Key(se.name(), port.port());
                List<Endpoint> eps = new ArrayList<>();
                List<Integer> weight = new ArrayList<>(); // per endpoint of eps: its weight (0 when unset → 1)
                List<ServiceEntryEndpoints.DnsName> names = new ArrayList<>();
                if (se.resolution() == ServiceEntrySpec.Resolution.NONE) {
                    continue;
                }
                if (se.workloadSelector() != null) {
                    for (PodSpec pod : podIndex.select(ns, se.workloadSelector())) {
                        if (pod.ip() == null || !pod.healthy()) {
                            continue;
                        }
                        SpiffeId id = internal || EndpointCompiler.inMesh(pod, namespaces.get(ns)) ? pod.identity(td) : null;
                        eps.add(new Endpoint(new HostPort(pod.ip(), port.targetPortNumber()), id, pod));
                        weight.add(1);
                    }
                    for (WorkloadEntrySpec we : wesByNamespace.getOrDefault(ns, List.of())) {
                        WorkloadEndpointSpec w = we.workload();
                        if (w.ip() == null || !EndpointCompiler.matches(se.workloadSelector(), w.labels())) {
                            continue;
                        }
                        eps.add(new Endpoint(new HostPort(w.ip(), targetPort(w, port)),
                                internal ? w.identity(td, we.name().namespace()) : null, null));
                        weight.add(Math.max(1, w.weight()));
                    }
                } else if (!se.endpoints().isEmpty()) {
                    for (WorkloadEndpointSpec w : se.endpoints()) {
                        SpiffeId id = internal ? w.identity(td, ns) : null;
                        if (w.ip() != null) {
                            eps.add(new Endpoint(new HostPort(w.ip(), targetPort(w, port)), id, null));
                            weight.add(Math.max(1, w.weight()));
                        } else if (se.resolution() == ServiceEntrySpec.Resolution.DNS) {
                            names.add(new ServiceEntryEndpoints.DnsName(w.address(), targetPort(w, port), id));
                        }
                    }
                } else if (se.resolution() == ServiceEntrySpec.Resolution.DNS) {
                    // "resolution: DNS ... If no endpoints are specified, the hosts are resolved"
                    for (String host : se.hosts()) {
                        names.add(new ServiceEntryEndpoints.DnsName(host, port.targetPortNumber(),
                                internal ? new SpiffeId(td, ns, "default") : null));
                    }
                }
                List<Endpoint> known = List.copyOf(eps);
                fixed.put(key, known);
                if (weight.stream().distinct().count() > 1) {
                    weights.put(key, weight.stream().mapToInt(Integer::intValue).toArray());
                }
                if (!names.isEmpty()) {
                    dns.put(key, List.copyOf(names));
                }
                LbPolicy policy = rules.compileEntry(se, port, known, !names.isEmpty());
                if (policy != null) {
                    policies.put(key, policy);
                }
            }
        }
        return new ServiceEntryEndpoints(fixed, dns, policies, weights);
    }

    /** The workload's own port for the service port's name, else the port's target port. */
    private static int targetPort(WorkloadEndpointSpec w, ServicePortSpec port) {
        Integer own = port.name() == null ? null : w.ports().get(port.name());
        return own != null ? own : port.targetPortNumber();
    }
}
