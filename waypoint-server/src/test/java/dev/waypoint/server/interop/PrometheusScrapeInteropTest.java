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
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * Prometheus itself (Debian's {@code prometheus}) scrapes the waypoint's {@code /stats/prometheus}
 * and the series come back through its query API with Istio's names and labels: the exposition
 * parses in the real consumer, not just in our own assertions; HTTP and TCP series, and one family
 * whose series carry different label names (a Telemetry adds {@code request_host} to {@code web}'s
 * {@code istio_requests_total}, {@code api}'s has Istio's labels only). Loopback range 127.45.x.x.
 */
class PrometheusScrapeInteropTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 127.45.0.1
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-v1, namespace: apps, labels: {app: web, version: v1}}
            spec: {serviceAccountName: web}
            status: {podIP: 127.45.1.1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: apps}
            spec:
              clusterIP: 127.45.0.2
              selector: {app: db}
              ports:
              - {name: tcp, port: 7000}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: db-v1, namespace: apps, labels: {app: db}}
            spec: {serviceAccountName: db}
            status: {podIP: 127.45.1.2}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: apps}
            spec:
              clusterIP: 127.45.0.3
              selector: {app: api}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: api-v1, namespace: apps, labels: {app: api}}
            spec: {serviceAccountName: api}
            status: {podIP: 127.45.1.3}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: web-host, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: "", name: web}]
              metrics:
              - overrides:
                - match: {metric: REQUEST_COUNT}
                  tagOverrides:
                    request_host: {value: "request.host"}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static ExternalProcess prometheus;
    static int promPort;

    @BeforeAll
    static void start() throws Exception {
        Path prom = Interop.program("prometheus");
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MANIFESTS);
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        int stats = mesh.waypoint().adminAddress("stats").getPort();
        Path config = tmp.resolve("prometheus.yml");
        Files.writeString(config, """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                scrape_configs:
                - job_name: waypoint
                  metrics_path: /stats/prometheus
                  static_configs:
                  - targets: ['127.0.0.1:%d']
                """.formatted(stats));
        promPort = Interop.freePort("127.0.0.1");
        prometheus = ExternalProcess.start("prometheus", List.of(prom.toString(), "--config.file=" + config,
                "--storage.tsdb.path=" + tmp.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + promPort), tmp.resolve("logs"));
        Interop.awaitListening("127.0.0.1", promPort, Duration.ofSeconds(30), prometheus);
    }

    @AfterAll
    static void stop() {
        if (prometheus != null) {
            prometheus.close();
        }
        if (mesh != null) {
            mesh.close();
        }
    }

    @Test
    void prometheusScrapesIstiosSeriesWithTheirLabels() throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect("127.45.0.1:80", Map.of("baggage",
                    "k8s.namespace.name=apps,k8s.deployment.name=client,service.name=client,service.version=v7")).get(10, TimeUnit.SECONDS);
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
            for (int i = 0; i < 3; i++) {
                FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/p" + i, Unpooled.EMPTY_BUFFER);
                req.headers().set(HttpHeaderNames.HOST, "web.apps");
                t.writeAndFlush(req);
                FullHttpResponse r = q.poll(10, TimeUnit.SECONDS);
                assertThat(r).isNotNull();
                r.release();
            }
            t.close();
            // a TCP tunnel: 4 bytes each way (the backend echoes), then the client ends it
            HboneTestClient.Answer tcp = client.connect("127.45.0.2:7000", Map.of("baggage",
                    "k8s.namespace.name=apps,k8s.deployment.name=client,service.name=client,service.version=v7")).get(10, TimeUnit.SECONDS);
            assertThat(tcp.status()).isEqualTo(200);
            BlockingQueue<Integer> echoed = new LinkedBlockingQueue<>();
            tcp.tunnel().pipeline().addLast(new SimpleChannelInboundHandler<io.netty.buffer.ByteBuf>() {
                @Override
                protected void channelRead0(ChannelHandlerContext ctx, io.netty.buffer.ByteBuf msg) {
                    echoed.add(msg.readableBytes());
                }
            });
            tcp.tunnel().writeAndFlush(Unpooled.copiedBuffer("ping", StandardCharsets.US_ASCII));
            int got = 0;
            while (got < 4) {
                Integer n = echoed.poll(10, TimeUnit.SECONDS);
                assertThat(n).as("echo").isNotNull();
                got += n;
            }
            tcp.tunnel().close().sync();
            // one request to api: its istio_requests_total series has no request_host
            HboneTestClient.Answer api = client.connect("127.45.0.3:80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(api.status()).isEqualTo(200);
            BlockingQueue<FullHttpResponse> apiAnswers = new LinkedBlockingQueue<>();
            api.tunnel().pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20),
                    new SimpleChannelInboundHandler<FullHttpResponse>() {
                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
                            apiAnswers.add(msg.retain());
                        }
                    });
            FullHttpRequest apiReq = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/q", Unpooled.EMPTY_BUFFER);
            apiReq.headers().set(HttpHeaderNames.HOST, "api.apps");
            api.tunnel().writeAndFlush(apiReq);
            FullHttpResponse apiAnswer = apiAnswers.poll(10, TimeUnit.SECONDS);
            assertThat(apiAnswer).isNotNull();
            apiAnswer.release();
            api.tunnel().close();
        }
        HttpClient http = HttpClient.newHttpClient();
        String query = "sum by (source_workload, source_canonical_revision, destination_workload, destination_service, "
                + "response_code, reporter) (istio_requests_total{reporter=\"waypoint\",destination_service_name=\"web\"})";
        URI uri = URI.create("http://127.0.0.1:" + promPort + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            JsonNode body = Interop.JSON.readTree(http.send(java.net.http.HttpRequest.newBuilder(uri).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            assertThat(body.path("status").asText()).isEqualTo("success");
            JsonNode result = body.path("data").path("result");
            assertThat(result.size()).isEqualTo(1);
            JsonNode metric = result.get(0).path("metric");
            assertThat(metric.path("source_workload").asText()).isEqualTo("client");
            assertThat(metric.path("source_canonical_revision").asText()).isEqualTo("v7");
            assertThat(metric.path("destination_workload").asText()).isEqualTo("web-v1");
            assertThat(metric.path("destination_service").asText()).isEqualTo("web.apps.svc.cluster.local");
            assertThat(metric.path("response_code").asText()).isEqualTo("200");
            assertThat(result.get(0).path("value").get(1).asDouble()).isEqualTo(3.0);
        });
        // the label a Telemetry added, queried back: web's series have it, api's (same family) have not
        String hostQuery = "sum by (request_host, destination_service_name) (istio_requests_total{reporter=\"waypoint\"})";
        URI qh = URI.create("http://127.0.0.1:" + promPort + "/api/v1/query?query=" + URLEncoder.encode(hostQuery, StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            JsonNode result = Interop.JSON.readTree(http.send(java.net.http.HttpRequest.newBuilder(qh).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).path("data").path("result");
            assertThat(result.size()).isEqualTo(2);
            for (JsonNode r : result) {
                String service = r.path("metric").path("destination_service_name").asText();
                if (service.equals("web")) {
                    assertThat(r.path("metric").path("request_host").asText()).isEqualTo("web.apps");
                    assertThat(r.path("value").get(1).asDouble()).isEqualTo(3.0);
                } else {
                    assertThat(service).isEqualTo("api");
                    assertThat(r.path("metric").has("request_host")).isFalse();
                    assertThat(r.path("value").get(1).asDouble()).isEqualTo(1.0);
                }
            }
        });
        // the duration histogram is usable as dashboards use it
        String p50 = "histogram_quantile(0.5, sum by (le) (istio_request_duration_milliseconds_bucket{reporter=\"waypoint\"}))";
        URI q2 = URI.create("http://127.0.0.1:" + promPort + "/api/v1/query?query=" + URLEncoder.encode(p50, StandardCharsets.UTF_8));
        JsonNode body = Interop.JSON.readTree(http.send(java.net.http.HttpRequest.newBuilder(q2).build(),
                HttpResponse.BodyHandlers.ofString()).body());
        assertThat(body.path("data").path("result").get(0).path("value").get(1).asText()).isNotEqualTo("NaN");

        // the TCP series parse in Prometheus too, with the TCP label set
        String tcpQuery = "sum by (destination_workload, request_protocol, source_workload) "
                + "(istio_tcp_received_bytes_total{reporter=\"waypoint\"})";
        URI q3 = URI.create("http://127.0.0.1:" + promPort + "/api/v1/query?query=" + URLEncoder.encode(tcpQuery, StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            JsonNode tcpBody = Interop.JSON.readTree(http.send(java.net.http.HttpRequest.newBuilder(q3).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            JsonNode result = tcpBody.path("data").path("result");
            assertThat(result.size()).isEqualTo(1);
            assertThat(result.get(0).path("metric").path("destination_workload").asText()).isEqualTo("db-v1");
            assertThat(result.get(0).path("metric").path("request_protocol").asText()).isEqualTo("tcp");
            assertThat(result.get(0).path("value").get(1).asDouble()).isEqualTo(4.0);
        });
    }
}
