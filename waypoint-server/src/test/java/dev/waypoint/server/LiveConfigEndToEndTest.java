package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live tunnels against a changing config, and upstreams that die: a keep-alive HTTP/1.1 tunnel
 * and an h2c connection see config changes on their next request (an endpoint that left is not
 * used; a target that is no longer bound ends the tunnel), and an upstream that closes through
 * its ztunnel ends the request at once. Loopback range 127.44.x.x.
 */
class LiveConfigEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    static String template;
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = LiveConfigEndToEndTest.class.getResourceAsStream("/e2e/live-mesh.yaml")) {
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Files.writeString(configDir.resolve("mesh.yaml"), config(true, true));
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
    void restore() throws Exception {
        client.close();
        apply(true, true);
    }

    static String config(boolean bound, boolean v2InService) {
        return template.replace("SERVICE_LABELS", bound ? "" : "istio.io/use-waypoint: none")
                .replace("WEB_V2_APP", v2InService ? "web" : "other");
    }

    /** Rewrites the manifests and waits until the waypoint runs the new generation. */
    static void apply(boolean bound, boolean v2InService) throws Exception {
        String next = config(bound, v2InService);
        if (next.equals(Files.readString(configDir.resolve("mesh.yaml")))) {
            return;
        }
        long gen = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("mesh.yaml"), next);
        await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
    }

    private Channel tunnel(String authority) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        return a.tunnel();
    }

    private static FullHttpRequest get(String path) {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        return r;
    }

    /** Which pods answered {@code n} requests on the tunnel. */
    private static Set<String> servedBy(Channel t, BlockingQueue<FullHttpResponse> q, int n) throws Exception {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            t.writeAndFlush(get("/who"));
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).isEqualTo(200);
            seen.add(r.headers().get("x-echo-server"));
            r.release();
        }
        return seen;
    }

    @Test
    void aKeepAliveTunnelStopsUsingAnEndpointThatLeftTheService() throws Exception {
        Channel t = tunnel("127.44.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        assertThat(servedBy(t, q, 6)).containsExactlyInAnyOrder("web-v1", "web-v2");
        apply(true, false); // web-v2 no longer matches the selector
        assertThat(servedBy(t, q, 6)).as("same tunnel, next requests").containsExactly("web-v1");
        assertThat(t.isActive()).isTrue();
        t.close();
    }

    @Test
    void aTunnelWhoseServiceIsUnboundEndsAndNewTunnelsAreRefused() throws Exception {
        Channel t = tunnel("127.44.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        servedBy(t, q, 1);
        apply(false, true); // istio.io/use-waypoint: none on the Service
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
        HboneTestClient.Answer refused = client.connect("127.44.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.body()).contains("target_not_bound");
    }

    @Test
    void anH2cConnectionSeesEndpointChangesAndEndsWithGoawayWhenUnbound() throws Exception {
        Channel t = tunnel("127.44.0.2:80");
        // how the tunnel ends: the inner connection's close is a TCP close (END_STREAM), then, since
        // this client keeps its side open, the reset after the linger
        List<String> ends = java.util.Collections.synchronizedList(new ArrayList<>());
        t.pipeline().addAfter("tunnel", "ends", new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                    ends.add("END_STREAM");
                } else if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame) {
                    ends.add("RST_STREAM");
                }
                ctx.fireUserEventTriggered(evt);
            }
        });
        Tunnels.h2c(t);
        Set<String> before = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            before.add(h2Get(t, "/h2"));
        }
        assertThat(before).containsExactlyInAnyOrder("web-v1", "web-v2");
        apply(true, false);
        Set<String> after = new HashSet<>();
        for (int i = 0; i < 6; i++) {
            after.add(h2Get(t, "/h2"));
        }
        assertThat(after).containsExactly("web-v1");
        apply(false, false);
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
        assertThat(ends).containsExactly("END_STREAM", "RST_STREAM");
    }

    private static String h2Get(Channel t, String path) throws Exception {
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        Http2StreamChannel s = Tunnels.h2cStream(t, q);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        req.headers().set(HttpHeaderNames.HOST, "h2.apps");
        s.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        String who = r.headers().get("x-echo-server");
        r.release();
        return who;
    }

    @Test
    void anUpstreamThatClosesBeforeAnsweringGives503AtOnce() throws Exception {
        Channel t = tunnel("127.44.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        long start = System.nanoTime();
        t.writeAndFlush(get("/abort/before"));
        FullHttpResponse r = q.poll(5, TimeUnit.SECONDS);
        assertThat(r).as("answered without waiting for a timeout").isNotNull();
        assertThat(r.status().code()).isEqualTo(503); // Envoy: a reset before the response is 503 UC
        assertThat(r.headers().get("x-waypoint-reason")).isEqualTo("upstream_reset_before_response_started");
        r.release();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        // the tunnel goes on serving
        assertThat(servedBy(t, q, 1)).hasSize(1);
        t.close();
    }

    @Test
    void anUpstreamThatClosesMidBodyResetsTheClientInsteadOfCompletingTheResponse() throws Exception {
        Channel t = tunnel("127.44.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        t.writeAndFlush(get("/abort/mid/1000"));
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
        assertThat(q).as("no complete-looking response").isEmpty();
    }

    @Test
    void h2cAnUpstreamThatClosesBeforeAnsweringGives503() throws Exception {
        Channel t = tunnel("127.44.0.2:80");
        Tunnels.h2c(t);
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        Http2StreamChannel s = Tunnels.h2cStream(t, q);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/abort/before");
        req.headers().set(HttpHeaderNames.HOST, "h2.apps");
        s.writeAndFlush(req);
        FullHttpResponse r = q.poll(5, TimeUnit.SECONDS);
        assertThat(r).as("answered without waiting for a timeout").isNotNull();
        assertThat(r.status().code()).isEqualTo(503); // Envoy: a reset before the response is 503 UC
        r.release();
        assertThat(h2Get(t, "/after")).startsWith("web-v");
        t.close();
    }
}
