package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.transport.HalfClose;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Telemetry end to end: a real waypoint with an access log serves HTTP, gRPC and TCP (relayed,
 * and refused for want of an endpoint), and its {@code /stats/prometheus} and access-log file
 * show each with Istio's names, labels and fields. Loopback range 127.150.x.x.
 */
class TelemetryEndToEndTest {
    private static final String BAGGAGE = "k8s.cluster.name=Kubernetes,k8s.namespace.name=apps,"
            + "k8s.deployment.name=client,service.name=client,service.version=v7";

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path accessLog;
    static HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = TelemetryEndToEndTest.class.getResourceAsStream("/e2e/telemetry-mesh.yaml")) {
            Files.copy(in, configDir.resolve("mesh.yaml"));
        }
        accessLog = tmp.resolve("access.log");
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> new WaypointSettings(s.configDir(), s.certDir(), s.gateway(), s.trustDomain(), s.listener(),
                        s.upstream(), s.health(), s.stats(), s.admin(), s.workerThreads(), accessLog.toString(), s.jwks(),
                        s.authz()));
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterAll
    static void stopMesh() {
        if (client != null) {
            client.close();
        }
        if (mesh != null) {
            mesh.close();
        }
    }

    static Channel tunnel(String authority, int status) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of("baggage", BAGGAGE)).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as(authority).isEqualTo(status);
        return a.tunnel();
    }

    static String scrape() throws Exception {
        return mesh.prometheus();
    }

    /** The one sample line of {@code metric} whose labels include all of {@code labels}. */
    static String sample(String text, String metric, String... labels) {
        List<String> lines = text.lines().filter(l -> l.startsWith(metric + "{"))
                .filter(l -> java.util.Arrays.stream(labels).allMatch(l::contains)).toList();
        assertThat(lines).as(metric + " " + String.join(",", labels)).hasSize(1);
        return lines.get(0);
    }

    static List<String> logLines() throws Exception {
        return Files.exists(accessLog) ? Files.readAllLines(accessLog) : List.of();
    }

    @Test
    void theConnectAnswerCarriesTheWaypointsBaggage() throws Exception {
        HboneTestClient.Answer a = client.connect("127.150.0.1:80", Map.of("baggage", BAGGAGE)).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(200);
        // as a destination ztunnel answers: the waypoint Deployment istio-system/waypoint, canonical name waypoint
        assertThat(a.headers().get("baggage")).hasToString("k8s.cluster.name=Kubernetes,k8s.namespace.name=istio-system,"
                + "k8s.deployment.name=waypoint,service.name=waypoint,service.version=latest");
        a.tunnel().close();
    }

    @Test
    void httpGrpcAndTcpShowInTheScrapeAndTheAccessLog() throws Exception {
        // HTTP/1.1
        Channel web = tunnel("127.150.0.1:80", 200);
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(web);
        FullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/hello", Unpooled.EMPTY_BUFFER);
        get.headers().set(HttpHeaderNames.HOST, "web.apps").set("x-request-id", "req-1").set(HttpHeaderNames.USER_AGENT, "e2e");
        web.writeAndFlush(get);
        FullHttpResponse r = Tunnels.take(q);
        assertThat(r.status().code()).isEqualTo(200);
        r.release();
        web.close();

        // gRPC streaming: two messages each way (the echo backend streams the body back)
        Channel g = tunnel("127.150.0.2:9090", 200);
        Tunnels.h2c(g);
        BlockingQueue<FullHttpResponse> gq = new LinkedBlockingQueue<>();
        Http2StreamChannel s = Tunnels.h2cStream(g, gq);
        HttpRequest call = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo.Echo/Stream");
        call.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc").set("te", "trailers")
                .set(HttpHeaderNames.HOST, "grpc.apps:9090");
        s.write(call);
        s.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 2, 'h', 'i'})));
        s.writeAndFlush(new DefaultLastHttpContent(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 3, 'y', 'o', 'u'})));
        FullHttpResponse gr = Tunnels.take(gq);
        assertThat(gr.trailingHeaders().get("grpc-status")).isEqualTo("0");
        gr.release();
        g.close();

        // TCP: 5 bytes each way, the client ends first
        Channel db = tunnel("127.150.0.3:7000", 200);
        CompletableFuture<String> echoed = new CompletableFuture<>();
        StringBuilder got = new StringBuilder();
        db.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    echoed.complete(got.toString());
                }
                ReferenceCountUtil.release(evt);
            }
        });
        db.writeAndFlush(Unpooled.copiedBuffer("ping!", StandardCharsets.US_ASCII));
        await().atMost(Duration.ofSeconds(5)).until(() -> got.length() == 5);
        HalfClose.shutdownOutput(db);
        assertThat(echoed.get(5, TimeUnit.SECONDS)).isEqualTo("ping!");
        await().atMost(Duration.ofSeconds(5)).until(() -> !db.isActive());

        // TCP to a Service without endpoints: refused at the CONNECT
        tunnel("127.150.0.4:7000", 503);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(logLines()).hasSize(4));
        String text = scrape();

        String src = "source_workload=\"client\",source_workload_namespace=\"apps\"";
        assertThat(sample(text, "istio_requests_total", "destination_service=\"web.apps.svc.cluster.local\""))
                .contains("destination_workload=\"web-v1\"", "reporter=\"waypoint\"", "request_protocol=\"http\"",
                        "response_code=\"200\"", "source_canonical_revision=\"v7\"", src).endsWith(" 1.0");
        String grpc = "destination_service=\"grpc.apps.svc.cluster.local\"";
        assertThat(sample(text, "istio_requests_total", grpc)).contains("request_protocol=\"grpc\"",
                "grpc_response_status=\"0\"");
        assertThat(sample(text, "istio_request_messages_total", grpc)).endsWith(" 2.0");
        assertThat(sample(text, "istio_response_messages_total", grpc)).endsWith(" 2.0");
        assertThat(text).doesNotContain("istio_request_messages_total{connection_security_policy=\"mutual_tls\","
                + "destination_app=\"web\"");

        String dbSvc = "destination_service=\"db.apps.svc.cluster.local\"";
        assertThat(sample(text, "istio_tcp_connections_opened_total", dbSvc)).contains("destination_workload=\"db-v1\"",
                "destination_canonical_revision=\"v3\"", "destination_principal=\"spiffe://cluster.local/ns/apps/sa/db\"",
                "request_protocol=\"tcp\"", "response_flags=\"-\"", src).endsWith(" 1.0");
        assertThat(sample(text, "istio_tcp_connections_closed_total", dbSvc)).endsWith(" 1.0");
        assertThat(sample(text, "istio_tcp_received_bytes_total", dbSvc)).endsWith(" 5.0");
        assertThat(sample(text, "istio_tcp_sent_bytes_total", dbSvc)).endsWith(" 5.0");
        String none = "destination_service=\"nothing.apps.svc.cluster.local\"";
        assertThat(sample(text, "istio_tcp_connections_opened_total", none)).contains("response_flags=\"UH\"",
                "destination_workload=\"unknown\"").endsWith(" 1.0");
        assertThat(sample(text, "istio_tcp_connections_closed_total", none)).endsWith(" 1.0");

        // the proxy's own health, under waypoint_
        assertThat(text).contains("waypoint_config_last_reload_success 1\n", "waypoint_config_services 4\n",
                "waypoint_config_pods 3\n", "waypoint_config_authorization_policies 0\n", "# TYPE waypoint_tunnels gauge\n",
                "# TYPE waypoint_netty_direct_memory_used_bytes gauge\n")
                .containsPattern("waypoint_telemetry_series [1-9]\\d*\n");
        long expiry = Long.parseLong(text.lines().filter(l -> l.startsWith("waypoint_certificate_expiry_timestamp_seconds "))
                .findFirst().orElseThrow().split(" ")[1]);
        assertThat(expiry).isGreaterThan(java.time.Instant.now().getEpochSecond());

        List<String> log = logLines();
        assertThat(log).anySatisfy(l -> assertThat(l).contains("\"GET /hello HTTP/1.1\" 200 - via_upstream",
                "\"e2e\" \"req-1\" \"web.apps\" \"127.150.1.1:8080\" inbound-vip|80|http|web.apps.svc.cluster.local"));
        assertThat(log).anySatisfy(l -> assertThat(l).contains("\"POST /echo.Echo/Stream HTTP/2\" 200"));
        assertThat(log).anySatisfy(l -> assertThat(l).matches(
                "\\[.*\\] \"- - -\" 0 - - - \"-\" 5 5 \\d+ - \"-\" \"-\" \"-\" \"-\" \"127\\.150\\.1\\.3:7000\" "
                        + "inbound-vip\\|7000\\|tcp\\|db\\.apps\\.svc\\.cluster\\.local - 127\\.150\\.0\\.3:7000 .* - -"));
        assertThat(log).anySatisfy(l -> assertThat(l).contains("\"- - -\" 0 UH - no_healthy_upstream \"-\" 0 0 ",
                "\"-\" inbound-vip|7000|tcp|nothing.apps.svc.cluster.local - 127.150.0.4:7000"));
    }
}
