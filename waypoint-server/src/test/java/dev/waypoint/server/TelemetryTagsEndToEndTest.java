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
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Telemetry {@code tagOverrides} that change a metric's label set, through the real server: a
 * Telemetry on the {@code web} Service adds {@code request_host} (a label Istio's set does not
 * have, from CEL {@code request.host}) to {@code istio_requests_total} and removes
 * {@code source_principal} from {@code istio_request_duration_milliseconds}; the {@code api}
 * Service's series keep Istio's standard labels. One family, one {@code # TYPE}, both label sets;
 * no {@code _max}. A label name Prometheus refuses is an error on its field and the last good
 * version keeps serving. Loopback range 127.231.x.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TelemetryTagsEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 127.231.0.1
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: apps}
            spec:
              clusterIP: 127.231.0.2
              selector: {app: api}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-v1, namespace: apps, labels: {app: web, version: v1}}
            spec: {serviceAccountName: web}
            status: {podIP: 127.231.1.1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: api-v1, namespace: apps, labels: {app: api, version: v1}}
            spec: {serviceAccountName: api}
            status: {podIP: 127.231.1.2}
            """;
    static final String WEB_TAGS = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: web-tags, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: "", name: web}]
              metrics:
              - providers: [{name: prometheus}]
                overrides:
                - match: {metric: REQUEST_COUNT, mode: SERVER}
                  tagOverrides:
                    %s: {operation: UPSERT, value: "request.host"}
                - match: {metric: REQUEST_DURATION}
                  tagOverrides:
                    source_principal: {operation: REMOVE}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;

    @BeforeAll
    static void start() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MANIFESTS);
        Files.writeString(configDir.resolve("web-tags.yaml"), WEB_TAGS.formatted("request_host"));
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
    }

    static int get(String vip, String host, String path) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path, Unpooled.EMPTY_BUFFER);
            req.headers().set(HttpHeaderNames.HOST, host);
            t.writeAndFlush(req);
            FullHttpResponse r = Tunnels.take(q);
            int status = r.status().code();
            r.release();
            t.close();
            return status;
        }
    }

    static String scrape() throws Exception {
        return mesh.prometheus();
    }

    static List<String> series(String text, String metric, String service) {
        return text.lines().filter(l -> l.startsWith(metric + "{"))
                .filter(l -> l.contains("destination_service_name=\"" + service + "\"")).toList();
    }

    @Test
    @Order(1)
    void anAddedLabelIsOnTheTargetedServicesSeriesOnly() throws Exception {
        assertThat(get("127.231.0.1", "web.apps", "/a")).isEqualTo(200);
        assertThat(get("127.231.0.1", "web.apps:80", "/b")).isEqualTo(200);
        assertThat(get("127.231.0.2", "api.apps", "/c")).isEqualTo(200);

        String text = scrape();
        // web: request_host added (one series per host the clients sent), Istio's labels kept
        assertThat(series(text, "istio_requests_total", "web")).hasSize(2)
                .anySatisfy(l -> assertThat(l).contains("request_host=\"web.apps\"").endsWith(" 1.0"))
                .anySatisfy(l -> assertThat(l).contains("request_host=\"web.apps:80\"").endsWith(" 1.0"))
                .allSatisfy(l -> assertThat(l).contains("reporter=\"waypoint\"", "destination_workload=\"web-v1\"",
                        "source_principal=\"spiffe://cluster.local/ns/apps/sa/client\"", "response_code=\"200\""));
        // api: no Telemetry, no added label
        assertThat(series(text, "istio_requests_total", "api")).singleElement().satisfies(l -> assertThat(l)
                .doesNotContain("request_host").contains("destination_workload=\"api-v1\"", "response_code=\"200\""));
        // REMOVE: web's duration series have no source_principal, api's have it; the other metrics keep it
        assertThat(series(text, "istio_request_duration_milliseconds_count", "web")).singleElement()
                .satisfies(l -> assertThat(l).doesNotContain("source_principal").doesNotContain("request_host"));
        assertThat(series(text, "istio_request_duration_milliseconds_count", "api")).singleElement()
                .satisfies(l -> assertThat(l).contains("source_principal=\"spiffe://cluster.local/ns/apps/sa/client\""));
        assertThat(series(text, "istio_response_bytes_count", "web")).singleElement()
                .satisfies(l -> assertThat(l).contains("source_principal=").doesNotContain("request_host"));
        // one family per name on the whole page, Istio's histograms without Micrometer's _max
        List<String> types = text.lines().filter(l -> l.startsWith("# TYPE ")).toList();
        assertThat(types).doesNotHaveDuplicates()
                .contains("# TYPE istio_requests_total counter", "# TYPE istio_request_duration_milliseconds histogram");
        assertThat(text.lines().filter(l -> l.startsWith("istio_") && l.contains("_max"))).isEmpty();
        assertThat(text.lines().filter(l -> !l.isEmpty() && !l.startsWith("#")).map(l -> l.substring(0, l.lastIndexOf(' '))))
                .doesNotHaveDuplicates();
    }

    @Test
    @Order(2)
    void aLabelNamePrometheusRefusesIsAnErrorAndTheLastGoodVersionServes() throws Exception {
        long generation = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("web-tags.yaml"), WEB_TAGS.formatted("request-host"));
        await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > generation);
        assertThat(mesh.waypoint().snapshots().current().problems()).anySatisfy(p -> {
            assertThat(p.field()).isEqualTo("spec.metrics[0].overrides[0].tagOverrides.request-host");
            assertThat(p.message()).startsWith("not a valid Prometheus label name")
                    .endsWith("its last good version keeps serving");
        });

        assertThat(get("127.231.0.1", "web.apps", "/d")).isEqualTo(200);
        assertThat(series(scrape(), "istio_requests_total", "web"))
                .anySatisfy(l -> assertThat(l).contains("request_host=\"web.apps\"").endsWith(" 2.0"))
                .noneSatisfy(l -> assertThat(l).contains("request-host"));
    }
}
