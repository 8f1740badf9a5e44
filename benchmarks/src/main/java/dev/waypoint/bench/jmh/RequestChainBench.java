package dev.waypoint.bench.jmh;

import dev.waypoint.listener.RequestChain;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
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
import java.util.ArrayList;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One HTTP/1.1 request through the exchange handler and its filter chain, on an
 * {@link EmbeddedChannel}, with an upstream stage that answers at once: what the waypoint's own
 * request machinery costs per request (context, snapshot pin, target re-resolution, filters,
 * response and outcome), without codecs or sockets. {@code filters} pass-through filters run in
 * front; run with {@code -prof gc}: {@code gc.alloc.rate.norm} must not grow with the filter
 * count (a filter that continues allocates nothing in the chain).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RequestChainBench {
    /** Pass-through filters in front of the upstream stage. */
    @Param({"0", "8"})
    public int filters;

    private EmbeddedChannel channel;

    /** Continues, and sees the response and the outcome. */
    static final class PassThrough implements HttpFilter {
        long seen;

        @Override
        public String name() {
            return "pass";
        }

        @Override
        public FilterResult onRequest(RequestContext request) {
            return FilterResult.CONTINUE;
        }

        @Override
        public void onComplete(RequestContext request) {
            seen += request.outcome().status();
        }
    }

    /** Answers 200 with an empty body as soon as the request starts (a full request: nothing follows). */
    static final UpstreamStage ANSWER = (request, head, h2, loop, sink) -> {
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
    public void setUp() {
        NamespacedName self = new NamespacedName("istio-system", "waypoint");
        GatewaySpec gw = new GatewaySpec(self, "istio-waypoint", Map.of(),
                List.of(new GatewaySpec.Listener("mesh", 15008, "HBONE")), "All", LabelSelector.EVERYTHING, SourceRef.NONE);
        ServiceSpec svc = new ServiceSpec(new NamespacedName("bench", "web"), Map.of("istio.io/use-waypoint", "waypoint",
                "istio.io/use-waypoint-namespace", "istio-system"), List.of(HostPort.parseIp("10.96.0.10")),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "web"), SourceRef.NONE);
        ResourceSet rs = ResourceSet.builder(self, "cluster.local").namespaces(List.of(new NamespaceSpec("bench", Map.of(), SourceRef.NONE))).services(List.of(svc)).gateways(List.of(gw)).build();
        ConfigSnapshot snapshot = ConfigSnapshot.compile(0, rs, List.of(new TargetTableCompiler()), new Diagnostics());
        Target target = (Target) TargetResolver.resolve("10.96.0.10:80", snapshot.part(TargetTable.PART));
        List<HttpFilter> list = new ArrayList<>();
        for (int i = 0; i < filters; i++) {
            list.add(new PassThrough());
        }
        RequestChain chain = new RequestChain(list, ANSWER);
        channel = new EmbeddedChannel(chain.exchangeHandler(new TunnelContext(target, null, null, null, null, null, null),
                SnapshotSource.of(snapshot), false));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    @Benchmark
    public Object request() {
        DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/api/v1/items?id=42",
                Unpooled.EMPTY_BUFFER);
        req.headers().set(HttpHeaderNames.HOST, "web.bench");
        channel.writeInbound(req);
        Object res = channel.readOutbound();
        ReferenceCountUtil.release(res);
        return res;
    }

    private static final byte[] BODY = "{\"id\":42,\"name\":\"item\"}".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /**
     * A POST whose body comes as its own piece after the head: the body path through the exchange
     * (no filter wants it, so it is relayed as it came: the B/op must not grow with the filters).
     */
    @Benchmark
    public Object requestWithBody() {
        io.netty.handler.codec.http.DefaultHttpRequest req = new io.netty.handler.codec.http.DefaultHttpRequest(
                HttpVersion.HTTP_1_1, HttpMethod.POST, "/api/v1/items");
        req.headers().set(HttpHeaderNames.HOST, "web.bench").set(HttpHeaderNames.CONTENT_LENGTH, BODY.length);
        channel.writeInbound(req);
        channel.writeInbound(new io.netty.handler.codec.http.DefaultLastHttpContent(Unpooled.wrappedBuffer(BODY)));
        Object res = channel.readOutbound();
        ReferenceCountUtil.release(res);
        return res;
    }
}
