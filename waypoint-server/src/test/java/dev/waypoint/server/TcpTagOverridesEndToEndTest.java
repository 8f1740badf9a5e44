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
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Telemetry's {@code tagOverrides} on the TCP metrics, through the real server: on the {@code db}
 * Service it adds {@code upstream_peer} (CEL {@code upstream.address}) to
 * {@code istio_tcp_connections_opened_total} and removes {@code source_principal} from
 * {@code istio_tcp_sent_bytes_total} / {@code istio_tcp_received_bytes_total}; the {@code cache}
 * Service's tunnels keep Istio's standard TCP labels, in the same families. The server runs with
 * {@code --cluster-id east-1} ({@link WaypointSettings#withClusterId}): every series'
 * {@code destination_cluster} and the CONNECT answer's {@code baggage} name it. Loopback range
 * 127.236.x.
 */
class TcpTagOverridesEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: apps}
            spec:
              clusterIP: 127.236.0.1
              selector: {app: db}
              ports:
              - {name: tcp, port: 7000}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: cache, namespace: apps}
            spec:
              clusterIP: 127.236.0.2
              selector: {app: cache}
              ports:
              - {name: tcp, port: 7001}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: db-v1, namespace: apps, labels: {app: db, version: v1}}
            spec: {serviceAccountName: db}
            status: {podIP: 127.236.1.1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: cache-v1, namespace: apps, labels: {app: cache, version: v1}}
            spec: {serviceAccountName: cache}
            status: {podIP: 127.236.1.2}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: db-tcp-tags, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: "", name: db}]
              metrics:
              - overrides:
                - match: {metric: TCP_OPENED_CONNECTIONS}
                  tagOverrides:
                    upstream_peer: {value: "upstream.address"}
                - match: {metric: TCP_SENT_BYTES}
                  tagOverrides:
                    source_principal: {operation: REMOVE}
                - match: {metric: TCP_RECEIVED_BYTES}
                  tagOverrides:
                    source_principal: {operation: REMOVE}
            """;

    static final String[] TCP_METRICS = {"istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total",
            "istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total"};

    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void start() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MANIFESTS);
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> s.withClusterId("east-1"));
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
    }

    static String scrape() throws Exception {
        return mesh.prometheus();
    }

    /** The series of {@code metric} for Service {@code service}. */
    static List<String> series(String scrape, String metric, String service) {
        return scrape.lines().filter(l -> l.startsWith(metric + "{"))
                .filter(l -> l.contains("destination_service_name=\"" + service + "\"")).toList();
    }

    /** One tunnel to {@code authority}: {@code payload} out, echoed back, both sides closed; the CONNECT answer. */
    static HboneTestClient.Answer relay(HboneTestClient client, String authority, String payload) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(200);
        Channel tunnel = a.tunnel();
        CompletableFuture<String> ended = new CompletableFuture<>();
        StringBuilder got = new StringBuilder();
        tunnel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    ended.complete(got.toString());
                }
                ReferenceCountUtil.release(evt);
            }
        });
        tunnel.writeAndFlush(Unpooled.copiedBuffer(payload, StandardCharsets.US_ASCII));
        await().atMost(Duration.ofSeconds(5)).until(() -> got.length() == payload.length());
        HalfClose.shutdownOutput(tunnel);
        assertThat(ended.get(5, TimeUnit.SECONDS)).isEqualTo(payload);
        tunnel.close();
        return a;
    }

    @Test
    void aTelemetryAddsALabelToOneServicesOpenedConnectionsAndRemovesOneFromItsByteCounters() throws Exception {
        assertThat(mesh.waypoint().snapshots().current().problems()).isEmpty();
        HboneTestClient.Answer db;
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            db = relay(client, "127.236.0.1:7000", "hello");
            relay(client, "127.236.0.2:7001", "ping!!");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            String s = scrape();
            return series(s, "istio_tcp_connections_closed_total", "db").size() == 1
                    && series(s, "istio_tcp_connections_closed_total", "cache").size() == 1;
        });
        String text = scrape();

        // db: the added label on opened connections only, evaluated when the tunnel opened
        assertThat(series(text, "istio_tcp_connections_opened_total", "db")).singleElement().satisfies(l -> assertThat(l)
                .contains("upstream_peer=\"127.236.1.1:7000\"", "source_principal=\"spiffe://", "request_protocol=\"tcp\"")
                .endsWith(" 1.0"));
        assertThat(series(text, "istio_tcp_connections_closed_total", "db")).singleElement().satisfies(l -> assertThat(l)
                .contains("source_principal=\"spiffe://").doesNotContain("upstream_peer").endsWith(" 1.0"));
        // db: source_principal dropped from both byte counters, the totals as relayed
        for (String bytes : new String[] {"istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total"}) {
            assertThat(series(text, bytes, "db")).as(bytes).singleElement().satisfies(l -> assertThat(l)
                    .doesNotContain("source_principal", "upstream_peer").contains("source_workload=").endsWith(" 5.0"));
        }
        // cache: no Telemetry applies, Istio's standard TCP labels on every metric
        for (String metric : TCP_METRICS) {
            assertThat(series(text, metric, "cache")).as(metric).singleElement().satisfies(l -> assertThat(l)
                    .contains("source_principal=\"spiffe://").doesNotContain("upstream_peer"));
        }
        for (String metric : TCP_METRICS) {
            assertThat(text.lines().filter(l -> l.startsWith("# TYPE " + metric + " "))).as(metric).hasSize(1);
        }

        // --cluster-id: destination_cluster of every series and the waypoint's own baggage
        for (String metric : TCP_METRICS) {
            for (String service : new String[] {"db", "cache"}) {
                assertThat(series(text, metric, service)).as(metric + " " + service).allSatisfy(l -> assertThat(l)
                        .contains("destination_cluster=\"east-1\""));
            }
        }
        assertThat(String.valueOf(db.headers().get("baggage"))).contains("k8s.cluster.name=east-1");
    }
}
