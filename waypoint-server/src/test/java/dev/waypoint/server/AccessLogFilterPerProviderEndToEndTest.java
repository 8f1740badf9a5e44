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
 * A Telemetry giving each of two {@code envoyFileAccessLog} providers its own {@code filter}
 * (Istio's {@code mergeLogs} keeps one per provider), through the real server: each file gets
 * only the lines its own provider's filter is true for. Loopback range 127.232.x.
 */
class AccessLogFilterPerProviderEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 127.232.0.1
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-v1, namespace: apps, labels: {app: web, version: v1}}
            spec: {serviceAccountName: web}
            status: {podIP: 127.232.1.1}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: two-files, namespace: apps}
            spec:
              accessLogging:
              - providers: [{name: text-file}]
                filter: {expression: "request.url_path.startsWith('/text')"}
              - providers: [{name: json-file}]
                filter: {expression: "request.url_path.startsWith('/json')"}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path main;
    static Path text;
    static Path json;

    @BeforeAll
    static void start() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MANIFESTS);
        main = tmp.resolve("main.log");
        text = tmp.resolve("text.log");
        json = tmp.resolve("json.log");
        Path meshConfig = tmp.resolve("meshconfig.yaml");
        Files.writeString(meshConfig, """
                accessLogFile: %s
                extensionProviders:
                - name: text-file
                  envoyFileAccessLog:
                    path: %s
                    logFormat: {text: "TEXT %%REQ(:PATH)%% %%RESPONSE_CODE%%"}
                - name: json-file
                  envoyFileAccessLog:
                    path: %s
                    logFormat:
                      labels: {path: "%%REQ(:PATH)%%", code: "%%RESPONSE_CODE%%", host: "%%REQ(:AUTHORITY)%%"}
                """.formatted(main, text, json));
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
            HboneTestClient.Answer a = client.connect("127.232.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path, Unpooled.EMPTY_BUFFER);
            req.headers().set(HttpHeaderNames.HOST, "web.apps");
            t.writeAndFlush(req);
            FullHttpResponse r = Tunnels.take(q);
            int status = r.status().code();
            r.release();
            t.close();
            return status;
        }
    }

    static List<String> lines(Path p) throws Exception {
        return Files.exists(p) ? Files.readAllLines(p) : List.of();
    }

    @Test
    void eachProvidersLinesAreDecidedByItsOwnFilter() throws Exception {
        assertThat(mesh.waypoint().snapshots().current().problems()).isEmpty();
        assertThat(get("/text/1")).isEqualTo(200);
        assertThat(get("/json/1")).isEqualTo(200);
        assertThat(get("/neither")).isEqualTo(200);
        assertThat(get("/text/2")).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(lines(text)).containsExactly("TEXT /text/1 200", "TEXT /text/2 200");
            assertThat(lines(json)).containsExactly("{\"code\":200,\"host\":\"web.apps\",\"path\":\"/json/1\"}");
        });
        assertThat(lines(main)).isEmpty();
    }
}
