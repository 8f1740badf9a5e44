package dev.waypoint.routing;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.L4RouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.RouteSelection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TCPRoutes and TLSRoutes with Service parents → {@link L4RouteTable}.
 *
 * <ul>
 *   <li>Attachment: {@code parentRefs} to a Service ({@code group ""}/{@code core}) or a
 *       ServiceEntry ({@code group networking.istio.io}, as Istio supports for waypoints: from the
 *       entry's namespace or the waypoint's only, and then for every caller; see
 *       {@link ServiceEntryParents}), all its
 *       ports or the one named by {@code port} / {@code sectionName}; only ports that carry TCP
 *       (declared TCP, TLS, HTTPS, ... or undeclared: Istio builds the TCP chain for those too).
 *       A port declared HTTP, HTTP2 or gRPC is refused with a warning; TLSRoutes need a port
 *       declared TCP-like (its ClientHello is read before connecting), not an undeclared one.</li>
 *   <li>Producer and consumer routes, as for HTTPRoute (GEP-1294): a route in the Service's
 *       namespace applies to every caller; a route in another namespace (a consumer route)
 *       applies only to callers from that namespace, and for them replaces the producer routes of
 *       that port (TCPRoute and TLSRoutes alike). A consumer route may send to its parent Service
 *       without a ReferenceGrant (as the MeshConsumerRoute conformance test does for HTTPRoute).</li>
 *   <li>Each route uses its first rule: TCP and TLS rules have no matches, so a later rule could
 *       never be chosen (Envoy's first-match tcp routes, as Istio builds them). Extra rules are
 *       reported.</li>
 *   <li>Several TCPRoutes on one port: the oldest (creation timestamp, then namespace/name) is in
 *       force, as Gateway API resolves conflicts; the others are reported.</li>
 *   <li>TLSRoutes: every hostname becomes an SNI entry; exact names before wildcards, longer
 *       wildcards before shorter, routes without hostnames last; ties to the oldest route.</li>
 *   <li>backendRefs: a Service port ({@code port} required; another namespace needs a
 *       ReferenceGrant from the route's kind) or a ServiceEntry ({@code networking.istio.io}
 *       {@code Hostname} / {@code ServiceEntry}). An invalid one keeps its weight: the connections
 *       it would get are closed.</li>
 * </ul>
 */
public final class L4RouteCompiler implements PartCompiler<L4RouteTable> {

    @Override
    public SnapshotPart<L4RouteTable> part() {
        return L4RouteTable.PART;
    }

    private record Attached(L4RouteSpec spec, L4RouteTable.Route route) {}

    @Override
    public L4RouteTable compile(ResourceSet resources, Diagnostics diagnostics) {
        Map<NamespacedName, ServiceSpec> services = new HashMap<>();
        resources.services().forEach(s -> services.put(s.name(), s));
        Map<L4RouteTable.Key, List<Attached>> tcp = new LinkedHashMap<>();
        Map<L4RouteTable.Key, List<Attached>> tls = new LinkedHashMap<>();
        List<L4RouteSpec> ordered = new ArrayList<>(resources.l4Routes());
        // "the oldest Route based on creation timestamp", then "alphabetical order by {namespace}/{name}"
        ordered.sort(Comparator.comparing((L4RouteSpec r) -> r.creationTimestamp() == null ? Instant.MAX : r.creationTimestamp())
                .thenComparing(r -> r.name().toString()));
        for (L4RouteSpec route : ordered) {
            String kind = route.kind().kindName();
            L4RouteTable.Route compiled = null;
            for (int p = 0; p < route.parentRefs().size(); p++) {
                ParentRefSpec parent = route.parentRefs().get(p);
                String field = "spec.parentRefs[" + p + "]";
                boolean entryParent = ServiceEntryParents.isServiceEntry(parent);
                if (!parent.isService() && !entryParent) {
                    if (parent.group().equals(ServiceEntryBackends.NETWORKING)) {
                        diagnostics.warning(route.source(), kind, route.name(), field, "kind: " + parent.kind()
                                + " (expected: Service or ServiceEntry; the parentRef is ignored)");
                    }
                    continue; // a Gateway parent is an ingress concern: not this waypoint's
                }
                // a ServiceEntry parent (Istio supports them for waypoints) is handled as a Service of its ports,
                // from the entry's namespace or the waypoint's only, as for HTTPRoutes (ServiceEntryParents)
                ServiceSpec svc;
                if (entryParent) {
                    Object resolved = ServiceEntryParents.resolve(route.name(), parent, resources.waypoint(), resources.serviceEntries());
                    if (resolved instanceof String problem) {
                        diagnostics.warning(route.source(), kind, route.name(), field, problem);
                        continue;
                    }
                    svc = (ServiceSpec) resolved;
                } else {
                    svc = services.get(new NamespacedName(parent.namespace(), parent.name()));
                    if (svc == null) {
                        diagnostics.warning(route.source(), kind, route.name(), field, "name: " + parent.namespace() + "/"
                                + parent.name() + " (expected: an existing Service; the parentRef is ignored)");
                        continue;
                    }
                }
                // a consumer route (another namespace than the Service's) is keyed by its namespace; a route on a
                // ServiceEntry applies to every caller (Istio's waypoint has no consumer routes for it)
                String what = entryParent ? "ServiceEntry " : "Service ";
                String consumer = entryParent || svc.name().namespace().equals(route.name().namespace()) ? null : route.name().namespace();
                List<ServicePortSpec> ports = new ArrayList<>();
                for (ServicePortSpec port : svc.ports()) {
                    boolean named = parent.port() == 0 && parent.sectionName() == null
                            || parent.port() == port.port()
                            || parent.sectionName() != null && parent.sectionName().equals(port.name());
                    if (!named) {
                        continue;
                    }
                    if (route.kind() == L4RouteSpec.Kind.TLS && port.protocol() == dev.waypoint.model.mesh.AppProtocol.AUTO) {
                        // the ClientHello is read only on ports declared TCP (tcp, tls, https, ...): an
                        // undeclared port is sniffed for HTTP, and its TCP connections see TCPRoutes only
                        if (parent.port() != 0 || parent.sectionName() != null) {
                            diagnostics.warning(route.source(), kind, route.name(), field, "port: " + port.port()
                                    + " (expected: a port declared tls, https or tcp; " + what + svc.name()
                                    + " does not declare its protocol, the parentRef is ignored)");
                        }
                        continue;
                    }
                    if (port.protocol().isHttp()) {
                        if (parent.port() != 0 || parent.sectionName() != null) {
                            diagnostics.warning(route.source(), kind, route.name(), field, "port: " + port.port()
                                    + " (expected: a TCP port; " + what + svc.name() + " declares it "
                                    + port.protocol().name() + ", the parentRef is ignored)");
                        }
                        continue;
                    }
                    ports.add(port);
                }
                if (ports.isEmpty()) {
                    if (parent.port() == 0 && parent.sectionName() == null) {
                        diagnostics.warning(route.source(), kind, route.name(), field,
                                "name: " + svc.name() + " (expected: a " + what + "with a TCP port; the parentRef is ignored)");
                    } else if (svc.ports().stream().noneMatch(x -> x.port() == parent.port()
                            || parent.sectionName() != null && parent.sectionName().equals(x.name()))) {
                        diagnostics.warning(route.source(), kind, route.name(), field, "port: "
                                + (parent.port() != 0 ? parent.port() : parent.sectionName())
                                + " (expected: a port of " + what + svc.name() + "; the parentRef is ignored)");
                    }
                    continue;
                }
                if (compiled == null) {
                    compiled = compile(route, services, resources.serviceEntries(), resources.referenceGrants(), diagnostics);
                }
                for (ServicePortSpec port : ports) {
                    L4RouteTable.Key key = new L4RouteTable.Key(svc.name(), port.port(), consumer, entryParent);
                    (route.kind() == L4RouteSpec.Kind.TCP ? tcp : tls).computeIfAbsent(key, k -> new ArrayList<>())
                            .add(new Attached(route, compiled));
                }
            }
        }
        Map<L4RouteTable.Key, L4RouteTable.PortRoutes> out = new HashMap<>();
        for (L4RouteTable.Key key : union(tcp, tls)) {
            List<Attached> t = tcp.getOrDefault(key, List.of());
            for (int i = 1; i < t.size(); i++) {
                L4RouteSpec loser = t.get(i).spec();
                diagnostics.warning(loser.source(), loser.kind().kindName(), loser.name(), "spec.parentRefs",
                        "parent: " + key + " (expected: one TCPRoute per port; "
                                + t.get(0).spec().name() + " is older and wins, this route is not used there)");
            }
            List<L4RouteTable.SniEntry> sni = new ArrayList<>();
            for (Attached a : tls.getOrDefault(key, List.of())) {
                if (a.spec().hostnames().isEmpty()) {
                    sni.add(new L4RouteTable.SniEntry("*", a.route()));
                }
                for (String h : a.spec().hostnames()) {
                    sni.add(new L4RouteTable.SniEntry(h, a.route()));
                }
            }
            sni.sort((x, y) -> SniMatch.precedence(x.hostname(), y.hostname())); // stable: oldest route first on ties
            out.put(key, new L4RouteTable.PortRoutes(t.isEmpty() ? null : t.get(0).route(), sni));
        }
        return new L4RouteTable(out);
    }

    private static List<L4RouteTable.Key> union(Map<L4RouteTable.Key, ?> a, Map<L4RouteTable.Key, ?> b) {
        List<L4RouteTable.Key> keys = new ArrayList<>(a.keySet());
        b.keySet().forEach(k -> {
            if (!a.containsKey(k)) {
                keys.add(k);
            }
        });
        return keys;
    }

    private static L4RouteTable.Route compile(L4RouteSpec route, Map<NamespacedName, ServiceSpec> services,
                                              List<ServiceEntrySpec> entries, List<ReferenceGrantSpec> grants,
                                              Diagnostics diagnostics) {
        String kind = route.kind().kindName();
        for (int r = 1; r < route.rules().size(); r++) {
            diagnostics.warning(route.source(), kind, route.name(), "spec.rules[" + r + "]",
                    "rules[" + r + "] (expected: one rule; " + kind + " rules have no matches, only the first is used)");
        }
        L4RouteSpec.Rule rule = route.rules().get(0);
        String routeName = route.name().name() + "." + route.name().namespace() + "."
                + (rule.name() != null ? rule.name() : "0");
        List<L4RouteTable.Backend> backends = new ArrayList<>();
        int total = 0;
        for (int b = 0; b < rule.backendRefs().size(); b++) {
            BackendRefSpec ref = rule.backendRefs().get(b);
            Object resolved = ServiceEntryBackends.isServiceEntry(ref)
                    ? ServiceEntryBackends.resolve(ref, route.name(), kind, entries, grants)
                    : service(ref, route, kind, services, grants);
            if (resolved instanceof String problem) {
                diagnostics.warning(route.source(), kind, route.name(), "spec.rules[0].backendRefs[" + b + "]",
                        problem + " (connections sent to it are closed)");
                backends.add(new L4RouteTable.Backend(null, problem, ref.weight()));
            } else {
                backends.add(new L4RouteTable.Backend((RouteSelection.Backend) resolved, null, ref.weight()));
            }
            total += ref.weight();
        }
        if (total == 0) {
            diagnostics.warning(route.source(), kind, route.name(), "spec.rules[0].backendRefs",
                    "weight: 0 for every backendRef (expected: at least one positive weight; every connection is closed)");
        }
        return new L4RouteTable.Route(routeName, route.hostnames(), backends, total);
    }

    /** Whether {@code route} has the Service {@code name} as a parent (a consumer route sending to it needs no grant). */
    private static boolean namesParent(L4RouteSpec route, NamespacedName name) {
        for (ParentRefSpec p : route.parentRefs()) {
            if (p.isService() && p.namespace().equals(name.namespace()) && p.name().equals(name.name())) {
                return true;
            }
        }
        return false;
    }

    private static Object service(BackendRefSpec ref, L4RouteSpec route, String kind,
                                  Map<NamespacedName, ServiceSpec> services, List<ReferenceGrantSpec> grants) {
        if (!ref.isService()) {
            return "backendRef kind " + (ref.group().isEmpty() ? "" : ref.group() + "/") + ref.kind()
                    + " is not supported (expected: Service, networking.istio.io/ServiceEntry or networking.istio.io/Hostname)";
        }
        NamespacedName name = new NamespacedName(ref.namespace(), ref.name());
        if (!ref.namespace().equals(route.name().namespace()) && !namesParent(route, name)
                && grants.stream().noneMatch(g -> g.name().namespace().equals(ref.namespace())
                && g.allows("gateway.networking.k8s.io", kind, route.name().namespace(), "", "Service", ref.name()))) {
            return "backendRef " + name + " is in another namespace and no ReferenceGrant allows it";
        }
        ServiceSpec svc = services.get(name);
        if (svc == null) {
            return "backendRef Service " + name + " does not exist";
        }
        if (ref.port() == 0) {
            return "backendRef Service " + name + " has no port (expected: port is required for a Service)";
        }
        ServicePortSpec port = svc.port(ref.port());
        if (port == null) {
            return "backendRef Service " + name + " has no port " + ref.port();
        }
        return new RouteSelection.ServiceBackend(svc, port);
    }
}
