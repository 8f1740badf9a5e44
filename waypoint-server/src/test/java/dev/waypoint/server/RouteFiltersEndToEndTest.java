package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.Unpooled;
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
import java.time.Duration;
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
 * HTTPRoute RequestMirror and CORS through the whole waypoint. Mirrors: the copy (after the
 * route's header filter, host {@code -shadow}, body included) reaches the mirror pod over the
 * protocol its Service declares (h2c here) while the client gets the primary's answer; a mirror
 * whose Service has no endpoint changes nothing. CORS: a preflight is answered by the waypoint
 * and never reaches the pod; an actual request gets the CORS response headers. Loopback range
 * 127.100.x.x (127.100.5.x).
 */
class RouteFiltersEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    HboneTestClient client;
    Channel tunnel;
    BlockingQueue<FullHttpResponse> responses;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = RouteFiltersEndToEndTest.class.getResourceAsStream("/e2e/filters-mesh.yaml")) {
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
        HboneTestClient.Answer a = client.connect("127.100.5.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        tunnel = a.tunnel();
        responses = Tunnels.http1(tunnel);
    }

    @AfterEach
    void close() throws Exception {
        tunnel.close();
        client.close();
    }

    private FullHttpResponse send(HttpMethod method, String path, String body, String... headers) throws Exception {
        FullHttpRequest r = body == null ? new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path)
                : new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        if (body != null) {
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        }
        for (int i = 0; i < headers.length; i += 2) {
            r.headers().add(headers[i], headers[i + 1]);
        }
        tunnel.writeAndFlush(r);
        return Tunnels.take(responses);
    }

    @Test
    void aMirroredRequestReachesTheMirrorAndTheClientGetsThePrimarysAnswer() throws Exception {
        EchoServer shadow = mesh.backend("127.100.5.12", 8080);
        FullHttpResponse r = send(HttpMethod.POST, "/mirrored/a?id=1", "mirror me");
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-1");
            assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("mirror me");
        } finally {
            r.release();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> !shadow.requests().isEmpty());
        assertThat(shadow.requests()).singleElement().asString().startsWith("POST /mirrored/a?id=1 host=web.apps-shadow");
        // a GET without a body too, and the primary never sees copies
        FullHttpResponse g = send(HttpMethod.GET, "/mirrored/b", null);
        g.release();
        await().atMost(Duration.ofSeconds(10)).until(() -> shadow.requests().size() == 2);
        assertThat(mesh.backend("127.100.5.11", 8080).requests()).noneMatch(s -> s.contains("-shadow"));
    }

    @Test
    void aPreflightIsAnsweredByTheWaypointAndNeverReachesThePod() throws Exception {
        EchoServer web = mesh.backend("127.100.5.11", 8080);
        int before = web.requests().size();
        FullHttpResponse r = send(HttpMethod.OPTIONS, "/cors/x", null, "origin", "https://a.b.example.com",
                "access-control-request-method", "PUT", "access-control-request-headers", "x-a");
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.content().readableBytes()).isZero();
            assertThat(r.headers().get("access-control-allow-origin")).isEqualTo("https://a.b.example.com");
            assertThat(r.headers().get("access-control-allow-credentials")).isEqualTo("true");
            assertThat(r.headers().get("access-control-allow-methods")).isEqualTo("GET, PUT");
            assertThat(r.headers().get("access-control-allow-headers")).isEqualTo("x-a");
            assertThat(r.headers().get("access-control-max-age")).isEqualTo("600");
            assertThat(r.headers().get("x-echo-server")).isNull();
        } finally {
            r.release();
        }
        FullHttpResponse other = send(HttpMethod.OPTIONS, "/cors/x", null, "origin", "https://evil.example",
                "access-control-request-method", "PUT");
        try {
            assertThat(other.status().code()).isEqualTo(200); // answered, without CORS headers
            assertThat(other.headers().get("access-control-allow-origin")).isNull();
        } finally {
            other.release();
        }
        assertThat(web.requests()).hasSize(before);
    }

    @Test
    void anActualRequestFromAnAllowedOriginGetsTheCorsHeaders() throws Exception {
        FullHttpResponse r = send(HttpMethod.GET, "/cors/y", null, "origin", "https://www.example.com");
        FullHttpResponse other = send(HttpMethod.GET, "/cors/y", null, "origin", "https://www.example.org");
        try {
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-1");
            assertThat(r.headers().get("access-control-allow-origin")).isEqualTo("https://www.example.com");
            assertThat(r.headers().get("access-control-allow-credentials")).isEqualTo("true");
            assertThat(r.headers().get("access-control-expose-headers")).isEqualTo("x-echo-server");
            assertThat(other.headers().get("x-echo-server")).isEqualTo("web-1");
            assertThat(other.headers().get("access-control-allow-origin")).isNull();
        } finally {
            r.release();
            other.release();
        }
    }
}
