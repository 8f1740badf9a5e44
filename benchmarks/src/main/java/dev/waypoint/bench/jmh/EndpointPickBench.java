package dev.waypoint.bench.jmh;

import dev.waypoint.lb.Endpoint;
import dev.waypoint.lb.EndpointPicker;
import dev.waypoint.lb.EndpointPickers;
import dev.waypoint.lb.EndpointStates;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One endpoint pick per request, for each algorithm a DestinationRule can name, over 10 and 1,000
 * endpoints: {@code ROUND_ROBIN}, {@code LEAST_REQUEST} (Istio's default), {@code RANDOM}, ring
 * hash (1024 points) and Maglev (65537 slots) on a request header. The hash pickers include
 * reading the header and hashing it. {@code pickTwoThreads}: two threads sharing the picker (the
 * round-robin counter and the least-request states are shared by every event loop).
 *
 * <p>{@code UPSTREAMS_LEAST_REQUEST} and {@code UPSTREAMS_LOCALITY} pick through
 * {@code Upstreams.pick} over a compiled snapshot (endpoint table lookup, outlier bookkeeping),
 * the second with a DestinationRule {@code localityLbSetting} (failover, outlier detection on):
 * pods spread over three zones of two regions, the waypoint in the first zone.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class EndpointPickBench {
    @Param({"10", "1000"})
    public int endpoints;

    @Param({"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV", "UPSTREAMS_LEAST_REQUEST", "UPSTREAMS_LOCALITY"})
    public String algorithm;

    private EndpointPicker picker;
    private List<Endpoint> list;
    private RequestContext request;
    private dev.waypoint.lb.Upstreams upstreams;
    private ConfigSnapshot snapshot;
    private dev.waypoint.model.request.RouteSelection.ServiceBackend backend;

    @Setup
    public void setUp() {
        request = request();
        if (algorithm.startsWith("UPSTREAMS_")) {
            setUpUpstreams(algorithm.equals("UPSTREAMS_LOCALITY"));
            return;
        }
        List<Endpoint> l = new ArrayList<>();
        for (int i = 0; i < endpoints; i++) {
            l.add(new Endpoint(HostPort.parseAuthority("10.1." + (i / 250) + "." + (i % 250 + 1) + ":8080"),
                    new SpiffeId("cluster.local", "ns", "sa"), null));
        }
        list = List.copyOf(l);
        EndpointStates states = new EndpointStates();
        picker = switch (algorithm) {
            case "ROUND_ROBIN" -> EndpointPickers.roundRobin();
            case "LEAST_REQUEST" -> EndpointPickers.leastRequest(states);
            case "RANDOM" -> EndpointPickers.random();
            case "RING_HASH" -> EndpointPickers.consistentHash("x-user", false, 1024, list);
            case "MAGLEV" -> EndpointPickers.consistentHash("x-user", true, 65537, list);
            default -> throw new IllegalArgumentException(algorithm);
        };
        for (int i = 0; i < list.size(); i += 3) {
            states.of(list.get(i)); // some endpoints with state, as after traffic
        }
    }

    private void setUpUpstreams(boolean locality) {
        ServiceSpec svc = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(), List.of(HostPort.parseIp("10.96.0.1")),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "web"), dev.waypoint.model.SourceRef.NONE);
        String[][] zones = {{"r1", "z1"}, {"r1", "z2"}, {"r2", "z1"}};
        List<dev.waypoint.model.mesh.PodSpec> pods = new ArrayList<>();
        for (int i = 0; i < endpoints; i++) {
            String[] z = zones[i % 3];
            pods.add(new dev.waypoint.model.mesh.PodSpec(new NamespacedName("apps", "web-" + i),
                    Map.of("app", "web", "topology.kubernetes.io/region", z[0], "topology.kubernetes.io/zone", z[1]), "web",
                    HostPort.parseIp("10.1." + (i / 250) + "." + (i % 250 + 1)), true, Map.of(), dev.waypoint.model.SourceRef.NONE));
        }
        var lb = new dev.waypoint.model.traffic.TrafficPolicySpec.LoadBalancerSpec(
                dev.waypoint.model.traffic.TrafficPolicySpec.Simple.LEAST_REQUEST, null, null, locality
                        ? new dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec(true, List.of(), List.of(), List.of())
                        : null);
        var od = new dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec(5, 0, 5, false,
                java.time.Duration.ofSeconds(10), java.time.Duration.ofSeconds(30), 10, 0);
        var dr = new dev.waypoint.model.traffic.DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new dev.waypoint.model.traffic.TrafficPolicySpec(lb, od, List.of()), List.of(), dev.waypoint.model.SourceRef.NONE);
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .namespaces(List.of(new dev.waypoint.model.mesh.NamespaceSpec("apps", Map.of(), dev.waypoint.model.SourceRef.NONE)))
                .services(List.of(svc)).pods(pods).destinationRules(List.of(dr)).build();
        if (!locality) {
            // Istio's default mesh localityLbSetting (enabled) would give this rule (outlier detection,
            // no locality setting of its own) locality failover: turned off, so this case stays plain
            rs = rs.toBuilder().meshConfig(new dev.waypoint.model.mesh.MeshConfigSpec(dev.waypoint.model.SourceRef.NONE,
                    null, List.of(), null, List.of(), dev.waypoint.model.mesh.MeshConfigSpec.DefaultProviders.NONE, null,
                    null, dev.waypoint.model.mesh.MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null, null, null, null,
                    null, new dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec(false, List.of(), List.of(),
                            List.of()))).build();
        }
        snapshot = ConfigSnapshot.compile(1, rs, List.of(new dev.waypoint.lb.EndpointCompiler()), new Diagnostics());
        dev.waypoint.lb.UpstreamSettings settings = dev.waypoint.lb.UpstreamSettings.defaults(15008)
                .withLocality(dev.waypoint.lb.Locality.parse("r1/z1"));
        upstreams = new dev.waypoint.lb.Upstreams(settings, new dev.waypoint.lb.hbone.HbonePool(settings, () -> null), null,
                new EndpointStates());
        backend = new dev.waypoint.model.request.RouteSelection.ServiceBackend(svc, svc.ports().get(0));
    }

    private static RequestContext request() {
        ServiceSpec svc = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(), List.of(HostPort.parseIp("10.96.0.1")),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "web"), dev.waypoint.model.SourceRef.NONE);
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), svc, svc.ports().get(0));
        ConfigSnapshot snap = ConfigSnapshot.compile(0, ResourceSet.empty(new NamespacedName("istio-system", "waypoint"),
                "cluster.local"), List.of(), new Diagnostics());
        HeadersView h = new HeadersView() {
            public String get(CharSequence n) { return "x-user".contentEquals(n) ? "user-12345" : null; }
            public List<String> getAll(CharSequence n) { return List.of(); }
            public boolean contains(CharSequence n) { return "x-user".contentEquals(n); }
            public void set(CharSequence n, String v) {}
            public void add(CharSequence n, String v) {}
            public void remove(CharSequence n) {}
        };
        RequestAttributes a = new RequestAttributes() {
            public String method() { return "GET"; }
            public String path() { return "/"; }
            public String host() { return "web"; }
            public String scheme() { return "http"; }
            public String protocol() { return "HTTP/1.1"; }
            public boolean grpc() { return false; }
            public HeadersView headers() { return h; }
            public SpiffeId sourcePrincipal() { return null; }
            public InetSocketAddress sourceAddress() { return null; }
            public InetSocketAddress destinationAddress() { return null; }
        };
        return new RequestContext(new TunnelContext(target, null, null, null, null, null, null), snap, target, a, h,
                new RequestOutcome(0));
    }

    @Benchmark
    @Threads(1)
    public Object pick() {
        return upstreams != null ? upstreams.pick(snapshot, backend, request, null) : picker.pick(list, request);
    }

    @Benchmark
    @Threads(2)
    public Object pickTwoThreads() {
        return upstreams != null ? upstreams.pick(snapshot, backend, request, null) : picker.pick(list, request);
    }
}
