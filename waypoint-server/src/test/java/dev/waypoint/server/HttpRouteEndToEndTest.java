package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTPRoute through the whole waypoint: HBONE in, the route stage, the upstream stage, HBONE out
 * to echo pods. The route ({@code e2e/routes-mesh.yaml}) has its Service {@code web} as parent.
 * Loopback range 127.80.x.x.
 */
class HttpRouteEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    HboneTestClient client;
    Channel tunnel;
    BlockingQueue<FullHttpResponse> responses;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = HttpRouteEndToEndTest.class.getResourceAsStream("/e2e/routes-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
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
        HboneTestClient.Answer a = client.connect("127.80.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        tunnel = a.tunnel();
        responses = Tunnels.http1(tunnel);
    }

    @AfterEach
    void close() throws Exception {
        tunnel.close();
        client.close();
    }

    private FullHttpResponse get(String path) throws Exception {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        tunnel.writeAndFlush(r);
        return Tunnels.take(responses);
    }

    @Test
    void aPathMatchGoesToTheRuleBackendWithItsHeaderFilters() throws Exception {
        FullHttpResponse r = get("/v2/items");
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-v2");
            assertThat(r.content().toString(StandardCharsets.UTF_8)).contains("header x-route=v2");
            assertThat(r.headers().get("x-routed")).isEqualTo("yes");
        } finally {
            r.release();
        }
    }

    @Test
    void aRedirectIsAnsweredByTheWaypointWithLocation() throws Exception {
        FullHttpResponse r = get("/old");
        try {
            assertThat(r.status().code()).isEqualTo(302);
            assertThat(r.headers().get("location")).isEqualTo("http://new.example/new");
            assertThat(r.headers().get("x-echo-server")).isNull();
        } finally {
            r.release();
        }
    }

    @Test
    void noMatchingRuleIs404() throws Exception {
        FullHttpResponse r = get("/nothing/here");
        try {
            assertThat(r.status().code()).isEqualTo(404);
            assertThat(r.headers().get("x-waypoint-reason")).isEqualTo("route_not_found");
        } finally {
            r.release();
        }
    }

    @Test
    void aPrefixRewriteChangesThePathTheBackendSees() throws Exception {
        FullHttpResponse r = get("/api/users?id=7");
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-echo-path")).isEqualTo("/v1/users?id=7");
        } finally {
            r.release();
        }
    }

    @Test
    void aWeightedSplitFollowsTheWeights() throws Exception {
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < 100; i++) {
            FullHttpResponse r = get("/split");
            assertThat(r.status().code()).isEqualTo(200);
            seen.merge(r.headers().get("x-echo-server"), 1, Integer::sum);
            r.release();
        }
        // 70/30 over 100 requests: a generous band (p of falling outside < 1e-4)
        assertThat(seen.getOrDefault("web-v1", 0)).as("%s", seen).isBetween(50, 88);
        assertThat(seen.getOrDefault("web-v1", 0) + seen.getOrDefault("web-v2", 0)).isEqualTo(100);
    }

    @Test
    void theRouteRequestTimeoutGives504AgainstASlowBackend() throws Exception {
        long start = System.nanoTime();
        FullHttpResponse r = get("/delay/10000");
        try {
            assertThat(r.status().code()).isEqualTo(504);
            assertThat(r.headers().get("x-waypoint-reason")).isEqualTo("upstream_request_timeout");
            // not before the timeout, and long before the backend would have answered
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(400L, 8000L);
        } finally {
            r.release();
        }
    }

    @Test
    void configDumpListsTheRankedRoutes() throws Exception {
        java.net.http.HttpResponse<String> dump = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                        + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(dump.statusCode()).isEqualTo(200);
        assertThat(dump.body()).contains("\"routes\"").contains("apps/web:80")
                .contains("from *: EXACT 4 h0 q0 -> web.apps.moved");
    }

    @Test
    void h2cRequestsAreRoutedRewrittenAndRedirectedToo() throws Exception {
        HboneTestClient.Answer a = client.connect("127.80.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        Channel h2 = a.tunnel();
        try {
            Tunnels.h2c(h2);
            FullHttpResponse r = h2Get(h2, "/api/users?id=7");
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-v1");
            assertThat(r.headers().get("x-echo-path")).isEqualTo("/v1/users?id=7");
            r.release();
            r = h2Get(h2, "/v2/x");
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-v2");
            assertThat(r.content().toString(StandardCharsets.UTF_8)).contains("header x-route=v2");
            assertThat(r.headers().get("x-routed")).isEqualTo("yes");
            r.release();
            r = h2Get(h2, "/old");
            assertThat(r.status().code()).isEqualTo(302);
            assertThat(r.headers().get("location")).isEqualTo("http://new.example/new");
            r.release();
        } finally {
            h2.close();
        }
    }

    private static FullHttpResponse h2Get(Channel t, String path) throws Exception {
        BlockingQueue<FullHttpResponse> q = new java.util.concurrent.LinkedBlockingQueue<>();
        io.netty.handler.codec.http2.Http2StreamChannel s = Tunnels.h2cStream(t, q);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        req.headers().set(HttpHeaderNames.HOST, "web.apps");
        s.writeAndFlush(req);
        return Tunnels.take(q);
    }
}
