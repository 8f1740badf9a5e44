package dev.waypoint.bench.jmh;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.wasm.WasmFilter;
import dev.waypoint.wasm.WasmPluginCompiler;
import dev.waypoint.wasm.WasmSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
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
 * What one header-adding proxy-wasm plugin costs per request: the wasm filter's full lifecycle of
 * one request (context create, {@code on_request_headers} adding a header, {@code on_response_headers}
 * adding one, {@code on_log}, {@code on_done}, {@code on_delete}) over
 * waypoint-wasm/src/test/plugins/c/add_header.c, built with clang at setup. {@code mode}:
 * {@code none} (no plugin attached: the baseline, the filter's own cost and the request's
 * allocation), {@code compiler} (Chicory's Wasm-to-bytecode compiler, what the waypoint runs) and
 * {@code interpreter}. Needs {@code /usr/bin/clang} with the wasm32-wasi target.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class WasmPluginBench {
    @Param({"none", "compiler", "interpreter"})
    public String mode;

    private static final ServicePortSpec PORT = new ServicePortSpec("http", 8080, 8080, null, "http");
    private static final ServiceSpec SERVICE = new ServiceSpec(new NamespacedName("apps", "echo"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.20")), List.of(PORT), Map.of(), SourceRef.NONE);
    private static final Target TARGET = new Target.ServiceTarget(new HostPort(HostPort.parseIp("10.96.0.20"), 8080),
            SERVICE, PORT);

    private ConfigSnapshot snapshot;
    private TunnelContext tunnel;
    private RequestAttributes attributes;
    private final WasmFilter filter = WasmFilter.at(PluginPhase.UNSPECIFIED);

    @Setup(Level.Trial)
    public void setUp() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("wasm-bench");
        Path wasm = dir.resolve("add_header.wasm");
        Path src = Path.of("waypoint-wasm/src/test/plugins/c/add_header.c");
        if (!Files.exists(src)) {
            src = Path.of("../waypoint-wasm/src/test/plugins/c/add_header.c");
        }
        Process p = new ProcessBuilder("/usr/bin/clang", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-o",
                wasm.toString(), src.toString()).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("clang failed for " + src);
        }
        List<WasmPluginSpec> plugins = mode.equals("none") ? List.of() : List.of(new WasmPluginSpec("WasmPlugin",
                new NamespacedName("apps", "add-header"), List.of(new PolicyTargetRef("", "Service", "echo", null)), false,
                PluginPhase.UNSPECIFIED, 0, wasm.toUri().toString(), null, "", null,
                WasmPluginSpec.FailStrategy.FAIL_CLOSE, Map.of(), List.of(), SourceRef.NONE));
        WasmSettings settings = WasmSettings.defaults(dir.resolve("cache"), "", Map.of()).withCompiler(!mode.equals("interpreter"));
        WasmPluginCompiler compiler = new WasmPluginCompiler(settings, "istio-system", new SimpleMeterRegistry());
        ResourceSet rs = ResourceSet.builder(new NamespacedName("apps", "waypoint"), "cluster.local").wasmPlugins(plugins).build();
        Diagnostics d = new Diagnostics();
        snapshot = ConfigSnapshot.compile(1, rs, List.of(compiler), d);
        if (d.hasErrors()) {
            throw new IllegalStateException(d.problems().toString());
        }
        SpiffeId peer = SpiffeId.parse("spiffe://cluster.local/ns/apps/sa/client").orElseThrow();
        InetSocketAddress src4 = new InetSocketAddress(HostPort.parseIp("10.0.1.10"), 40000);
        InetSocketAddress dst = new InetSocketAddress(HostPort.parseIp("10.96.0.20"), 8080);
        tunnel = new TunnelContext(TARGET, peer, src4, src4, null, null, null);
        attributes = new RequestAttributes() {
            public String method() { return "GET"; }
            public String path() { return "/"; }
            public String host() { return "echo.apps:8080"; }
            public String scheme() { return "http"; }
            public String protocol() { return "HTTP/1.1"; }
            public boolean grpc() { return false; }
            public HeadersView headers() { return null; }
            public SpiffeId sourcePrincipal() { return peer; }
            public InetSocketAddress sourceAddress() { return src4; }
            public InetSocketAddress destinationAddress() { return dst; }
        };
    }

    /** A Netty header block, as the data path hands the stages (HeadersView over HttpHeaders). */
    static final class Headers implements HeadersView {
        final HttpHeaders h = new DefaultHttpHeaders();

        public String get(CharSequence name) { return h.get(name); }
        public List<String> getAll(CharSequence name) { return h.getAll(name); }
        public boolean contains(CharSequence name) { return h.contains(name); }
        public void set(CharSequence name, String value) { h.set(name, value); }
        public void add(CharSequence name, String value) { h.add(name, value); }
        public void remove(CharSequence name) { h.remove(name); }

        @Override
        public void forEach(BiConsumer<String, String> action) {
            h.forEach(e -> action.accept(e.getKey(), e.getValue()));
        }
    }

    @Benchmark
    public Object request() {
        Headers req = new Headers();
        req.add("user-agent", "bench");
        req.add("accept", "*/*");
        RequestContext rc = new RequestContext(tunnel, snapshot, TARGET, attributes, req, new RequestOutcome(0));
        FilterResult r = filter.onRequest(rc);
        Headers res = new Headers();
        res.add("content-type", "text/plain");
        filter.onResponse(rc, 200, res);
        filter.onComplete(rc);
        return r == FilterResult.CONTINUE ? res : null;
    }
}
