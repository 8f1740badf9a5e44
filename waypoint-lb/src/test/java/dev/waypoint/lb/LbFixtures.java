package dev.waypoint.lb;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Services, pods, DestinationRules and requests for the load-balancing tests. */
final class LbFixtures {
    static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");
    static final ServiceSpec SVC = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.1")), List.of(new ServicePortSpec("http", 80, 8080, null, null)),
            Map.of("app", "web"), SourceRef.NONE);
    static final RouteSelection.ServiceBackend BACKEND = new RouteSelection.ServiceBackend(SVC, SVC.ports().get(0));

    private LbFixtures() {}

    static List<Endpoint> endpoints(int n) {
        List<Endpoint> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(endpoint(i));
        }
        return List.copyOf(out);
    }

    static Endpoint endpoint(int i) {
        return new Endpoint(new HostPort(HostPort.parseIp("10.1." + (i / 250) + "." + (i % 250 + 1)), 8080), null, null);
    }

    static List<PodSpec> pods(int n) {
        List<PodSpec> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new PodSpec(new NamespacedName("apps", "web-" + i), Map.of("app", "web"), "web",
                    HostPort.parseIp("10.1.0." + (i + 1)), true, Map.of(), SourceRef.NONE));
        }
        return out;
    }

    static ResourceSet resources(List<PodSpec> pods, List<DestinationRuleSpec> rules) {
        return ResourceSet.builder(WAYPOINT, "cluster.local")
                .namespaces(List.of(new NamespaceSpec("apps", Map.of(), SourceRef.NONE)))
                .services(List.of(SVC)).pods(pods).destinationRules(rules).build();
    }

    static ConfigSnapshot snapshot(long generation, List<PodSpec> pods, List<DestinationRuleSpec> rules) {
        return ConfigSnapshot.compile(generation, resources(pods, rules), List.of(new EndpointCompiler()), new Diagnostics());
    }

    /** A request with {@code headers} (lowercase names), {@code path} and a source address. */
    static RequestContext request(ConfigSnapshot snapshot, Map<String, String> headers, String path, String sourceIp) {
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), SVC, SVC.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, null, null, null, null, null, null);
        Headers h = new Headers(new LinkedHashMap<>(headers));
        return new RequestContext(tunnel, snapshot, target, new Attrs(h, path,
                sourceIp == null ? null : new InetSocketAddress(sourceIp, 40000)), h, new RequestOutcome(0));
    }

    record Attrs(HeadersView headers, String path, InetSocketAddress sourceAddress) implements RequestAttributes {
        public String method() { return "GET"; }
        public String host() { return "web"; }
        public String scheme() { return "http"; }
        public String protocol() { return "HTTP/1.1"; }
        public boolean grpc() { return false; }
        public SpiffeId sourcePrincipal() { return null; }
        public InetSocketAddress destinationAddress() { return null; }
    }

    record Headers(Map<String, String> map) implements HeadersView {
        public String get(CharSequence n) { return map.get(n.toString()); }
        public List<String> getAll(CharSequence n) { return map.containsKey(n.toString()) ? List.of(map.get(n.toString())) : List.of(); }
        public boolean contains(CharSequence n) { return map.containsKey(n.toString()); }
        public void set(CharSequence n, String v) { map.put(n.toString(), v); }
        public void add(CharSequence n, String v) { map.put(n.toString(), v); }
        public void remove(CharSequence n) { map.remove(n.toString()); }
    }

    /** A clock tests move by hand. */
    static final class FakeClock implements java.util.function.LongSupplier {
        long now = 1_000_000_000L;

        @Override
        public long getAsLong() {
            return now;
        }

        void advanceSeconds(double s) {
            now += (long) (s * 1e9);
        }
    }
}
