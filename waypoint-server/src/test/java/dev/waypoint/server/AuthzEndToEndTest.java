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
 * AuthorizationPolicy through the real server: manifests on disk (hot-reloaded), HBONE clients
 * with real SPIFFE certificates, echo backends behind the destination-ztunnel stand-ins. Each test
 * writes its policies and waits for the generation that carries them. Loopback range 127.60.x.x.
 */
class AuthzEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    HboneTestClient client;
    HboneTestClient other;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = AuthzEndToEndTest.class.getResourceAsStream("/e2e/authz-mesh.yaml")) {
            Files.write(configDir.resolve("mesh.yaml"), in.readAllBytes());
        }
        Files.writeString(configDir.resolve("policies.yaml"), "");
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
        other = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "other"));
    }

    @AfterEach
    void disconnect() throws Exception {
        client.close();
        other.close();
        policies("");
    }

    /** Writes the policies and waits until the waypoint runs the generation that has them. */
    static void policies(String yaml) throws Exception {
        if (yaml.equals(Files.readString(configDir.resolve("policies.yaml")))) {
            return;
        }
        long gen = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("policies.yaml"), yaml);
        await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
        assertThat(mesh.waypoint().snapshots().current().problems()).as("problems").isEmpty();
    }

    static String policy(String name, String target, String body) {
        return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: " + name
                + "\n  namespace: apps\n" + body.replace("TARGET", "targetRefs: [{group: '', kind: Service, name: " + target + "}]");
    }

    private static Channel tunnel(HboneTestClient c, String authority) throws Exception {
        HboneTestClient.Answer a = c.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        return a.tunnel();
    }

    private static FullHttpResponse get(Channel t, BlockingQueue<FullHttpResponse> q, String path) throws Exception {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        t.writeAndFlush(r);
        return Tunnels.take(q);
    }

    /** Status and body of one GET on a fresh tunnel, as {@code "403 RBAC: access denied"}. */
    private static String once(HboneTestClient c, String path) throws Exception {
        Channel t = tunnel(c, "127.60.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpResponse r = get(t, q, path);
        try {
            int code = r.status().code();
            return code == 200 ? "200" : code + " " + r.content().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
            t.close();
        }
    }

    @Test
    void allowByPrincipal() throws Exception {
        policies(policy("web", "web", """
                spec:
                  TARGET
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]
                """));
        assertThat(once(client, "/")).isEqualTo("200");
        assertThat(once(other, "/")).isEqualTo("403 RBAC: access denied");
    }

    @Test
    void theConfigDumpListsThePoliciesPerTarget() throws Exception {
        policies(policy("web", "web", """
                spec:
                  TARGET
                  action: DENY
                  rules: [{}]
                """));
        java.net.http.HttpResponse<String> dump = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                        + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(dump.statusCode()).isEqualTo(200);
        assertThat(dump.body().replaceAll("\\s", "")).contains("\"authorizationPolicies\":{\"apps/web\":{\"deny\":[\"apps/web\"]}}");
    }

    @Test
    void denyByPathSeesTheNormalizedPath() throws Exception {
        policies(policy("no-admin", "web", """
                spec:
                  TARGET
                  action: DENY
                  rules:
                  - to: [{operation: {paths: ["/admin*"]}}]
                """));
        assertThat(once(client, "/ok")).isEqualTo("200");
        assertThat(once(client, "/admin/x")).isEqualTo("403 RBAC: access denied");
        assertThat(once(client, "/ok/../admin")).isEqualTo("403 RBAC: access denied");
        assertThat(once(client, "/%61dmin")).as("%61 is an unreserved 'a'").isEqualTo("403 RBAC: access denied");
        assertThat(once(client, "http://web.apps/admin")).as("absolute-form").isEqualTo("403 RBAC: access denied");
        assertThat(once(client, "admin")).startsWith("400 downstream_protocol_error: request target: admin");
    }

    @Test
    void theNormalizedPathIsWhatIsForwarded() throws Exception {
        Channel t = tunnel(client, "127.60.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpResponse r = get(t, q, "/a/./b/../%63?x=/../y");
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get("x-echo-path")).isEqualTo("/a/c?x=/../y");
        r.release();
        t.close();
    }

    @Test
    void h2cIsNormalizedAndDecidedPerStream() throws Exception {
        policies(policy("no-admin", "web", """
                spec:
                  TARGET
                  action: DENY
                  rules:
                  - to: [{operation: {paths: [/admin]}}]
                """));
        Channel t = tunnel(client, "127.60.0.1:80");
        Tunnels.h2c(t);
        for (String[] c : new String[][] {{"/x/../ok", "200", "/ok"}, {"/x/../admin", "403", null}}) {
            BlockingQueue<FullHttpResponse> q = new java.util.concurrent.LinkedBlockingQueue<>();
            io.netty.handler.codec.http2.Http2StreamChannel s = Tunnels.h2cStream(t, q);
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, c[0]);
            req.headers().set(HttpHeaderNames.HOST, "web.apps");
            s.writeAndFlush(req);
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).as(c[0]).isEqualTo(Integer.parseInt(c[1]));
            assertThat(r.headers().get("x-echo-path")).isEqualTo(c[2]);
            r.release();
        }
        t.close();
    }

    @Test
    void allowNothing() throws Exception {
        policies(policy("nothing", "web", """
                spec:
                  TARGET
                """));
        assertThat(once(client, "/")).isEqualTo("403 RBAC: access denied");
    }

    @Test
    void dryRunIsNotEnforced() throws Exception {
        policies(policy("deny-all", "web", """
                  annotations: {istio.io/dry-run: "true"}
                spec:
                  TARGET
                  action: DENY
                  rules: [{}]
                """));
        assertThat(once(client, "/")).isEqualTo("200");
    }

    @Test
    void grpcDenyIsPermissionDenied() throws Exception {
        policies(policy("no-grpc", "web", """
                spec:
                  TARGET
                  action: DENY
                  rules:
                  - to: [{operation: {paths: [/pkg.Svc/*]}}]
                """));
        Channel t = tunnel(client, "127.60.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/pkg.Svc/Call");
        req.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc").set(HttpHeaderNames.CONTENT_LENGTH, 0)
                .set(HttpHeaderNames.HOST, "web.apps");
        t.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(r.headers().get("grpc-status")).isEqualTo("7");
        assertThat(r.headers().get("grpc-message")).isEqualTo("RBAC: access denied");
        r.release();
        t.close();
    }

    @Test
    void aDeniedTcpPortIsRefusedBeforeTheTunnel() throws Exception {
        policies(policy("db", "db", """
                spec:
                  TARGET
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]
                    to: [{operation: {ports: ["7000"]}}]
                """));
        HboneTestClient.Answer denied = other.connect("127.60.0.2:7000", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(denied.status()).isEqualTo(401);
        assertThat(denied.body()).isEqualTo("RBAC: access denied");
        assertThat(denied.headers().get("x-waypoint-reason").toString()).isEqualTo("rbac_access_denied_matched_policy");
        Channel ok = tunnel(client, "127.60.0.2:7000");
        assertThat(ok.isActive()).isTrue();
        ok.close();
    }

    @Test
    void anUndeclaredPortThatTurnsOutTcpIsCheckedBeforeConnecting() throws Exception {
        policies(policy("db", "db", """
                spec:
                  TARGET
                  action: DENY
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]
                """));
        Channel t = tunnel(client, "127.60.0.2:7001"); // undeclared: answered 200, then sniffed
        t.writeAndFlush(io.netty.buffer.Unpooled.copiedBuffer("\u0001hello", StandardCharsets.UTF_8));
        // 200 was sent before the bytes said TCP: a reset is all the client can get
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
        Channel allowed = tunnel(other, "127.60.0.2:7001");
        allowed.writeAndFlush(io.netty.buffer.Unpooled.copiedBuffer("\u0001hello", StandardCharsets.UTF_8));
        Thread.sleep(300);
        assertThat(allowed.isActive()).as("another principal's tunnel is relayed").isTrue();
        allowed.close();
    }

    @Test
    void anHttpOnlyAllowNeverMatchesTcp() throws Exception {
        policies(policy("db", "db", """
                spec:
                  TARGET
                  rules:
                  - to: [{operation: {methods: [GET]}}]
                """));
        assertThat(client.connect("127.60.0.2:7000", Map.of()).get(10, TimeUnit.SECONDS).status()).isEqualTo(401);
    }

    @Test
    void aPolicyChangeAppliesToTheNextRequestOnALiveTunnel() throws Exception {
        Channel t = tunnel(client, "127.60.0.1:80");
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpResponse first = get(t, q, "/");
        assertThat(first.status().code()).isEqualTo(200);
        first.release();
        policies(policy("deny-all", "web", """
                spec:
                  TARGET
                  action: DENY
                  rules: [{}]
                """));
        FullHttpResponse second = get(t, q, "/");
        assertThat(second.status().code()).as("same keep-alive tunnel, next request").isEqualTo(403);
        assertThat(second.headers().get("x-waypoint-reason")).isEqualTo("rbac_access_denied_matched_policy");
        second.release();
        assertThat(t.isActive()).as("a deny ends the request, not the tunnel").isTrue();
        t.close();
    }

    @Test
    void aLiveTcpTunnelThatANewPolicyDeniesIsClosed() throws Exception {
        Channel t = tunnel(client, "127.60.0.2:7000");
        policies(policy("db", "db", """
                spec:
                  TARGET
                  action: DENY
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]
                """));
        await().atMost(Duration.ofSeconds(5)).until(() -> !t.isActive());
    }
}
