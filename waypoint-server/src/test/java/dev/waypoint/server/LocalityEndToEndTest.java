package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.lb.Locality;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DestinationRule {@code localityLbSetting} through the whole waypoint ({@code e2e/locality-mesh.yaml}):
 * the waypoint in {@code us-west/zone-a}, pods in zone-a, zone-b and us-east. Traffic stays in the
 * local zone; once the local pod fails and outlier detection ejects it, traffic fails over to the
 * same region's other zone, never to us-east. Loopback range 127.220.x.x.
 */
class LocalityEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = LocalityEndToEndTest.class.getResourceAsStream("/e2e/locality-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        mesh = TestMesh.startWithUpstream(configDir, tmp, new NamespacedName("istio-system", "waypoint"),
                TestMesh.Options.ephemeral(), u -> u.withLocality(Locality.parse("us-west/zone-a")));
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @Test
    void theLocalZoneServesUntilItsPodIsEjectedThenTheSameRegionsOtherZone() throws Exception {
        try (dev.waypoint.testing.HboneTestClient client = dev.waypoint.testing.HboneTestClient.connect(mesh.group(),
                mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"))) {
            dev.waypoint.testing.HboneTestClient.Answer a = client.connect("127.220.0.1:80", java.util.Map.of())
                    .get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            java.util.concurrent.BlockingQueue<io.netty.handler.codec.http.FullHttpResponse> responses = Tunnels.http1(a.tunnel());
            List<String> before = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                before.add(get(a.tunnel(), responses));
            }
            assertThat(before).containsOnly("200 web-local");

            dev.waypoint.testing.EchoServer local = mesh.backend("127.220.1.1", 8080);
            local.failWith(503);
            int reachedLocal = local.requests().size();
            List<String> after = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                after.add(get(a.tunnel(), responses));
            }
            // Istio's default retries take each failed attempt to the next priority (zone-b); after
            // the second failure in a row the local pod is ejected and zone-b takes all of it
            assertThat(after).containsOnly("200 web-zone-b");
            assertThat(local.requests().size() - reachedLocal).as("attempts the local pod answered 503").isEqualTo(2);
            assertThat(mesh.backend("127.220.1.3", 8080).requests()).as("us-east").isEmpty();
        }
        java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
                .newBuilder(java.net.URI.create("http://127.0.0.1:" + mesh.waypoint().adminAddress("admin").getPort()
                        + "/config_dump")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        String dump = r.body().replaceAll("\\s", "");
        assertThat(dump).contains("\"localityLbSetting\":\"failover\"");
    }

    /** GET / to web.apps on the tunnel: "200 <pod>" or the status and the waypoint's reason. */
    static String get(io.netty.channel.Channel tunnel,
                      java.util.concurrent.BlockingQueue<io.netty.handler.codec.http.FullHttpResponse> responses) throws Exception {
        io.netty.handler.codec.http.FullHttpRequest req = new io.netty.handler.codec.http.DefaultFullHttpRequest(
                io.netty.handler.codec.http.HttpVersion.HTTP_1_1, io.netty.handler.codec.http.HttpMethod.GET, "/");
        req.headers().set(io.netty.handler.codec.http.HttpHeaderNames.HOST, "web.apps");
        tunnel.writeAndFlush(req);
        io.netty.handler.codec.http.FullHttpResponse res = Tunnels.take(responses);
        try {
            String server = res.headers().get("x-echo-server");
            return res.status().code() + " " + (server != null ? server : res.headers().get("x-waypoint-reason"));
        } finally {
            res.release();
        }
    }
}
