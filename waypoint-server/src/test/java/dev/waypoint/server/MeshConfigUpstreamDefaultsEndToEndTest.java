package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.ConfigSnapshot;
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
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The MeshConfig upstream defaults through the whole waypoint ({@code e2e/mesh-defaults-mesh.yaml},
 * mesh config in the {@code istio} ConfigMap): a destination ztunnel that never answers a new HBONE
 * connection is given up on after the mesh's {@code connectTimeout} (300 ms; the waypoint's own is
 * 10 s, longer than the client waits), for an HTTP request (503 UF {@code upstream_connect_timeout}, as Envoy answers a connect timeout)
 * and for a TCP tunnel (the CONNECT refused the same way); the body names the timeout, so nothing
 * is measured with a clock. {@code /config_dump} shows the values in force; a bad value is
 * reported with its field and the last good mesh config keeps serving. Loopback range 127.38.x.x.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MeshConfigUpstreamDefaultsEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;

    static final String GOOD = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                connectTimeout: 300ms
                h2UpgradePolicy: UPGRADE
                tcpKeepalive: {time: 45s, interval: 9s}
                localityLbSetting:
                  distribute:
                  - from: "*"
                    to: {"*": 100}
            """;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = MeshConfigUpstreamDefaultsEndToEndTest.class.getResourceAsStream("/e2e/mesh-defaults-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        Files.writeString(configDir.resolve("istio.yaml"), GOOD);
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        // the stuck pod's ztunnel accepts TCP and then never answers (TLS, SETTINGS, CONNECT)
        mesh.ztunnels().freeze(InetAddress.getByName("127.38.1.1"));
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    /** One HTTP/1.1 request in its own tunnel to {@code vip}: "status reason-or-server" and the body. */
    static String[] get(String vip) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            Channel tunnel = a.tunnel();
            BlockingQueue<FullHttpResponse> responses = Tunnels.http1(tunnel);
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
            r.headers().set(HttpHeaderNames.HOST, "svc.apps");
            tunnel.writeAndFlush(r);
            FullHttpResponse res = Tunnels.take(responses);
            try {
                String server = res.headers().get("x-echo-server");
                return new String[] {res.status().code() + " " + (server != null ? server : res.headers().get("x-waypoint-reason")),
                        res.content().toString(StandardCharsets.UTF_8), res.headers().get("x-echo-protocol")};
            } finally {
                res.release();
                tunnel.close();
            }
        }
    }

    static String configDump() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    @Test
    @Order(1)
    void anHttpRequestToANeverAnsweringZtunnelEndsAfterTheMeshConnectTimeout() throws Exception {
        String[] r = get("127.38.0.1");
        assertThat(r[0]).isEqualTo("503 upstream_connect_timeout");
        assertThat(r[1]).startsWith("upstream_connect_timeout: ").contains("within 300 ms");
        // a healthy destination is unaffected (the mesh distribute "* -> *" keeps every endpoint)
        assertThat(get("127.38.0.2")[0]).isEqualTo("200 web-a");
    }

    @Test
    @Order(2)
    void aTcpTunnelToANeverAnsweringZtunnelIsRefusedAfterTheMeshConnectTimeout() throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect("127.38.0.1:7000", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(503);
            assertThat(a.body()).contains("within 300 ms");
        }
    }

    @Test
    @Order(3)
    void theMeshH2UpgradePolicyUpgradesHttpPortsUnlessTheirRuleSaysNot() throws Exception {
        // the client speaks HTTP/1.1 in every case; the backend reports what reached it
        assertThat(get("127.38.0.2")).containsSubsequence("200 web-a", "HTTP/2.0");
        assertThat(get("127.38.0.3")).containsSubsequence("200 legacy-a", "HTTP/1.1");
    }

    @Test
    @Order(4)
    void theConfigDumpShowsTheValuesInForce() throws Exception {
        String dump = configDump();
        assertThat(dump).contains("\"upstreamDefaults\"")
                .contains("PT0.3S (MeshConfig)")
                .contains("probes=system time=PT45S interval=PT9S (MeshConfig)")
                .contains("distribute [Distribute[from=*, to={*=100}]] (MeshConfig)")
                .contains("UPGRADE (MeshConfig)")
                // the rule's own probes over the mesh's keepalive, field by field
                .contains("probes=7 time=PT45S interval=PT9S (DestinationRule over MeshConfig)");
    }

    @Test
    @Order(5)
    void aBadValueIsReportedWithItsFieldAndTheLastGoodMeshConfigKeepsServing() throws Exception {
        long generation = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("istio.yaml"), GOOD.replace("connectTimeout: 300ms", "connectTimeout: 2h"));
        await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > generation);
        ConfigSnapshot snap = mesh.waypoint().snapshots().current();
        assertThat(snap.problems()).anySatisfy(p -> assertThat(p.toString())
                .contains("data.mesh.connectTimeout: connectTimeout: \"2h\" (expected: a duration from 1ms to 1h"));
        assertThat(snap.resources().meshConfig().connectTimeout()).isEqualTo(Duration.ofMillis(300));
        String[] r = get("127.38.0.1");
        assertThat(r[0]).isEqualTo("503 upstream_connect_timeout");
        assertThat(r[1]).contains("within 300 ms");
    }
}
