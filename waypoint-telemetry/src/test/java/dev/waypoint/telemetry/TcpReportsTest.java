package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Open TCP tunnels report their bytes periodically (Istio's {@code tcp_reporting_duration}) and
 * the remainder when they end: the bytes show in the scrape while the tunnel is open, the totals
 * equal the bytes relayed after it closed, opened/closed are counted once. Run on a real event
 * loop, as the listener calls the observer.
 */
class TcpReportsTest {
    private final EventLoopGroup loops = new DefaultEventLoopGroup(2);

    @AfterEach
    void stop() {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static <T> T on(EventLoop loop, Callable<T> task) throws Exception {
        return loop.submit(task).get(5, TimeUnit.SECONDS);
    }

    /** The value of the one series of {@code metric} (TCP tunnels of one label set here), or -1 when absent. */
    private static double value(IstioMetrics metrics, String metric) {
        return metrics.scrape().lines().filter(l -> l.startsWith(metric + "{")).mapToDouble(
                l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(-1);
    }

    @Test
    void bytesAppearWhileTheTunnelIsOpenAndTotalsMatchAfterItCloses() throws Exception {
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint")).reportOn(loops)
                .defaultReportingInterval(Duration.ofMillis(50));
        EventLoop loop = loops.next();
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        on(loop, () -> {
            tcp.tcpOpened(t.tunnel(), t.outcome());
            t.outcome().addReceived(100);
            t.outcome().addSent(2000);
            return null;
        });
        assertThat(tcp.reportedTunnels()).isEqualTo(1);

        await().atMost(Duration.ofSeconds(10)).until(() -> value(metrics, "istio_tcp_received_bytes_total") == 100
                && value(metrics, "istio_tcp_sent_bytes_total") == 2000);
        assertThat(value(metrics, "istio_tcp_connections_opened_total")).isEqualTo(1);
        assertThat(value(metrics, "istio_tcp_connections_closed_total")).as("still open").isLessThanOrEqualTo(0);

        on(loop, () -> {
            t.outcome().addReceived(23);
            return null;
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> value(metrics, "istio_tcp_received_bytes_total") == 123);

        on(loop, () -> { // the close reports what the last periodic report did not
            t.outcome().addReceived(7);
            t.outcome().addSent(1);
            t.outcome().close(5_000_000_000L);
            tcp.tcpClosed(t.tunnel(), t.outcome());
            return null;
        });
        assertThat(value(metrics, "istio_tcp_received_bytes_total")).isEqualTo(130);
        assertThat(value(metrics, "istio_tcp_sent_bytes_total")).isEqualTo(2001);
        assertThat(value(metrics, "istio_tcp_connections_opened_total")).isEqualTo(1);
        assertThat(value(metrics, "istio_tcp_connections_closed_total")).isEqualTo(1);
        assertThat(tcp.reportedTunnels()).isZero();
    }

    @Test
    void manyTunnelsOnOneLoopShareItsTaskAndEachReportsItsOwnBytes() throws Exception {
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint")).reportOn(loops)
                .defaultReportingInterval(Duration.ofMillis(50));
        EventLoop loop = loops.next();
        Requests.Tcp[] ts = new Requests.Tcp[5];
        on(loop, () -> {
            for (int i = 0; i < ts.length; i++) {
                ts[i] = Requests.tcpTunnel();
                ts[i].outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
                tcp.tcpOpened(ts[i].tunnel(), ts[i].outcome());
                ts[i].outcome().addReceived(i + 1); // 1 + 2 + 3 + 4 + 5
            }
            return null;
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> value(metrics, "istio_tcp_received_bytes_total") == 15);
        on(loop, () -> { // close the middle one first (removal swaps the last one in), then the rest
            for (int i : new int[] {2, 0, 4, 1, 3}) {
                ts[i].outcome().addReceived(10);
                ts[i].outcome().close(5_000_000_000L);
                tcp.tcpClosed(ts[i].tunnel(), ts[i].outcome());
            }
            return null;
        });
        assertThat(value(metrics, "istio_tcp_received_bytes_total")).isEqualTo(65);
        assertThat(value(metrics, "istio_tcp_connections_closed_total")).isEqualTo(5);
        assertThat(tcp.reportedTunnels()).isZero();
    }

    @Test
    void offTheDataPlaneLoopsEverythingIsReportedAtClose() {
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint")).reportOn(loops);
        Requests.Tcp t = Requests.tcpTunnel();
        tcp.tcpOpened(t.tunnel(), t.outcome()); // the test thread is none of the loops
        assertThat(tcp.reportedTunnels()).isZero();
        t.outcome().addReceived(9);
        t.outcome().close(2_000_000_000L);
        tcp.tcpClosed(t.tunnel(), t.outcome());
        assertThat(value(metrics, "istio_tcp_received_bytes_total")).isEqualTo(9);
    }

    /** A snapshot where a Telemetry targeting the reviews Service carries {@code overrides}. */
    private static dev.waypoint.model.ConfigSnapshot withTelemetry(
            dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride... overrides) {
        dev.waypoint.model.Diagnostics d = new dev.waypoint.model.Diagnostics();
        dev.waypoint.model.ConfigSnapshot s = dev.waypoint.model.ConfigSnapshot.compile(1,
                dev.waypoint.model.ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                        .services(java.util.List.of(Requests.REVIEWS)).telemetries(java.util.List.of(
                                new dev.waypoint.model.telemetry.TelemetrySpec(new NamespacedName("demo", "t"),
                                        java.util.List.of(new dev.waypoint.model.security.PolicyTargetRef("", "Service",
                                                "reviews", null)), false, java.util.List.of(
                                                new dev.waypoint.model.telemetry.TelemetrySpec.Metrics(java.util.List.of(),
                                                        java.util.List.of(overrides))), java.util.List.of(),
                                        java.util.List.of(), dev.waypoint.model.SourceRef.NONE))).build(),
                java.util.List.of(new TelemetryPolicyCompiler("istio-system")), d);
        assertThat(d.problems()).isEmpty();
        return s;
    }

    private static java.util.List<String> lines(IstioMetrics metrics, String metric) {
        return metrics.scrape().lines().filter(l -> l.startsWith(metric + "{")).toList();
    }

    @Test
    void tagOverridesOnTcpMetricsAreEvaluatedOnceAtTheOpenAndLabelEveryReport() throws Exception {
        var upsert = dev.waypoint.model.telemetry.TelemetrySpec.Metric.TCP_OPENED_CONNECTIONS;
        var mode = dev.waypoint.model.telemetry.TelemetrySpec.Mode.CLIENT_AND_SERVER;
        dev.waypoint.model.ConfigSnapshot snapshot = withTelemetry(
                new dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride(upsert, mode, null, java.util.Map.of(
                        "upstream_peer", new dev.waypoint.model.telemetry.TelemetrySpec.TagOverride(false,
                                "upstream.address"),
                        "client", new dev.waypoint.model.telemetry.TelemetrySpec.TagOverride(false,
                                "source.address + ':' + string(source.port)"),
                        "request_host", new dev.waypoint.model.telemetry.TelemetrySpec.TagOverride(false,
                                "request.host"))),
                new dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride(
                        dev.waypoint.model.telemetry.TelemetrySpec.Metric.TCP_RECEIVED_BYTES, mode, null, java.util.Map.of(
                        "source_principal", new dev.waypoint.model.telemetry.TelemetrySpec.TagOverride(true, null))));
        java.util.concurrent.atomic.AtomicReference<dev.waypoint.model.ConfigSnapshot> current =
                new java.util.concurrent.atomic.AtomicReference<>(snapshot);
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, dev.waypoint.model.SnapshotSource.from(current::get), "cluster.local", "Kubernetes", new NamespacedName("istio-system", "waypoint"))
                .reportOn(loops).defaultReportingInterval(Duration.ofMillis(50));
        EventLoop loop = loops.next();
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        on(loop, () -> {
            tcp.tcpOpened(t.tunnel(), t.outcome());
            t.outcome().addReceived(100);
            t.outcome().addSent(2000);
            return null;
        });
        assertThat(tcp.reportedTunnels()).isEqualTo(1);
        assertThat(lines(metrics, "istio_tcp_connections_opened_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("upstream_peer=\"10.244.0.12:9080\"", "client=\"10.244.0.5:41000\"",
                        "request_host=\"unknown\"", // request.* is absent on a TCP tunnel: an evaluation error
                        "source_principal=\"spiffe://cluster.local/ns/demo/sa/curl\"", "request_protocol=\"tcp\"")
                .doesNotContain("response_code"));
        await().atMost(Duration.ofSeconds(10)).until(() -> value(metrics, "istio_tcp_received_bytes_total") == 100
                && value(metrics, "istio_tcp_sent_bytes_total") == 2000);
        // the periodic report carries the tunnel's labels: received without source_principal, sent standard
        assertThat(lines(metrics, "istio_tcp_received_bytes_total")).singleElement().satisfies(l -> assertThat(l)
                .doesNotContain("source_principal", "upstream_peer").contains("source_workload=\"curl\""));
        assertThat(lines(metrics, "istio_tcp_sent_bytes_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("source_principal=").doesNotContain("upstream_peer"));

        // evaluated once: a later snapshot without the Telemetry and a changed endpoint do not relabel the tunnel
        current.set(withTelemetry());
        on(loop, () -> {
            t.outcome().endpoint("10.244.0.99:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
            t.outcome().addReceived(23);
            return null;
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> value(metrics, "istio_tcp_received_bytes_total") == 123);
        on(loop, () -> {
            t.outcome().addReceived(7);
            t.outcome().close(5_000_000_000L);
            tcp.tcpClosed(t.tunnel(), t.outcome());
            return null;
        });
        assertThat(lines(metrics, "istio_tcp_received_bytes_total")).singleElement().satisfies(l -> assertThat(l)
                .doesNotContain("source_principal").endsWith(" 130.0"));
        assertThat(lines(metrics, "istio_tcp_connections_closed_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("source_principal=").doesNotContain("upstream_peer").endsWith(" 1.0"));
        assertThat(lines(metrics, "istio_tcp_connections_opened_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("upstream_peer=\"10.244.0.12:9080\"").endsWith(" 1.0"));
        assertThat(tcp.reportedTunnels()).isZero();
    }

    @Test
    void aRefusedTunnelOffTheLoopsIsLabelledAtOpenAndClose() {
        var mode = dev.waypoint.model.telemetry.TelemetrySpec.Mode.CLIENT_AND_SERVER;
        dev.waypoint.model.ConfigSnapshot snapshot = withTelemetry(
                new dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride(null, mode, null, java.util.Map.of(
                        "upstream_peer", new dev.waypoint.model.telemetry.TelemetrySpec.TagOverride(false,
                                "upstream.address == '' ? 'none' : upstream.address"))));
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, dev.waypoint.model.SnapshotSource.from(() -> snapshot), "cluster.local", "Kubernetes", new NamespacedName("istio-system", "waypoint"));
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().flags("UH", "no_healthy_upstream");
        t.outcome().close(1_500_000_000L);
        tcp.tcpOpened(t.tunnel(), t.outcome());
        tcp.tcpClosed(t.tunnel(), t.outcome());

        for (String metric : new String[] {"istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total",
                "istio_tcp_received_bytes_total", "istio_tcp_sent_bytes_total"}) {
            assertThat(lines(metrics, metric)).as(metric).singleElement().satisfies(l -> assertThat(l)
                    .contains("upstream_peer=\"none\"", "response_flags=\"UH\""));
        }
    }
}
