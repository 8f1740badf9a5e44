package dev.waypoint.server;

import dev.waypoint.authn.AuthnFilter;
import dev.waypoint.authn.JwksCache;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.bench.e2e.ManifestGen;
import dev.waypoint.config.ConfigValidator;
import dev.waypoint.listener.RequestChain;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.telemetry.IstioMetrics;
import dev.waypoint.telemetry.TelemetryFilter;
import dev.waypoint.transport.UpstreamCall;
import dev.waypoint.transport.UpstreamStage;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One HTTP/1.1 request through the exchange handler with the product's own filter list
 * ({@link InboundRequestPipeline#filters}: telemetry with Istio's metrics, path normalization,
 * the wasm phases, authn, authz, route; in package {@code dev.waypoint.server} to reach it) over a
 * snapshot compiled by the server's compilers from real manifests (ManifestGen's scale set: 10
 * Services, 10 AuthorizationPolicies plus a Gateway-wide DENY, 10 HTTPRoutes), and an in-memory
 * upstream that answers 200 at once after recording the attempt on svc-0's pod ({@code pod=false}:
 * no endpoint, telemetry's destination-pod labels are "unknown"); the tunnel carries a source peer identity and baggage. The request is allowed by its policy and matched by its
 * route, so every stage runs and continues. {@code stages} keeps the first N filters of the list,
 * so {@code -prof gc}'s {@code gc.alloc.rate.norm} differences are what each stage allocates:
 * 0 = the exchange alone, 1 = + telemetry, 2 = + normalization, 4 = + wasm-authn and authn,
 * 6 = + wasm-authz and authz, 9 = everything (+ the two later wasm phases and the route).
 *
 * <pre>java -cp benchmarks/target/waypoint-bench.jar org.openjdk.jmh.Main FullChainBench -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 4, time = 2)
public class FullChainBench {
    @Param({"0", "1", "2", "4", "6", "9"})
    public int stages;

    /** Whether the upstream reports an endpoint pod (then telemetry fills the destination workload labels). */
    @Param({"true"})
    public boolean pod;

    private EmbeddedChannel channel;
    private Path dir;

    /** The source ztunnel's baggage on the CONNECT (what telemetry reads the source labels from). */
    static final String BAGGAGE = "k8s.cluster.name=Kubernetes,k8s.namespace.name=ns-0,k8s.deployment.name=client-0,"
            + "service.name=client,service.version=v1";

    /** The endpoint pod the in-memory upstream reports as picked (svc-0's pod), or null for none. */
    private PodSpec endpointPod;

    /**
     * Answers 200 with an empty body as soon as the request starts, after recording the attempt
     * on the endpoint pod as the real upstream stage does (telemetry's destination labels read it).
     */
    private final UpstreamStage answer = (request, head, h2, loop, sink) -> {
        if (endpointPod != null) {
            request.outcome().attempt("10.1.0.0:8080", endpointPod, endpointPod.identity("cluster.local"));
        }
        ReferenceCountUtil.release(head);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
        res.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
        sink.responseHead(res);
        return NoCall.INSTANCE;
    };

    enum NoCall implements UpstreamCall {
        INSTANCE;

        @Override
        public void requestContent(HttpContent content) {
            content.release();
        }

        @Override
        public void flushRequest() {}

        @Override
        public boolean isRequestWritable() {
            return true;
        }

        @Override
        public void responseWritable() {}

        @Override
        public void cancel() {}
    }

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("full-chain-bench");
        ManifestGen.writeScale(dir, 10, 1);
        ManifestGen.writePolicies(dir, 10, 1, 10, 10);
        ConfigValidator.Loaded loaded = ConfigValidator.load(dir, NamespacedName.parse("istio-system/waypoint"),
                "cluster.local", WaypointServer.compilers(JwksCache.offline(), AuthzSettings.defaults()));
        if (loaded.snapshot() == null || !loaded.problems().isEmpty()) {
            throw new IllegalStateException("the bench config does not compile cleanly: " + loaded.problems());
        }
        ConfigSnapshot snapshot = loaded.snapshot();
        Target target = (Target) TargetResolver.resolve("10.96.0.0:80", snapshot.part(TargetTable.PART));
        List<HttpFilter> all = InboundRequestPipeline.filters(
                new TelemetryFilter(new IstioMetrics(10_000), null, "cluster.local", "Kubernetes"),
                new AuthnFilter(Clock.systemUTC(), JwksCache.offline()), AuthzSettings.defaults());
        endpointPod = pod ? snapshot.resources().pods().stream()
                .filter(p -> p.name().name().equals("svc-0-0")).findFirst().orElseThrow() : null;
        RequestChain chain = new RequestChain(all.subList(0, Math.min(stages, all.size())), answer);
        TunnelContext tunnel = new TunnelContext(target, new SpiffeId("cluster.local", "ns-0", "client-0"),
                new InetSocketAddress("10.1.0.100", 40000), null, null, BAGGAGE, null);
        channel = new EmbeddedChannel(chain.exchangeHandler(tunnel, SnapshotSource.of(snapshot), false));
        Object check = exchange();
        if (!(check instanceof FullHttpResponse r) || r.status().code() != 200) {
            throw new IllegalStateException("expected 200, got " + check);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        channel.finishAndReleaseAll();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    private Object exchange() {
        DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                "/api/0/items?id=42", Unpooled.EMPTY_BUFFER);
        req.headers().set(HttpHeaderNames.HOST, "svc-0.ns-0");
        req.headers().set(HttpHeaderNames.USER_AGENT, "bench/1.0");
        req.headers().set("x-request-id", "6f1c2f5e-2a4e-4d36-9b5e-0a8e7f1c3b21");
        req.headers().set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        channel.writeInbound(req);
        Object res = channel.readOutbound();
        ReferenceCountUtil.release(res);
        return res;
    }

    @Benchmark
    public Object request() {
        return exchange();
    }
}
