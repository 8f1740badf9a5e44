package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
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
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Telemetry API end to end, through the real server: Telemetry objects at the root namespace
 * (sampling 100%, REQUEST_SIZE off), at the Services' namespace (access log only where
 * {@code response.code >= 400}, a CEL filter) and at one Service ({@code api}: sampling 0%,
 * REQUEST_COUNT off, {@code source_workload} from a header on REQUEST_DURATION) change what the scrape, the access-log file, the upstream's
 * {@code traceparent} and a Zipkin v2 collector see; a Telemetry edited to a bad CEL expression is
 * reported and its last good version keeps serving. Loopback range 127.190.x.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TelemetryApiEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 127.190.0.1
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: apps}
            spec:
              clusterIP: 127.190.0.2
              selector: {app: api}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-v1, namespace: apps, labels: {app: web, version: v1}}
            spec: {serviceAccountName: web}
            status: {podIP: 127.190.1.1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: api-v1, namespace: apps, labels: {app: api, version: v1}}
            spec: {serviceAccountName: api}
            status: {podIP: 127.190.1.2}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: no-denied, namespace: istio-system}
            spec:
              targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
              action: DENY
              rules:
              - to: [{operation: {paths: [/denied]}}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing:
              - randomSamplingPercentage: 100
              metrics:
              - providers: [{name: prometheus}]
                overrides:
                - match: {metric: REQUEST_SIZE}
                  disabled: true
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: api-only, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: "", name: api}]
              tracing:
              - randomSamplingPercentage: 0
              metrics:
              - overrides:
                - match: {metric: REQUEST_COUNT, mode: SERVER}
                  disabled: true
                - match: {metric: REQUEST_DURATION}
                  tagOverrides:
                    source_workload: {value: "request.headers['x-client']"}
            """;
    static final String ERRORS_ONLY = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: errors-only, namespace: apps}
            spec:
              accessLogging:
              - providers: [{name: envoy}]
                filter: {expression: "%s"}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    static Path log;
    static HttpServer collector;
    static final List<String> spans = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        collector = HttpServer.create(new InetSocketAddress("127.190.3.9", 0), 0);
        collector.createContext("/api/v2/spans", ex -> {
            spans.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            ex.sendResponseHeaders(202, -1);
            ex.close();
        });
        collector.start();
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MANIFESTS);
        Files.writeString(configDir.resolve("errors-only.yaml"), ERRORS_ONLY.formatted("response.code >= 400"));
        log = tmp.resolve("access.log");
        Path meshConfig = tmp.resolve("meshconfig.yaml");
        Files.writeString(meshConfig, """
                accessLogFile: %s
                accessLogFormat: "%%REQ(:AUTHORITY)%% %%REQ(:PATH)%% %%RESPONSE_CODE%%\\n"
                defaultConfig:
                  tracing: {sampling: 0}
                defaultProviders:
                  tracing: [zipkin]
                extensionProviders:
                - name: zipkin
                  zipkin: {service: 127.190.3.9, port: %d}
                """.formatted(log, collector.getAddress().getPort()));
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> s.withMeshConfig(meshConfig));
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
        if (collector != null) {
            collector.stop(0);
        }
    }

    /** One GET through the waypoint: status and the body (the echo backend lists the headers it got). */
    record Answer(int status, String body) {}

    static Answer get(String vip, String host, String path) throws Exception {
        return get(vip, host, path, Map.of());
    }

    static Answer get(String vip, String host, String path, Map<String, String> headers) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path, Unpooled.EMPTY_BUFFER);
            req.headers().set(HttpHeaderNames.HOST, host);
            headers.forEach(req.headers()::set);
            t.writeAndFlush(req);
            FullHttpResponse r = Tunnels.take(q);
            Answer answer = new Answer(r.status().code(), r.content().toString(StandardCharsets.UTF_8));
            r.release();
            t.close();
            return answer;
        }
    }

    static String scrape() throws Exception {
        return mesh.prometheus();
    }

    static List<String> lines() throws Exception {
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    static List<String> series(String text, String metric, String service) {
        return text.lines().filter(l -> l.startsWith(metric + "{"))
                .filter(l -> l.contains("destination_service_name=\"" + service + "\"")).toList();
    }

    @Test
    @Order(1)
    void rootNamespaceAndServiceTelemetryShapeMetricsLogsAndTraces() throws Exception {
        Answer web = get("127.190.0.1", "web.apps", "/ok");
        Answer api = get("127.190.0.2", "api.apps", "/ok", Map.of("x-client", "nightly-batch"));
        assertThat(get("127.190.0.1", "web.apps", "/denied").status()).isEqualTo(403);
        assertThat(web.status()).isEqualTo(200);
        assertThat(api.status()).isEqualTo(200);

        // tracing: root 100% for web (the upstream gets the waypoint's client span), api's own 0% wins there
        assertThat(web.body()).contains("header traceparent=00-");
        assertThat(api.body()).doesNotContain("traceparent");
        await().atMost(Duration.ofSeconds(10)).until(() -> String.join("", spans).contains("web.apps.svc.cluster.local:80/*"));
        assertThat(String.join("", spans)).doesNotContain("api.apps.svc.cluster.local");

        // metrics: REQUEST_SIZE off everywhere (root), REQUEST_COUNT off for api only (Service level)
        String text = scrape();
        assertThat(series(text, "istio_requests_total", "web")).hasSize(2);
        assertThat(series(text, "istio_requests_total", "api")).isEmpty();
        // a tag from a header (tagOverrides UPSERT with a CEL value) on api's REQUEST_DURATION only
        assertThat(series(text, "istio_request_duration_milliseconds_count", "api")).singleElement()
                .satisfies(l -> assertThat(l).contains("source_workload=\"nightly-batch\""));
        assertThat(series(text, "istio_response_bytes_count", "api")).singleElement()
                .satisfies(l -> assertThat(l).contains("source_workload=\"unknown\"")); // no baggage: Istio's unknown
        assertThat(series(text, "istio_request_bytes_count", "web")).isEmpty();
        assertThat(series(text, "istio_request_bytes_count", "api")).isEmpty();
        assertThat(series(text, "istio_response_bytes_count", "web")).hasSize(2);

        // access log: the namespace's filter keeps the 403 only
        await().atMost(Duration.ofSeconds(10)).until(() -> !lines().isEmpty());
        Thread.sleep(300); // the writer drains in batches; nothing else may arrive
        assertThat(lines()).containsExactly("web.apps /denied 403");
    }

    @Test
    @Order(2)
    void aBadFilterIsReportedAndTheLastGoodVersionKeepsServing() throws Exception {
        int before = lines().size();
        long generation = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("errors-only.yaml"), ERRORS_ONLY.formatted("response.code >="));
        await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > generation);
        assertThat(mesh.waypoint().snapshots().current().problems()).anySatisfy(p -> {
            assertThat(p.field()).isEqualTo("spec.accessLogging[0].filter.expression");
            assertThat(p.message()).startsWith("not a valid CEL expression").endsWith("its last good version keeps serving");
        });

        assertThat(get("127.190.0.2", "api.apps", "/fine").status()).isEqualTo(200);
        assertThat(get("127.190.0.2", "api.apps", "/denied").status()).isEqualTo(403);
        await().atMost(Duration.ofSeconds(10)).until(() -> lines().size() > before);
        Thread.sleep(300);
        assertThat(lines().subList(before, lines().size())).containsExactly("api.apps /denied 403");
    }
}
