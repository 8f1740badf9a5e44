package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.ca.CaSettings;
import dev.waypoint.ca.IstiodCaServer;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The waypoint with {@code --ca-address}: its identity comes from a stand-in istiod (waypoint-ca's
 * grpc-java {@code IstiodCaServer}, signing with the mesh's test CA), serves HBONE with it in both
 * directions, and swaps renewed certificates into the listener and the outbound pool (new
 * connections present the new one, open connections keep working). The HBONE spine's mesh
 * ({@code e2e/mesh.yaml}) moved to this branch's loopback range 127.130.x.x.
 */
class CaEndToEndTest {
    private static final SpiffeId WAYPOINT = new SpiffeId("cluster.local", "istio-system", "waypoint");
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static IstiodCaServer istiod;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = CaEndToEndTest.class.getResourceAsStream("/e2e/mesh.yaml")) {
            String yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("127.20.", "127.130.");
            Files.writeString(configDir.resolve("mesh.yaml"), yaml);
        }
        Path token = tmp.resolve("istio-token");
        Files.writeString(token, "waypoint-token");
        mesh = TestMesh.startWithCa(configDir, tmp, new NamespacedName("istio-system", "waypoint"),
                TestMesh.Options.ephemeral(), ca -> {
                    try {
                        istiod = new IstiodCaServer(ca, "127.130.0.100", tmp.resolve("istiod"), "127.130.0.100");
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    istiod.allow("waypoint-token", WAYPOINT);
                    // short-lived certificates, so the waypoint renews during the test (at about 2 s)
                    istiod.lifetime = Duration.ofSeconds(4);
                    return CaSettings.defaults("127.130.0.100:" + istiod.port(), tmp.resolve("istiod/root-cert.pem"),
                            token, WAYPOINT);
                });
    }

    @AfterAll
    static void stopMesh() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        if (istiod != null) {
            istiod.close();
        }
    }

    @Test
    void servesHboneWithTheIdentityIstiodIssuedAndPresentsItUpstream() throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            X509Certificate presented = peerLeaf(client);
            assertThat(presented.getSubjectAlternativeNames().stream().map(l -> String.valueOf(l.get(1))))
                    .containsExactly(WAYPOINT.uri());
            assertThat(get(client, "127.130.0.1:80").status().code()).isEqualTo(200);
        }
        String dump = HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(dump).contains("\"certificate\" : {").contains("\"source\" : \"ca 127.130.0.100:" + istiod.port() + "\"");
        assertThat(istiod.requests).first().satisfies(r -> {
            assertThat(r.authorization()).isEqualTo("Bearer waypoint-token");
            assertThat(r.csrSan()).isEqualTo(WAYPOINT.uri());
        });
        List<DestinationZtunnel.Seen> upstream = mesh.ztunnels().seen().stream()
                .filter(s -> s.authority().startsWith("127.130.1.")).toList();
        assertThat(upstream).isNotEmpty().allSatisfy(s -> assertThat(s.peer()).isEqualTo(WAYPOINT));
    }

    @Test
    void aRenewedCertificateIsPresentedOnNewConnectionsWhileOpenOnesKeepServing() throws Exception {
        try (HboneTestClient old = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            BigInteger first = peerLeaf(old).getSerialNumber();
            long expiry = expirySeconds();
            // renewal at half the 4 s lifetime: a new connection gets a new certificate
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
                try (HboneTestClient fresh = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                        mesh.workload("apps", "client"))) {
                    return !peerLeaf(fresh).getSerialNumber().equals(first);
                }
            });
            assertThat(istiod.requests.size()).isGreaterThan(1);
            assertThat(expirySeconds()).isGreaterThanOrEqualTo(expiry);
            // the connection made before the renewal still opens tunnels and gets answers
            assertThat(get(old, "127.130.0.1:80").status().code()).isEqualTo(200);
        }
    }

    private static X509Certificate peerLeaf(HboneTestClient client) throws Exception {
        SslHandler ssl = client.channel().pipeline().get(SslHandler.class);
        return (X509Certificate) ssl.engine().getSession().getPeerCertificates()[0];
    }

    private static FullHttpResponse get(HboneTestClient client, String authority) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/hello");
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        t.writeAndFlush(r);
        FullHttpResponse resp = Tunnels.take(q);
        resp.release();
        t.close();
        return resp;
    }

    private static long expirySeconds() throws Exception {
        InetSocketAddress stats = mesh.waypoint().adminAddress("stats");
        String body = HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + stats.getPort() + "/stats/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        String line = body.lines().filter(l -> l.startsWith("waypoint_certificate_expiry_seconds ")).findFirst()
                .orElseThrow(() -> new AssertionError("no waypoint_certificate_expiry_seconds in " + body));
        assertThat(body).contains("waypoint_certificate_renewal_failures 0");
        return Long.parseLong(line.substring(line.indexOf(' ') + 1));
    }
}
