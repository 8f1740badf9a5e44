package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
 * Open TCP tunnels report their bytes periodically, through the real server: a Telemetry's
 * {@code metrics[].reportingInterval} (Istio's {@code tcp_reporting_duration}) of 100 ms, a
 * long-lived tunnel whose bytes appear in the scrape while it is open (no closed connection yet),
 * and, once it closed, totals equal to the bytes relayed each way and one opened and one closed
 * connection. Loopback range 127.232.2.x / 127.232.3.x.
 */
class TcpPeriodicReportEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: apps}
            spec:
              clusterIP: 127.232.2.1
              selector: {app: db}
              ports:
              - {name: tcp, port: 7000}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: db-v1, namespace: apps, labels: {app: db, version: v1}}
            spec: {serviceAccountName: db}
            status: {podIP: 127.232.3.1}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: fast-tcp-reports, namespace: apps}
            spec:
              metrics:
              - reportingInterval: 100ms
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void start() throws Exception {
        mesh = TestMesh.startWith(tmp, MANIFESTS);
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

    /** The value of the db Service's series of {@code metric}, or -1 when it is not in the scrape. */
    static double value(String metric) throws Exception {
        List<String> lines = scrape().lines().filter(l -> l.startsWith(metric + "{"))
                .filter(l -> l.contains("destination_service_name=\"db\"")).toList();
        assertThat(lines.size()).as(metric).isLessThanOrEqualTo(1);
        return lines.isEmpty() ? -1 : Double.parseDouble(lines.get(0).substring(lines.get(0).lastIndexOf(' ') + 1));
    }

    @Test
    void aLongLivedTunnelsBytesAreInTheScrapeBeforeItCloses() throws Exception {
        assertThat(mesh.waypoint().snapshots().current().problems()).isEmpty();
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect("127.232.2.1:7000", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel db = a.tunnel();
            CompletableFuture<String> ended = new CompletableFuture<>();
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
                        ended.complete(got.toString());
                    }
                    ReferenceCountUtil.release(evt);
                }
            });

            db.writeAndFlush(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII));
            await().atMost(Duration.ofSeconds(5)).until(() -> got.length() == 5);
            // open, and already reported: 5 bytes each way (the backend echoes)
            await().atMost(Duration.ofSeconds(10)).until(() -> value("istio_tcp_received_bytes_total") == 5
                    && value("istio_tcp_sent_bytes_total") == 5);
            assertThat(value("istio_tcp_connections_opened_total")).isEqualTo(1);
            assertThat(value("istio_tcp_connections_closed_total")).as("not closed yet").isLessThanOrEqualTo(0);

            db.writeAndFlush(Unpooled.copiedBuffer("1234567", StandardCharsets.US_ASCII));
            await().atMost(Duration.ofSeconds(5)).until(() -> got.length() == 12);
            await().atMost(Duration.ofSeconds(10)).until(() -> value("istio_tcp_received_bytes_total") == 12
                    && value("istio_tcp_sent_bytes_total") == 12);
            assertThat(value("istio_tcp_connections_closed_total")).as("not closed yet").isLessThanOrEqualTo(0);

            HalfClose.shutdownOutput(db);
            assertThat(ended.get(5, TimeUnit.SECONDS)).isEqualTo("hello1234567");
            db.close();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> value("istio_tcp_connections_closed_total") == 1);
        // the totals are the bytes relayed, counted once: periodic reports plus the remainder at close
        assertThat(value("istio_tcp_received_bytes_total")).isEqualTo(12);
        assertThat(value("istio_tcp_sent_bytes_total")).isEqualTo(12);
        assertThat(value("istio_tcp_connections_opened_total")).isEqualTo(1);
        // no tracing provider here: the export counters are on the scrape, at zero
        assertThat(scrape()).contains("\nwaypoint_trace_export_failures 0\n", "\nwaypoint_trace_spans_dropped 0\n");
    }
}
