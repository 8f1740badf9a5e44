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
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.buffer.Unpooled;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upstream speaks what the backend's Service port declares, whatever the client spoke: an
 * HTTP/1.1 client reaches an h2c or gRPC port over HTTP/2, an h2c client reaches an {@code http}
 * port over HTTP/1.1, and an undeclared port gets the client's protocol (Istio's
 * {@code use_downstream_protocol}). The echo pod reports the version it was spoken to with.
 * Loopback range 127.100.x.x.
 */
class BackendProtocolEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = BackendProtocolEndToEndTest.class.getResourceAsStream("/e2e/protocol-mesh.yaml")) {
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

    @ParameterizedTest(name = "{0} client to port {1} ({2}) -> {3} upstream")
    @CsvSource({
            "HTTP/1.1, 80, appProtocol http, HTTP/1.1",
            "HTTP/1.1, 7070, appProtocol kubernetes.io/h2c, HTTP/2.0",
            "HTTP/1.1, 9000, appProtocol grpc, HTTP/2.0",
            "HTTP/1.1, 8000, undeclared, HTTP/1.1",
            "h2c, 80, appProtocol http, HTTP/1.1",
            "h2c, 7070, appProtocol kubernetes.io/h2c, HTTP/2.0",
            "h2c, 8000, undeclared, HTTP/2.0"})
    void theUpstreamSpeaksWhatTheBackendDeclares(String client, int port, String declared, String upstream) throws Exception {
        HboneTestClient hbone = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        try {
            HboneTestClient.Answer a = hbone.connect("127.100.2.1:" + port, Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            Channel tunnel = a.tunnel();
            for (String body : new String[] {null, "some request body"}) {
                FullHttpResponse r = client.equals("h2c") ? h2c(tunnel, body) : http1(tunnel, body);
                try {
                    assertThat(r.status().code()).as(r.content().toString(StandardCharsets.UTF_8)).isEqualTo(200);
                    assertThat(r.headers().get("x-echo-protocol")).isEqualTo(upstream);
                    if (body != null) {
                        assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo(body); // streamed back
                    }
                } finally {
                    r.release();
                }
            }
            tunnel.close();
        } finally {
            hbone.close();
        }
    }

    private static BlockingQueue<FullHttpResponse> http1Queue;
    private static Channel http1Tunnel;

    private static FullHttpResponse http1(Channel tunnel, String body) throws Exception {
        if (http1Tunnel != tunnel) {
            http1Queue = Tunnels.http1(tunnel);
            http1Tunnel = tunnel;
        }
        tunnel.writeAndFlush(request(body));
        return Tunnels.take(http1Queue);
    }

    private static Channel h2cTunnel;

    private static FullHttpResponse h2c(Channel tunnel, String body) throws Exception {
        if (h2cTunnel != tunnel) {
            Tunnels.h2c(tunnel);
            h2cTunnel = tunnel;
        }
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        Http2StreamChannel s = Tunnels.h2cStream(tunnel, q);
        s.writeAndFlush(request(body));
        return Tunnels.take(q);
    }

    private static FullHttpRequest request(String body) {
        FullHttpRequest r = body == null ? new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/proto")
                : new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/proto",
                        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.HOST, "echo.apps");
        if (body != null) {
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        }
        return r;
    }
}
