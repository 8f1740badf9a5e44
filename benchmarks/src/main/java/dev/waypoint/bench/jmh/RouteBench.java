package dev.waypoint.bench.jmh;

import dev.waypoint.config.ConfigValidator;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.routing.HttpRouteCompiler;
import dev.waypoint.routing.RouteFilter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The {@code route} stage for one request to a Service with {@code routes} HTTPRoutes attached
 * (each one rule: a PathPrefix and a header match), compiled from real manifests by the product's
 * translator and {@code HttpRouteCompiler}; the request matches the lowest-ranked route. One op =
 * a fresh {@link RequestContext} (the benchmark's) and {@code RouteFilter.onRequest}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RouteBench {
    @Param({"1", "100", "1000"})
    public int routes;

    private ConfigSnapshot snapshot;
    private Target target;
    private TunnelContext tunnel;
    private RequestAttributes request;
    private final RouteFilter filter = new RouteFilter();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path dir = Files.createTempDirectory("route-bench");
        StringBuilder y = new StringBuilder("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: ns1, labels: {istio.io/use-waypoint: waypoint}}
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint, namespace: ns1}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: b, namespace: ns1}
                spec:
                  clusterIP: 10.96.0.20
                  selector: {app: b}
                  ports: [{name: http, port: 8080}]
                """);
        for (int i = 0; i < routes; i++) {
            y.append("""
                    ---
                    apiVersion: gateway.networking.k8s.io/v1
                    kind: HTTPRoute
                    metadata: {name: r-%1$d, namespace: ns1, creationTimestamp: "2026-01-01T00:%2$02d:%3$02dZ"}
                    spec:
                      parentRefs: [{group: "", kind: Service, name: b, port: 8080}]
                      rules:
                      - matches: [{path: {type: PathPrefix, value: /api/v%1$d}, headers: [{name: x-team, value: t%1$d}]}]
                        backendRefs: [{name: b, port: 8080}]
                    """.formatted(i, (i / 60) % 60, i % 60));
        }
        Files.writeString(dir.resolve("mesh.yaml"), y);
        ConfigValidator.Loaded loaded = ConfigValidator.load(dir, new NamespacedName("ns1", "waypoint"), "cluster.local",
                List.of(new TargetTableCompiler(), new HttpRouteCompiler()));
        snapshot = loaded.snapshot();
        if (snapshot == null || loaded.problems().stream().anyMatch(p -> p.toString().contains("error"))) {
            throw new IllegalStateException("bench config does not compile: " + loaded.problems());
        }
        target = (Target) TargetResolver.resolve("10.96.0.20:8080", snapshot.part(TargetTable.PART));
        tunnel = new TunnelContext(target, new SpiffeId("cluster.local", "ns1", "client"), null, null, null, null, null);
        // "/api/v1" is a prefix of "/api/v10".."/api/v19" too: the last route, shortest-prefix ties
        // aside, ranks low; its own header makes it the only match
        int last = routes - 1;
        AuthzBench.Request base = new AuthzBench.Request("GET", "/api/v" + last + "/items", tunnel.peer(),
                new InetSocketAddress("10.96.0.20", 8080));
        request = new Attrs(base, new TeamHeader(List.of(), "t" + last));
        RequestContext rc = context();
        if (!(filter.onRequest(rc) == FilterResult.CONTINUE) || !rc.get(RouteSelection.KEY).routeName().contains("r-" + last)) {
            throw new IllegalStateException("the bench request does not take route r-" + last + ": " + rc.get(RouteSelection.KEY));
        }
    }

    /** Request headers for the benchmark: {@code x-team} only. */
    record TeamHeader(List<String> none, String team) implements dev.waypoint.model.request.HeadersView {
        public String get(CharSequence n) { return "x-team".contentEquals(n) ? team : null; }
        public List<String> getAll(CharSequence n) { String v = get(n); return v == null ? none : List.of(v); }
        public boolean contains(CharSequence n) { return get(n) != null; }
        public void set(CharSequence n, String v) {}
        public void add(CharSequence n, String v) {}
        public void remove(CharSequence n) {}
    }

    record Attrs(AuthzBench.Request base, TeamHeader headers) implements RequestAttributes {
        public String method() { return base.method(); }
        public String path() { return base.path(); }
        public String host() { return base.host(); }
        public String scheme() { return "http"; }
        public String protocol() { return "HTTP/1.1"; }
        public boolean grpc() { return false; }
        public SpiffeId sourcePrincipal() { return base.sourcePrincipal(); }
        public InetSocketAddress sourceAddress() { return null; }
        public InetSocketAddress destinationAddress() { return base.destinationAddress(); }
    }

    private RequestContext context() {
        return new RequestContext(tunnel, snapshot, target, request, request.headers(), new RequestOutcome(0));
    }

    @Benchmark
    public Object route() {
        RequestContext rc = context();
        filter.onRequest(rc);
        return rc.get(RouteSelection.KEY);
    }
}
