package dev.waypoint.server.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.server.E2eManifests;
import dev.waypoint.server.TestMesh;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zipkin's own server (Maven Central {@code io.zipkin:zipkin-server:3.6.1:jar:exec}, started
 * here as a java process) receives the waypoint's spans: the mesh config names a {@code zipkin}
 * extension provider whose {@code service} is a Service of the manifests (resolved to its pod,
 * as any upstream), {@code defaultProviders.tracing} picks it, sampling 100%. A request that
 * carries a W3C {@code traceparent} gets a SERVER span that is the child of the caller's span
 * and a CLIENT span per upstream attempt, child of the server span; the backend receives the
 * client span's context; queried back through Zipkin's {@code /api/v2/trace/{id}}.
 * Loopback range 127.150.20.x.
 */
class ZipkinTracingInteropTest {
    static final Path ZIPKIN_JAR = Path.of(System.getProperty("user.home"),
            ".m2/repository/io/zipkin/zipkin-server/3.6.1/zipkin-server-3.6.1-exec.jar");

    static String manifests(int zipkinPort) {
        return E2eManifests.WAYPOINT_AND_APPS + """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: apps}
                spec:
                  clusterIP: 127.150.20.1
                  selector: {app: web}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: web-v1, namespace: apps, labels: {app: web, version: v1}}
                spec: {serviceAccountName: web}
                status: {podIP: 127.150.21.1}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: zipkin, namespace: istio-system}
                spec:
                  clusterIP: 127.150.20.9
                  selector: {app: zipkin}
                  ports:
                  - {name: http-query, port: 9411, targetPort: %d}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: zipkin-0, namespace: istio-system, labels: {app: zipkin, istio.io/dataplane-mode: none}}
                status: {podIP: 127.150.21.9}
                """.formatted(zipkinPort);
    }

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static ExternalProcess zipkin;
    static int zipkinPort;

    @BeforeAll
    static void start() throws Exception {
        if (!Files.isRegularFile(ZIPKIN_JAR)) {
            Interop.missing("zipkin-server 3.6.1 exec jar (" + ZIPKIN_JAR + ")");
        }
        zipkinPort = Interop.freePort("127.150.21.9");
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), manifests(zipkinPort));
        Path meshConfig = tmp.resolve("meshconfig.yaml");
        Files.writeString(meshConfig, """
                defaultConfig:
                  tracing: {sampling: 100}
                defaultProviders:
                  tracing: [zipkin]
                extensionProviders:
                - name: zipkin
                  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
                """);
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> s.withMeshConfig(meshConfig));
        // the fixtures start an echo backend for every pod: Zipkin plays this one
        mesh.backend("127.150.21.9", zipkinPort).close();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        zipkin = ExternalProcess.start("zipkin", List.of(java, "-Xmx256m", "-jar", ZIPKIN_JAR.toString(),
                "--QUERY_PORT=" + zipkinPort), tmp.resolve("logs"));
        Interop.awaitListening("127.150.21.9", zipkinPort, Duration.ofSeconds(90), zipkin);
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
        if (zipkin != null) {
            zipkin.close();
        }
    }

    @Test
    void zipkinReceivesTheServerAndClientSpansWithTheirParents() throws Exception {
        String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        String callerSpan = "00f067aa0ba902b7";
        String body;
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect("127.150.20.1:80", Map.of("baggage",
                    "k8s.namespace.name=apps,k8s.deployment.name=client,service.name=client,service.version=v1"))
                    .get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
            t.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20),
                    new SimpleChannelInboundHandler<FullHttpResponse>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
                            q.add(msg.retain());
                        }
                    });
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/traced", Unpooled.EMPTY_BUFFER);
            req.headers().set(HttpHeaderNames.HOST, "web.apps").set("traceparent", "00-" + traceId + "-" + callerSpan + "-01");
            t.writeAndFlush(req);
            FullHttpResponse r = q.poll(10, TimeUnit.SECONDS);
            assertThat(r).isNotNull();
            assertThat(r.status().code()).isEqualTo(200);
            body = r.content().toString(StandardCharsets.UTF_8);
            r.release();
            t.close();
        }
        // the backend got the trace, with a new parent (the waypoint's client span) and a request id
        assertThat(body).containsPattern("header traceparent=00-" + traceId + "-[0-9a-f]{16}-01")
                .doesNotContain(callerSpan).containsPattern("header x-request-id=[0-9a-f-]{36}");
        mesh.waypoint().flushTraces(Duration.ofSeconds(10));

        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create("http://127.150.21.9:" + zipkinPort + "/api/v2/trace/" + traceId);
        List<JsonNode> spans = new ArrayList<>();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            HttpResponse<String> res = http.send(java.net.http.HttpRequest.newBuilder(uri).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(res.statusCode()).isEqualTo(200);
            spans.clear();
            Interop.JSON.readTree(res.body()).forEach(spans::add);
            assertThat(spans).hasSize(2);
        });
        JsonNode server = spans.stream().filter(s -> s.path("kind").asText().equals("SERVER")).findFirst().orElseThrow();
        JsonNode clientSpan = spans.stream().filter(s -> s.path("kind").asText().equals("CLIENT")).findFirst().orElseThrow();
        assertThat(server.path("parentId").asText()).isEqualTo(callerSpan);
        assertThat(clientSpan.path("parentId").asText()).isEqualTo(server.path("id").asText());
        assertThat(body).contains("header traceparent=00-" + traceId + "-" + clientSpan.path("id").asText() + "-01");
        assertThat(server.path("name").asText()).isEqualTo("web.apps.svc.cluster.local:80/*");
        assertThat(clientSpan.path("name").asText()).isEqualTo("router inbound-vip|80|http|web.apps.svc.cluster.local egress");
        assertThat(server.path("localEndpoint").path("serviceName").asText()).isEqualTo("waypoint.istio-system");
        JsonNode tags = server.path("tags");
        assertThat(tags.path("http.method").asText()).isEqualTo("GET");
        assertThat(tags.path("http.status_code").asText()).isEqualTo("200");
        assertThat(tags.path("istio.source_workload").asText()).isEqualTo("client");
        assertThat(tags.path("istio.canonical_service").asText()).isEqualTo("web");
        assertThat(tags.path("upstream_cluster").asText()).isEqualTo("inbound-vip|80|http|web.apps.svc.cluster.local");
        assertThat(tags.path("guid:x-request-id").asText()).hasSize(36);
        assertThat(clientSpan.path("tags").path("upstream_address").asText()).isEqualTo("127.150.21.1:8080");
        assertThat(clientSpan.path("tags").path("http.status_code").asText()).isEqualTo("200");
    }
}
