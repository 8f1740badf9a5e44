package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
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
import java.util.Map;
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
 * GRPCRoute through the whole waypoint, h2c in and out: method matches choose the backend, a call
 * no rule matches gets {@code grpc-status 12} (UNIMPLEMENTED), and an HTTPRoute on the same Service
 * port applies too. Loopback range 127.100.x.x (127.100.4.x).
 */
class GrpcRouteEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    HboneTestClient client;
    Channel tunnel;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = GrpcRouteEndToEndTest.class.getResourceAsStream("/e2e/grpc-mesh.yaml")) {
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
        HboneTestClient.Answer a = client.connect("127.100.4.1:7070", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        tunnel = a.tunnel();
        Tunnels.h2c(tunnel);
    }

    @AfterEach
    void close() throws Exception {
        tunnel.close();
        client.close();
    }

    /** A unary call: one length-prefixed message, trailers expected back. */
    private FullHttpResponse call(String path) throws Exception {
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        byte[] message = {0, 0, 0, 0, 2, 8, 1}; // uncompressed, 2 bytes of protobuf
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path, Unpooled.wrappedBuffer(message));
        r.headers().set(HttpHeaderNames.HOST, "echo.apps:7070").set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")
                .set("te", "trailers").set(HttpHeaderNames.CONTENT_LENGTH, message.length);
        Tunnels.h2cStream(tunnel, q).writeAndFlush(r);
        return Tunnels.take(q);
    }

    private static String grpcStatus(FullHttpResponse r) {
        String s = r.trailingHeaders().get("grpc-status");
        return s != null ? s : r.headers().get("grpc-status");
    }

    @Test
    void theMostSpecificMethodMatchChoosesTheBackend() throws Exception {
        FullHttpResponse two = call("/pkg.Echo/Two");
        FullHttpResponse one = call("/pkg.Echo/One");
        try {
            assertThat(two.headers().get("x-echo-server")).isEqualTo("echo-2");
            assertThat(grpcStatus(two)).isEqualTo("0");
            assertThat(one.headers().get("x-echo-server")).isEqualTo("echo-1");
            assertThat(grpcStatus(one)).isEqualTo("0");
        } finally {
            two.release();
            one.release();
        }
    }

    @Test
    void aCallNoRuleMatchesIsUnimplemented() throws Exception {
        FullHttpResponse r = call("/other.Service/Method");
        try {
            assertThat(r.status().code()).isEqualTo(200); // gRPC errors ride a 200
            assertThat(grpcStatus(r)).isEqualTo("12");
            assertThat(r.headers().get("x-echo-server")).isNull();
        } finally {
            r.release();
        }
    }

    @Test
    void anHttpRouteOnTheSameServicePortAppliesToo() throws Exception {
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/pages/a");
        r.headers().set(HttpHeaderNames.HOST, "echo.apps:7070");
        Tunnels.h2cStream(tunnel, q).writeAndFlush(r);
        FullHttpResponse res = Tunnels.take(q);
        try {
            assertThat(res.status().code()).isEqualTo(200);
            assertThat(res.headers().get("x-echo-server")).isEqualTo("echo-2");
        } finally {
            res.release();
        }
    }
}
