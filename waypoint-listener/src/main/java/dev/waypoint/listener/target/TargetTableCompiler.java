package dev.waypoint.listener.target;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelIndex;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.Target;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiles the binding rules over a generation's resources into a {@link TargetTable}.
 *
 * <p>A Service is served when it (or its namespace) uses this Gateway and the Gateway's
 * {@code istio.io/waypoint-for} is {@code service} or {@code all}; a Pod likewise with
 * {@code workload} or {@code all}. "Pod and Service are resolved independently (a Service uses
 * the service waypoint, a pod the workload waypoint); original addressing decides which applies."
 * A ServiceEntry binds as a Service does, by its {@code addresses} and {@code ports}.
 */
public final class TargetTableCompiler implements PartCompiler<TargetTable> {

    @Override
    public SnapshotPart<TargetTable> part() {
        return TargetTable.PART;
    }

    @Override
    public TargetTable compile(ResourceSet resources, Diagnostics diagnostics) {
        NamespacedName selfName = resources.waypoint();
        GatewaySpec self = null;
        for (GatewaySpec g : resources.gateways()) {
            if (g.name().equals(selfName)) {
                self = g;
            }
        }
        Map<InetAddress, Map<Integer, Target.ServiceTarget>> services = new LinkedHashMap<>();
        Map<InetAddress, PodSpec> pods = new LinkedHashMap<>();
        Map<InetAddress, Map<Integer, AppProtocol>> podProtocols = new HashMap<>();
        Map<InetAddress, String> notBound = new HashMap<>();
        if (self == null) {
            diagnostics.warning(dev.waypoint.model.SourceRef.NONE, "Gateway", selfName, "-",
                    "this waypoint's Gateway is not among the manifests: nothing is bound to it");
            return new TargetTable(Map.of(), Map.of(), Map.of(), Map.of(), null, "none");
        }
        if (!Bindings.WAYPOINT_CLASS.equals(self.className())) {
            diagnostics.warning(self.source(), "Gateway", selfName, "spec.gatewayClassName",
                    "gatewayClassName: " + self.className() + " (expected: " + Bindings.WAYPOINT_CLASS + ")");
        }
        if (self.listeners().stream().noneMatch(l -> l.port() == 15008 && "HBONE".equals(l.protocol()))) {
            // Istio's status for such a waypoint: Programmed False, UnsupportedProtocol, "Expected a
            // single listener on port 15008 with protocol HBONE" (this process still serves --listen)
            diagnostics.warning(self.source(), "Gateway", selfName, "spec.listeners", "listeners: "
                    + self.listeners().stream().map(l -> l.port() + "/" + l.protocol()).toList()
                    + " (expected: a single listener on port 15008 with protocol HBONE, as Istio requires of a waypoint)");
        }
        String waypointFor = Bindings.waypointFor(self);
        Map<String, NamespaceSpec> namespaces = new HashMap<>();
        for (NamespaceSpec ns : resources.namespaces()) {
            namespaces.put(ns.name(), ns);
        }

        for (ServiceSpec svc : resources.services()) {
            NamespaceSpec ns = namespaces.get(svc.name().namespace());
            String why = boundWhy("Service", svc.name(), svc.labels(), ns, self, waypointFor, true);
            if (why != null) {
                for (InetAddress vip : svc.clusterIps()) {
                    notBound.putIfAbsent(vip, why);
                }
                continue;
            }
            for (InetAddress vip : svc.clusterIps()) {
                Map<Integer, Target.ServiceTarget> byPort = services.computeIfAbsent(vip, k -> new LinkedHashMap<>());
                for (ServicePortSpec port : svc.ports()) {
                    byPort.put(port.port(), new Target.ServiceTarget(new HostPort(vip, port.port()), svc, port));
                }
            }
        }

        Map<InetAddress, Map<Integer, Target.ServiceEntryTarget>> entries = new LinkedHashMap<>();
        for (ServiceEntrySpec se : resources.serviceEntries()) {
            // "A ServiceEntry bound with istio.io/use-waypoint (on itself or its namespace, as for Services)"
            NamespaceSpec ns = namespaces.get(se.name().namespace());
            String why = boundWhy("ServiceEntry", se.name(), se.labels(), ns, self, waypointFor, true);
            if (why != null) {
                for (InetAddress vip : se.addresses()) {
                    notBound.putIfAbsent(vip, why);
                }
                continue;
            }
            diagnostics.note(se.source(), "ServiceEntry", se.name(), "metadata.labels", "bound to this waypoint: hosts "
                    + se.hosts() + ", addresses " + se.addresses().stream().map(InetAddress::getHostAddress).toList()
                    + ", ports " + se.ports().stream().map(p -> p.port() + "/" + p.protocol().name().toLowerCase(java.util.Locale.ROOT)).toList()
                    + ", resolution " + se.resolution() + ", " + se.location());
            if (se.addresses().isEmpty()) {
                // "needs a VIP (spec.addresses or auto-allocation)": nothing addresses it here
                diagnostics.warning(se.source(), "ServiceEntry", se.name(), "spec.addresses",
                        "addresses: none (expected: at least one address, in spec.addresses or allocated by istiod in "
                                + "status.addresses (resolution other than NONE); a ServiceEntry bound to a waypoint is addressed by its VIPs)");
            }
            for (InetAddress vip : se.addresses()) {
                if (services.containsKey(vip)) {
                    diagnostics.warning(se.source(), "ServiceEntry", se.name(), "spec.addresses",
                            "address: " + vip.getHostAddress() + " (expected: an address no bound Service has; the Service wins)");
                    continue;
                }
                Map<Integer, Target.ServiceEntryTarget> byPort = entries.computeIfAbsent(vip, k -> new LinkedHashMap<>());
                for (ServicePortSpec port : se.ports()) {
                    byPort.putIfAbsent(port.port(), new Target.ServiceEntryTarget(new HostPort(vip, port.port()), se, port));
                }
            }
        }

        Map<NamespacedName, List<ServiceSpec>> selecting = null; // built for the first bound pod
        for (PodSpec pod : resources.pods()) {
            if (pod.ip() == null) {
                continue;
            }
            NamespaceSpec ns = namespaces.get(pod.name().namespace());
            String why = boundWhy("Pod", pod.name(), pod.labels(), ns, self, waypointFor, false);
            if (why != null) {
                notBound.putIfAbsent(pod.ip(), why);
                continue;
            }
            pods.put(pod.ip(), pod);
            if (selecting == null) {
                selecting = selectingServices(resources);
            }
            podProtocols.put(pod.ip(), declaredPorts(pod, selecting.getOrDefault(pod.name(), List.of())));
        }
        for (InetAddress ip : services.keySet()) {
            notBound.remove(ip);
        }
        for (InetAddress ip : pods.keySet()) {
            notBound.remove(ip);
        }
        for (InetAddress ip : entries.keySet()) {
            notBound.remove(ip);
        }
        return new TargetTable(freeze(services), frozen(pods), frozen(podProtocols), frozen(notBound), self, waypointFor,
                freeze(entries));
    }

    /** Null when bound to {@code self}; otherwise why not. */
    private static String boundWhy(String kind, NamespacedName name, Map<String, String> labels, NamespaceSpec ns,
                                   GatewaySpec self, String waypointFor, boolean service) {
        Bindings.Use use = Bindings.waypointOf(kind, name, labels, ns);
        if (use.waypoint() == null) {
            return use.why();
        }
        if (!use.waypoint().equals(self.name())) {
            return kind + " " + name + " uses waypoint " + use.waypoint() + ", not " + self.name();
        }
        if (!Bindings.WAYPOINT_FOR_VALUES.contains(waypointFor)) {
            return kind + " " + name + " uses this waypoint, but its " + Bindings.WAYPOINT_FOR + "=" + waypointFor
                    + " is none of " + String.join(", ", Bindings.WAYPOINT_FOR_VALUES) + " (Istio binds nothing to it then)";
        }
        if (service ? !Bindings.servesServices(waypointFor) : !Bindings.servesWorkloads(waypointFor)) {
            return kind + " " + name + " uses this waypoint, but it serves " + Bindings.WAYPOINT_FOR + "=" + waypointFor
                    + " traffic only";
        }
        if (!Bindings.namespaceAllowed(self, name.namespace(), ns)) {
            String from = "Selector".equals(self.allowedNamespaces())
                    ? "from: Selector, selector: " + self.namespaceSelector() : "from";
            return kind + " " + name + " is in namespace " + name.namespace()
                    + ", which the waypoint's listener does not allow (allowedRoutes.namespaces." + from + ")";
        }
        return null;
    }

    /**
     * The Services that select each pod, in Service order: from a label index of the pods, so the
     * pods' protocols do not cost a scan of every Service per bound pod (Services x Pods).
     */
    private static Map<NamespacedName, List<ServiceSpec>> selectingServices(ResourceSet resources) {
        LabelIndex<PodSpec> index = LabelIndex.pods(resources.pods());
        Map<NamespacedName, List<ServiceSpec>> out = new HashMap<>();
        for (ServiceSpec svc : resources.services()) {
            if (svc.selector() == null) {
                continue;
            }
            for (PodSpec pod : index.select(svc.name().namespace(), svc.selector())) {
                out.computeIfAbsent(pod.name(), k -> new ArrayList<>(1)).add(svc);
            }
        }
        return out;
    }

    /** Protocols declared for a pod's ports by the Services that select it (first wins). */
    private static Map<Integer, AppProtocol> declaredPorts(PodSpec pod, List<ServiceSpec> selecting) {
        Map<Integer, AppProtocol> out = new HashMap<>();
        for (ServiceSpec svc : selecting) {
            for (ServicePortSpec p : svc.ports()) {
                int target = p.targetPortName() != null ? pod.namedPorts().getOrDefault(p.targetPortName(), 0)
                        : p.targetPortNumber();
                if (target > 0) {
                    out.putIfAbsent(target, p.protocol());
                }
            }
        }
        return Map.copyOf(out);
    }

    static boolean matches(Map<String, String> selector, Map<String, String> labels) {
        return LabelIndex.matches(selector, labels);
    }

    private static <T> Map<InetAddress, Map<Integer, T>> freeze(Map<InetAddress, Map<Integer, T>> in) {
        Map<InetAddress, Map<Integer, T>> out = new HashMap<>();
        in.forEach((k, v) -> out.put(k, Map.copyOf(v)));
        return frozen(out);
    }

    /**
     * Read-only HashMap, not {@code Map.copyOf}: the immutable map probes linearly, and IPv4 keys
     * hash to consecutive ints (a Service CIDR), so a miss scanned whole clusters (22 µs per refused
     * CONNECT with 10,000 Services, TargetResolveBench.resolveMiss).
     */
    private static <K, V> Map<K, V> frozen(Map<K, V> in) {
        return java.util.Collections.unmodifiableMap(new HashMap<>(in));
    }
}
