package dev.waypoint.bench.jmh;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.mesh.WorkloadRef;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.telemetry.IstioMetrics;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.telemetry.TelemetryFilter;
import dev.waypoint.telemetry.TelemetryPolicyCompiler;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Recording one finished request in Istio's standard metrics: the {@code telemetry} stage's
 * {@code onComplete} for a request whose label set already exists (the steady state), with no
 * access log and no tracing provider. Run with {@code -prof gc}: the allocation per request is
 * the figure that matters (issue: "recording a request allocates nothing").
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TelemetryBench {
    private TelemetryFilter filter;
    private RequestContext http;
    private RequestContext grpc;
    private RequestContext httpWithTelemetry;
    private RequestContext httpWithAddedLabel;
    private dev.waypoint.telemetry.TunnelTelemetry tcp;
    private dev.waypoint.telemetry.TunnelTelemetry tcpWithAddedLabel;
    private TunnelContext tunnel;
    private PodSpec pod;

    record Attrs(boolean grpc, HeadersView headers, TunnelContext tunnel) implements RequestAttributes {
        public String method() { return grpc ? "POST" : "GET"; }
        public String path() { return grpc ? "/echo.Echo/Say" : "/reviews/1"; }
        public String host() { return "reviews.demo:9080"; }
        public String scheme() { return "http"; }
        public String protocol() { return grpc ? "HTTP/2" : "HTTP/1.1"; }
        public SpiffeId sourcePrincipal() { return tunnel.peer(); }
        public InetSocketAddress sourceAddress() { return tunnel.source(); }
        public InetSocketAddress destinationAddress() { return null; }
    }

    static final HeadersView HEADERS = new HeadersView() {
        public String get(CharSequence name) { return name.toString().equals("x-request-id") ? "6f1c0f6c" : null; }
        public List<String> getAll(CharSequence name) { return List.of(); }
        public boolean contains(CharSequence name) { return get(name) != null; }
        public void set(CharSequence name, String value) {}
        public void add(CharSequence name, String value) {}
        public void remove(CharSequence name) {}
    };

    @Setup(Level.Trial)
    public void setUp() {
        ServiceSpec reviews = new ServiceSpec(new NamespacedName("demo", "reviews"), Map.of(),
                List.of(HostPort.parseIp("10.96.0.10")), List.of(new ServicePortSpec("http", 9080, 9080, null, null)),
                Map.of("app", "reviews"), SourceRef.NONE);
        PodSpec pod = new PodSpec(new NamespacedName("demo", "reviews-v2-7d9f8c6b5d-x2k4q"),
                Map.of("app", "reviews", "version", "v2"), "bookinfo-reviews", HostPort.parseIp("10.244.0.12"), true,
                Map.of(), SourceRef.NONE, new WorkloadRef("Deployment", "reviews-v2"));
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.10:9080"), reviews,
                reviews.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, new SpiffeId("cluster.local", "demo", "curl"), null,
                new InetSocketAddress("10.244.0.5", 41000), null,
                "k8s.cluster.name=Kubernetes,k8s.namespace.name=demo,k8s.deployment.name=curl,service.name=curl,service.version=v1",
                null);
        // as the server compiles it: the Telemetry API's part is there, with no Telemetry object (NONE)
        ResourceSet resources = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .services(List.of(reviews)).build();
        ConfigSnapshot snapshot = ConfigSnapshot.compile(0, resources,
                List.of(new TelemetryPolicyCompiler("istio-system")), new Diagnostics());
        // a Telemetry on the Service that turns REQUEST_SIZE off (no tagOverrides: the fast path)
        ConfigSnapshot withTelemetry = ConfigSnapshot.compile(1, resources.toBuilder().telemetries(List.of(
                new TelemetrySpec(new NamespacedName("demo", "no-request-size"),
                        List.of(new PolicyTargetRef("", "Service", "reviews", null)), false,
                        List.of(new TelemetrySpec.Metrics(List.of(), List.of(new TelemetrySpec.MetricsOverride(
                                TelemetrySpec.Metric.REQUEST_SIZE, TelemetrySpec.Mode.CLIENT_AND_SERVER, true, Map.of())))),
                        List.of(), List.of(), SourceRef.NONE))).build(),
                List.of(new TelemetryPolicyCompiler("istio-system")), new Diagnostics());
        // a Telemetry on the Service whose tagOverrides add request_host to istio_requests_total (the slower path)
        ConfigSnapshot withAddedLabel = ConfigSnapshot.compile(2, resources.toBuilder().telemetries(List.of(
                new TelemetrySpec(new NamespacedName("demo", "request-host"),
                        List.of(new PolicyTargetRef("", "Service", "reviews", null)), false,
                        List.of(new TelemetrySpec.Metrics(List.of(), List.of(new TelemetrySpec.MetricsOverride(
                                TelemetrySpec.Metric.REQUEST_COUNT, TelemetrySpec.Mode.CLIENT_AND_SERVER, null,
                                Map.of("request_host", new TelemetrySpec.TagOverride(false, "request.host")))))),
                        List.of(), List.of(), SourceRef.NONE))).build(),
                List.of(new TelemetryPolicyCompiler("istio-system")), new Diagnostics());
        filter = new TelemetryFilter(new IstioMetrics(10_000), null, "cluster.local", "Kubernetes");
        http = finished(tunnel, snapshot, target, reviews, pod, false);
        grpc = finished(tunnel, snapshot, target, reviews, pod, true);
        httpWithTelemetry = finished(tunnel, withTelemetry, target, reviews, pod, false);
        httpWithAddedLabel = finished(tunnel, withAddedLabel, target, reviews, pod, false);
        filter.onComplete(http); // the label sets exist: the steady state is measured
        filter.onComplete(grpc);
        filter.onComplete(httpWithTelemetry);
        filter.onComplete(httpWithAddedLabel);
        // TCP tunnels, reported at close (no event loop here: no periodic reports); no access log
        this.tunnel = tunnel;
        this.pod = pod;
        tcp = new dev.waypoint.telemetry.TunnelTelemetry(new IstioMetrics(10_000), null,
                dev.waypoint.model.SnapshotSource.from(() -> snapshot), "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint"));
        // a Telemetry on the Service whose tagOverrides add upstream_peer to the TCP metrics (ALL_METRICS)
        ConfigSnapshot withTcpLabel = ConfigSnapshot.compile(3, resources.toBuilder().telemetries(List.of(
                new TelemetrySpec(new NamespacedName("demo", "upstream-peer"),
                        List.of(new PolicyTargetRef("", "Service", "reviews", null)), false,
                        List.of(new TelemetrySpec.Metrics(List.of(), List.of(new TelemetrySpec.MetricsOverride(
                                TelemetrySpec.Metric.TCP_OPENED_CONNECTIONS, TelemetrySpec.Mode.CLIENT_AND_SERVER, null,
                                Map.of("upstream_peer", new TelemetrySpec.TagOverride(false, "upstream.address")))))),
                        List.of(), List.of(), SourceRef.NONE))).build(),
                List.of(new TelemetryPolicyCompiler("istio-system")), new Diagnostics());
        tcpWithAddedLabel = new dev.waypoint.telemetry.TunnelTelemetry(new IstioMetrics(10_000), null,
                dev.waypoint.model.SnapshotSource.from(() -> withTcpLabel), "cluster.local", "Kubernetes", new NamespacedName("istio-system", "waypoint"));
        recordTcpTunnel(); // the label sets exist
        recordTcpTunnelWithAddedLabel();
    }

    static RequestContext finished(TunnelContext tunnel, ConfigSnapshot snapshot, Target target, ServiceSpec svc, PodSpec pod,
                                   boolean grpc) {
        RequestOutcome o = new RequestOutcome(1_000_000_000L);
        RequestContext rc = new RequestContext(tunnel, snapshot, target, new Attrs(grpc, HEADERS, tunnel), HEADERS, o);
        rc.set(RouteSelection.KEY, new RouteSelection("default", new RouteSelection.ServiceBackend(svc, svc.ports().get(0))));
        o.route("default");
        o.attempt("10.244.0.12:9080", pod, pod.identity("cluster.local"));
        o.status(200);
        if (grpc) {
            o.grpcStatus(0);
            o.addRequestMessages(1);
            o.addResponseMessages(3);
        }
        o.addResponseBytes(295);
        o.responseStarted(1_006_000_000L);
        o.close(RequestOutcome.End.RESPONSE, 1_012_000_000L);
        return rc;
    }

    @Benchmark
    public void recordHttp() {
        filter.onComplete(http);
    }

    /** A Telemetry applies (one metric off): the merged settings are a map lookup, no more. */
    @Benchmark
    public void recordHttpWithTelemetry() {
        filter.onComplete(httpWithTelemetry);
    }

    /**
     * A Telemetry's tagOverrides add a label: the CEL attributes are built and the label set is
     * rendered per request (the slower path; the other metrics take the standard series).
     */
    @Benchmark
    public void recordHttpWithAddedLabel() {
        filter.onComplete(httpWithAddedLabel);
    }

    @Benchmark
    public void recordGrpc() {
        filter.onComplete(grpc);
    }

    /**
     * One TCP tunnel opened and closed with no Telemetry applying: its label arrays and the
     * outcome are built per tunnel (as before tagOverrides reached the TCP metrics), nothing more.
     */
    @Benchmark
    public void recordTcpTunnel() {
        tunnel(tcp);
    }

    /** As {@link #recordTcpTunnel}, with a TCP tagOverride: the CEL runs once per tunnel, at its open. */
    @Benchmark
    public void recordTcpTunnelWithAddedLabel() {
        tunnel(tcpWithAddedLabel);
    }

    private void tunnel(dev.waypoint.telemetry.TunnelTelemetry observer) {
        dev.waypoint.model.request.TcpOutcome o = new dev.waypoint.model.request.TcpOutcome(1_000_000_000L);
        o.endpoint("10.244.0.12:9080", pod, pod.identity("cluster.local"));
        observer.tcpOpened(tunnel, o);
        o.addReceived(100);
        o.addSent(2000);
        o.close(2_000_000_000L);
        observer.tcpClosed(tunnel, o);
    }
}
