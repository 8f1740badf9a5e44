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
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint")).reportOn(loops)
                .defaultReportingInterval(Duration.ofMillis(50));
        EventLoop loop = loops.next();
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2);
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
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint")).reportOn(loops)
                .defaultReportingInterval(Duration.ofMillis(50));
        EventLoop loop = loops.next();
        Requests.Tcp[] ts = new Requests.Tcp[5];
        on(loop, () -> {
            for (int i = 0; i < ts.length; i++) {
                ts[i] = Requests.tcpTunnel();
                ts[i].outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2);
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
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint")).reportOn(loops);
        Requests.Tcp t = Requests.tcpTunnel();
        tcp.tcpOpened(t.tunnel(), t.outcome()); // the test thread is none of the loops
        assertThat(tcp.reportedTunnels()).isZero();
        t.outcome().addReceived(9);
        t.outcome().close(2_000_000_000L);
        tcp.tcpClosed(t.tunnel(), t.outcome());
        assertThat(value(metrics, "istio_tcp_received_bytes_total")).isEqualTo(9);
    }
}
