package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The spine, end to end: a real waypoint started from a manifests directory and a test CA,
 * spoken to over HBONE by a Netty client, forwarding over HBONE to destination-ztunnel stand-ins
 * that record what they were sent. Loopback range 127.20.x.x.
 */
class HboneEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = HboneEndToEndTest.class.getResourceAsStream("/e2e/mesh.yaml")) {
            Files.copy(in, configDir.resolve("mesh.yaml"));
        }
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() {
        client.close();
    }

    private Channel tunnel(String authority) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of(
                "forwarded", "for=\"127.0.0.9:41000\"",
                "baggage", "k8s.namespace.name=apps,k8s.deployment.name=client",
                "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        return a.tunnel();
    }

    private HboneTestClient.Answer refused(String authority) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.tunnel()).isNull();
        return a;
    }

    private static FullHttpRequest get(String path) {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        return r;
    }

    private static String body(FullHttpResponse r) {
        return r.content().toString(StandardCharsets.UTF_8);
    }

    @Test
    void http1RequestsAreLoadBalancedAndForwardedOverHboneWithTheWaypointIdentity() throws Exception {
        Set<String> servers = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            Channel t = tunnel("127.20.0.1:80");
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            t.writeAndFlush(get("/hello"));
            FullHttpResponse r = Tunnels.take(q);
            try {
                assertThat(r.status().code()).isEqualTo(200);
                servers.add(r.headers().get("x-echo-server"));
                assertThat(body(r)).contains("path=/hello").contains("header host=web.apps");
            } finally {
                r.release();
            }
            t.close();
        }
        assertThat(servers).containsExactlyInAnyOrder("web-v1", "web-v2");
        // upstream connections are pooled, so earlier tests may have opened them: check every CONNECT
        // the web pods' ztunnels ever received
        List<DestinationZtunnel.Seen> seen = mesh.ztunnels().seen().stream()
                .filter(s -> s.authority().startsWith("127.20.1.1:") || s.authority().startsWith("127.20.1.2:")).toList();
        assertThat(seen).isNotEmpty();
        for (DestinationZtunnel.Seen s : seen) {
            // "CONNECT podIP:targetPort" to "podIP:15008", presenting the waypoint's own identity
            assertThat(s.authority()).isIn("127.20.1.1:8080", "127.20.1.2:8080");
            assertThat(s.listener().getAddress().getHostAddress()).isEqualTo(s.authority().split(":")[0]);
            assertThat(s.peer()).isEqualTo(new SpiffeId("cluster.local", "istio-system", "waypoint"));
            assertThat(s.headers()).containsEntry(":method", "CONNECT")
                    .containsEntry("forwarded", "for=\"127.0.0.9:41000\"")
                    .containsEntry("baggage", "k8s.namespace.name=apps,k8s.deployment.name=client");
            assertThat(s.headers().get("traceparent")).startsWith("00-0af7651916cd43dd8448eb211c80319c-").hasSize(55);
        }
    }

    @Test
    void keepAliveCarriesManyRequestsWithBodiesOnOneTunnel() throws Exception {
        Channel t = tunnel("127.20.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        // content-length body
        FullHttpRequest post = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo",
                Unpooled.copiedBuffer("x".repeat(100_000), StandardCharsets.UTF_8));
        HttpUtil.setContentLength(post, post.content().readableBytes());
        post.headers().set(HttpHeaderNames.HOST, "web.apps");
        t.writeAndFlush(post);
        FullHttpResponse r1 = Tunnels.take(q);
        assertThat(body(r1)).hasSize(100_000);
        r1.release();
        // chunked body
        HttpRequest chunked = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.PUT, "/echo");
        HttpUtil.setTransferEncodingChunked(chunked, true);
        chunked.headers().set(HttpHeaderNames.HOST, "web.apps");
        t.write(chunked);
        t.write(new DefaultHttpContent(Unpooled.copiedBuffer("part1-", StandardCharsets.UTF_8)));
        t.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("part2", StandardCharsets.UTF_8)));
        FullHttpResponse r2 = Tunnels.take(q);
        assertThat(body(r2)).isEqualTo("part1-part2");
        r2.release();
        // and a plain GET after both
        t.writeAndFlush(get("/third"));
        FullHttpResponse r3 = Tunnels.take(q);
        assertThat(r3.status().code()).isEqualTo(200);
        assertThat(body(r3)).contains("path=/third");
        r3.release();
        assertThat(t.isActive()).isTrue();
        t.close();
    }

    @Test
    void keepAliveRequestsReuseTheUpstreamConnectionInsideOneOutboundTunnel() throws Exception {
        Channel t = tunnel("127.20.1.1:8080"); // one pod
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.writeAndFlush(get("/first"));
        Tunnels.take(q).release();
        int before = mesh.ztunnels().seen().size();
        for (int i = 0; i < 10; i++) {
            t.writeAndFlush(get("/again"));
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).isEqualTo(200);
            r.release();
        }
        // the upstream HTTP/1.1 connection (inside its HBONE CONNECT) went back to the pool and was reused
        assertThat(mesh.ztunnels().seen().size() - before).isZero();
        t.close();
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        Channel t = tunnel("127.20.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.write(get("/one"));
        t.write(get("/two"));
        t.writeAndFlush(get("/three"));
        for (String p : List.of("/one", "/two", "/three")) {
            FullHttpResponse r = Tunnels.take(q);
            assertThat(body(r)).contains("path=" + p);
            r.release();
        }
        t.close();
    }

    @Test
    void connectionCloseEndsTheTunnelAfterTheResponse() throws Exception {
        Channel t = tunnel("127.20.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest req = get("/bye");
        req.headers().set(HttpHeaderNames.CONNECTION, "close");
        t.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.headers().get(HttpHeaderNames.CONNECTION)).isEqualToIgnoringCase("close");
        r.release();
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
    }

    @Test
    void h2cRequestsAreForwardedAsHttp2() throws Exception {
        Channel t = tunnel("127.20.0.2:9090");
        Tunnels.h2c(t);
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        Http2StreamChannel s = Tunnels.h2cStream(t, q);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/h2");
        req.headers().set(HttpHeaderNames.HOST, "grpc.apps:9090");
        s.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get("x-echo-server")).isEqualTo("grpc-v1");
        assertThat(body(r)).contains("path=/h2").doesNotContain("x-http2");
        r.release();
        t.close();
    }

    @Test
    void grpcStreamingKeepsMessagesAndTrailers() throws Exception {
        Channel t = tunnel("127.20.0.2:9090");
        Tunnels.h2c(t);
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        Http2StreamChannel s = Tunnels.h2cStream(t, q);
        HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo.Echo/Stream");
        req.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc").set("te", "trailers")
                .set(HttpHeaderNames.HOST, "grpc.apps:9090");
        s.write(req);
        s.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 2, 'h', 'i'})));
        s.writeAndFlush(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 3, 'y', 'o', 'u'})));
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/grpc");
        assertThat(r.content().readableBytes()).isEqualTo(15);
        assertThat(r.trailingHeaders().get("grpc-status")).isEqualTo("0");
        r.release();
        t.close();
    }

    /**
     * An HTTP/1.1 {@code Connection: close} ends the tunnel as a TCP close does (RFC 9113 §8.5):
     * the response, then END_STREAM; a client that answers with its own END_STREAM gets no
     * RST_STREAM (which its ztunnel would turn into a TCP RST) when it sends it a little later; one
     * that keeps its side open is reset after the linger.
     */
    @ParameterizedTest(name = "client ends its side: {0}")
    @ValueSource(booleans = {true, false})
    void connectionCloseEndsTheTunnelWithEndStream(boolean clientEnds) throws Exception {
        Channel t = tunnel("127.20.0.1:80");
        List<String> events = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    events.add("END_STREAM");
                    if (clientEnds) {
                        // a round trip later, as a source ztunnel relays the FIN to its app and back
                        ctx.executor().schedule(() -> dev.waypoint.transport.HalfClose.shutdownOutput(ctx.channel()),
                                100, TimeUnit.MILLISECONDS);
                    }
                } else if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame r) {
                    events.add("RST_STREAM " + io.netty.handler.codec.http2.Http2Error.valueOf(r.errorCode()));
                }
                ctx.fireUserEventTriggered(evt);
            }
        });
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest req = get("/closing");
        req.headers().set(HttpHeaderNames.CONNECTION, "close");
        t.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get(HttpHeaderNames.CONNECTION)).isEqualToIgnoringCase("close");
        r.release();
        assertThat(t.closeFuture().await(10, TimeUnit.SECONDS)).as("tunnel closed").isTrue();
        if (clientEnds) {
            assertThat(events).containsExactly("END_STREAM");
        } else {
            assertThat(events).containsExactly("END_STREAM", "RST_STREAM CANCEL");
        }
    }

    @Test
    void tcpPortsRelayBytesAndHalfClose() throws Exception {
        Channel t = tunnel("127.20.0.3:7000");
        CompletableFuture<String> echoed = new CompletableFuture<>();
        StringBuilder got = new StringBuilder();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    echoed.complete(got.toString()); // the echo server's FIN arrived as END_STREAM
                }
            }
        });
        t.write(Unpooled.copiedBuffer("\u0001binary-ish payload", StandardCharsets.UTF_8));
        t.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        assertThat(echoed.get(10, TimeUnit.SECONDS)).isEqualTo("\u0001binary-ish payload");
    }

    @Test
    void undeclaredPortsAreSniffed() throws Exception {
        Channel t = tunnel("127.20.0.4:8000");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.writeAndFlush(get("/sniffed"));
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.headers().get("x-echo-server")).startsWith("web-v");
        r.release();
        t.close();
    }

    @Test
    void endpointsOutsideTheMeshGetPlaintext() throws Exception {
        int before = mesh.ztunnels().seen().size();
        for (String vip : List.of("127.20.0.7:80", "127.20.0.8:80")) {
            Channel t = tunnel(vip);
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            t.writeAndFlush(get("/plain"));
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-echo-server")).isIn("legacy-v1", "external-127.20.2.1");
            r.release();
            t.close();
        }
        assertThat(mesh.ztunnels().seen().subList(before, mesh.ztunnels().seen().size()))
                .noneMatch(s -> s.authority().startsWith("127.20.1.5") || s.authority().startsWith("127.20.2.1"));
    }

    @Test
    void workloadAddressedTrafficGoesToThatPod() throws Exception {
        Channel t = tunnel("127.20.1.2:8080");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        for (int i = 0; i < 3; i++) {
            t.writeAndFlush(get("/pod"));
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-v2");
            r.release();
        }
        t.close();
    }

    @Test
    void aServiceWithoutEndpointsAnswers503() throws Exception {
        Channel t = tunnel("127.20.0.5:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.writeAndFlush(get("/"));
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(503);
        assertThat(body(r)).startsWith("no_healthy_upstream: service apps/empty port 80 has no ready endpoints");
        r.release();
        // the tunnel stays usable (keep-alive after a local reply)
        t.writeAndFlush(get("/again"));
        FullHttpResponse r2 = Tunnels.take(q);
        assertThat(r2.status().code()).isEqualTo(503);
        r2.release();
        t.close();
    }

    @Test
    void grpcClientsGetLocalRepliesAsGrpcStatus() throws Exception {
        Channel t = tunnel("127.20.0.5:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/pkg.Svc/Call");
        req.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc").set(HttpHeaderNames.CONTENT_LENGTH, 0)
                .set(HttpHeaderNames.HOST, "grpc.apps");
        t.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get("grpc-status")).isEqualTo("14"); // UNAVAILABLE
        assertThat(r.headers().get("grpc-message")).startsWith("no_healthy_upstream");
        r.release();
        t.close();
    }

    @Test
    void targetsNotBoundHereAreRefusedBeforeTheTunnel() throws Exception {
        assertThat(refused("127.20.0.6:80").status()).isEqualTo(400); // use-waypoint=none
        assertThat(refused("127.20.0.6:80").body()).contains("opts out");
        assertThat(refused("10.1.2.3:80").body()).startsWith("target_not_bound:");
        assertThat(refused("127.20.0.1:81").body()).contains("not one of its ports");
        assertThat(refused("web.apps:80").body()).startsWith("bad_authority:");
        assertThat(refused("127.20.0.1").status()).isEqualTo(400);
    }

    @Test
    void nonConnectStreamsAreRefused() throws Exception {
        HboneTestClient.Answer a = client.send(new DefaultHttp2Headers().method("GET").path("/").scheme("https")
                .authority("127.20.0.1:80"), true).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).startsWith("not_connect:");
    }

    @Test
    void malformedInnerRequestsGet400AndTooLargeHeaders431() throws Exception {
        Channel t = tunnel("127.20.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest big = get("/big");
        big.headers().set("x-huge", "a".repeat(70_000));
        t.writeAndFlush(big);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(431);
        r.release();
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
    }

    @Test
    void clientsFromAnotherCaAreRefusedAtTheHandshake() {
        TestCa other = TestCa.create("cluster.local");
        assertThatThrownBy(() -> {
            try (HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                    other.issue(new SpiffeId("cluster.local", "apps", "intruder")).material())) {
                c.connect("127.20.0.1:80", Map.of()).get(5, TimeUnit.SECONDS);
            }
        }).isNotNull();
    }

    @Test
    void aSlowReaderHoldsBackTheUpstreamInsteadOfBuffering() throws Exception {
        // the client on an event loop of its own: the fixtures' loops also run the backend, and a
        // client stuck behind the backend's work would not read for reasons of its own
        EventLoopGroup clientLoop = EventLoops.newGroup(1, "slow-reader");
        try (HboneTestClient own = HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            // one pod, so the backend that produces the body is known
            HboneTestClient.Answer a = own.connect("127.20.1.1:8080", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            SlowReader.holdsTheBackendBack(t, mesh.backend("127.20.1.1", 8080), "web");
        } finally {
            clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void outboundTunnelsArePooledAndMultiplexed() throws Exception {
        List<Channel> tunnels = new java.util.ArrayList<>();
        List<BlockingQueue<FullHttpResponse>> queues = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Channel t = tunnel("127.20.1.1:8080"); // one pod: every request goes to the same ztunnel
            tunnels.add(t);
            queues.add(Tunnels.http1(t));
        }
        for (Channel t : tunnels) {
            t.writeAndFlush(get("/pooled"));
        }
        for (BlockingQueue<FullHttpResponse> q : queues) {
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).isEqualTo(200);
            r.release();
        }
        // six concurrent requests, at most one HBONE connection per event loop (two loops) to that pod
        long toPod = mesh.waypoint().outboundConnections();
        assertThat(toPod).isBetween(1L, 8L);
        tunnels.forEach(Channel::close);
    }

    @Test
    void aDestinationThatRefusesTheConnectGives503WithTheReason() throws Exception {
        mesh.ztunnels().refuseWith(401);
        try {
            // a TCP port: the upstream is connected before the answer, so the refusal is the answer
            HboneTestClient.Answer a = refused("127.20.0.3:7000");
            assertThat(a.status()).isEqualTo(503); // as ztunnel answers a failed upstream connect
            assertThat(a.body()).startsWith("upstream_connect_failure:").contains("answered CONNECT 127.20.1.4:7000 with 401");
        } finally {
            mesh.ztunnels().refuseWith(0);
        }
    }

    @Test
    void healthAndConfigDumpDescribeWhatIsLoaded() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> ready = http.send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + mesh.waypoint().adminAddress("health").getPort() + "/healthz/ready")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
        HttpResponse<String> dump = http.send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(dump.statusCode()).isEqualTo(200);
        assertThat(dump.body()).contains("\"127.20.0.1:80\"").contains("apps/web").contains("opts out");
    }

    @Test
    void istioStandardMetricsAreServedForRequests() throws Exception {
        Channel t = tunnel("127.20.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.writeAndFlush(get("/metrics-probe"));
        FullHttpResponse r = Tunnels.take(q);
        String pod = r.headers().get("x-echo-server");
        r.release();
        t.close();
        HttpClient http = HttpClient.newHttpClient();
        URI stats = URI.create("http://127.0.0.1:" + mesh.waypoint().adminAddress("stats").getPort() + "/stats/prometheus");
        // the outcome closes as the last byte is written: the scrape may come a moment before it
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            String body = http.send(java.net.http.HttpRequest.newBuilder(stats).build(), HttpResponse.BodyHandlers.ofString())
                    .body();
            assertThat(body).contains("# TYPE istio_requests_total counter");
            assertThat(body.lines().filter(l -> l.startsWith("istio_requests_total{")
                    && l.contains("destination_workload=\"" + pod + "\"") && l.contains("response_code=\"200\"")
                    && l.contains("destination_service=\"web.apps.svc.cluster.local\"")).findFirst())
                    .hasValueSatisfying(l -> assertThat(l).contains("reporter=\"waypoint\"",
                            "source_principal=\"spiffe://cluster.local/ns/apps/sa/client\"",
                            "source_workload=\"client\"", "destination_service_name=\"web\"",
                            "destination_principal=\"spiffe://cluster.local/ns/apps/sa/web\"",
                            "request_protocol=\"http\"", "response_flags=\"-\""));
        });
    }

    @Test
    void configChangesApplyWithoutRestartAndBrokenChangesKeepTheLastGoodConfig() throws Exception {
        long gen = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("added.yaml"), """
                apiVersion: v1
                kind: Service
                metadata: {name: added, namespace: apps}
                spec:
                  clusterIP: 127.20.0.9
                  selector: {app: web}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                """);
        await().atMost(Duration.ofSeconds(5)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
        Channel t = tunnel("127.20.0.9:80");
        t.close();
        // now break that file: the service keeps being served from the last good version
        long gen2 = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("added.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: added\n");
        await().atMost(Duration.ofSeconds(5)).until(() -> mesh.waypoint().snapshots().current().generation() > gen2);
        assertThat(mesh.waypoint().snapshots().current().problems()).anySatisfy(p -> assertThat(p.toString()).contains("added.yaml"));
        tunnel("127.20.0.9:80").close();
        Files.delete(configDir.resolve("added.yaml"));
        await().atMost(Duration.ofSeconds(5)).until(() -> refusedNow("127.20.0.9:80"));
    }

    private boolean refusedNow(String authority) throws Exception {
        return client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS).status() == 400;
    }

    @Test
    void rotatedCertificatesAreUsedForNewConnections() throws Exception {
        X509Certificate before = serverLeaf(client);
        TestCa.Issued next = mesh.ca().issue(new SpiffeId("cluster.local", "istio-system", "waypoint"));
        next.writeIstioLayout(mesh.certDir());
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            try (HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                    mesh.workload("apps", "client"))) {
                return serverLeaf(c).getSerialNumber().equals(next.leaf().getSerialNumber());
            }
        });
        // the connection made before the rotation still works
        Channel t = tunnel("127.20.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.writeAndFlush(get("/after-rotation"));
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        r.release();
        assertThat(before.getSerialNumber()).isNotEqualTo(next.leaf().getSerialNumber());
    }

    private static X509Certificate serverLeaf(HboneTestClient c) throws IOException {
        try {
            return (X509Certificate) c.channel().pipeline().get(SslHandler.class).engine().getSession().getPeerCertificates()[0];
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
            throw new IOException(e);
        }
    }
}
