package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Access logs as Istio configures them, end to end: a real waypoint started with
 * {@code --mesh-config} writes {@code accessLogFile} in {@code accessLogEncoding} JSON with
 * Istio's default fields; editing the mesh config to TEXT with an {@code accessLogFormat}
 * changes the lines of the next requests (hot reload); a request an AuthorizationPolicy denies
 * names the policy and rule. Loopback range 127.150.10.x.
 */
class AccessLogEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 127.150.10.1
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-v1, namespace: apps, labels: {app: web, version: v1}}
            spec: {serviceAccountName: web}
            status: {podIP: 127.150.11.1}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-admin, namespace: apps}
            spec:
              targetRefs: [{group: '', kind: Service, name: web}]
              action: DENY
              rules:
              - to: [{operation: {paths: [/secret]}}]
              - to: [{operation: {paths: [/admin]}}]
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path meshConfig;
    static Path log;

    @BeforeAll
    static void start() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MANIFESTS);
        log = tmp.resolve("access.json");
        meshConfig = tmp.resolve("meshconfig.yaml");
        Files.writeString(meshConfig, "accessLogFile: " + log + "\naccessLogEncoding: JSON\n");
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> s.withMeshConfig(meshConfig));
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
    }

    static int get(String path) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect("127.150.10.1:80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path, Unpooled.EMPTY_BUFFER);
            req.headers().set(HttpHeaderNames.HOST, "web.apps").set("x-request-id", "id-" + path.substring(1));
            t.writeAndFlush(req);
            FullHttpResponse r = Tunnels.take(q);
            int status = r.status().code();
            r.release();
            t.close();
            return status;
        }
    }

    static List<String> lines() throws Exception {
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    @Test
    void jsonThenTextAfterTheMeshConfigChangesAndDenialsNameThePolicy() throws Exception {
        assertThat(get("/hello")).isEqualTo(200);
        assertThat(get("/admin")).isEqualTo(403);
        await().atMost(Duration.ofSeconds(10)).until(() -> lines().size() == 2);
        List<String> json = lines();
        assertThat(json.get(0)).startsWith("{\"authority\":\"web.apps\",\"bytes_received\":0,")
                .contains("\"method\":\"GET\"", "\"path\":\"/hello\"", "\"request_id\":\"id-hello\"", "\"response_code\":200",
                        "\"response_code_details\":\"via_upstream\"", "\"upstream_host\":\"127.150.11.1:8080\"",
                        "\"upstream_cluster\":\"inbound-vip|80|http|web.apps.svc.cluster.local\"",
                        "\"x_forwarded_for\":null")
                .endsWith("}");
        assertThat(json.get(1)).contains("\"response_code\":403", "\"response_flags\":\"RBAC\"",
                "\"response_code_details\":\"rbac_access_denied_matched_policy[ns[apps]-policy[no-admin]-rule[1]]\"");

        long generation = mesh.waypoint().snapshots().current().generation();
        Files.writeString(meshConfig, "accessLogFile: " + log + "\naccessLogEncoding: TEXT\n"
                + "accessLogFormat: \"%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %AUTHZ_DECISION% %REQ(X-REQUEST-ID)%\\n\"\n");
        await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > generation);
        assertThat(get("/again")).isEqualTo(200);
        assertThat(get("/secret")).isEqualTo(403);
        await().atMost(Duration.ofSeconds(10)).until(() -> lines().size() == 4);
        assertThat(lines().subList(2, 4)).containsExactly("GET /again 200 allowed[none] id-again",
                "GET /secret 403 rbac_access_denied_matched_policy[ns[apps]-policy[no-admin]-rule[0]] id-secret");
    }
}
