package dev.waypoint.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.bench.e2e.ManifestGen;
import dev.waypoint.demo.LocalMesh;
import dev.waypoint.model.mesh.NamespacedName;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The load tool against an in-process mesh ({@link LocalMesh}: waypoint, destination ztunnel
 * stand-in, echo backends on 127.30.x.x): a few hundred requests through the waypoint at a fixed
 * rate and closed loop, straight to the destination terminator, with h2c inside, and a short bulk
 * echo. Checks only that requests succeed and the report is complete: no timing assertions (the
 * numbers come from {@code run-e2e.sh}).
 */
class LoadToolSmokeTest {
    private static final String VIP = "127.30.0.10";
    private static final String POD_IP = "127.30.1.1";
    private static final NamespacedName GATEWAY = new NamespacedName("istio-system", "waypoint");

    @TempDir
    Path tmp;

    /** Requests per waypoint run: a few hundred, no more (this is a smoke test). */
    private static final int WAYPOINT_REQUESTS = 300;

    @Test
    void fixedRateThroughTheWaypoint() throws Exception {
        try (Mesh m = mesh()) {
            Report r = LoadRunner.run(m.spec("waypoint-fixed", m.waypoint(), VIP + ":80")
                    .withRate(300).withBody(1024).withTimes(Duration.ZERO, Duration.ofSeconds(30), WAYPOINT_REQUESTS),
                    m.client());
            assertRequests(r, WAYPOINT_REQUESTS, "fixed");
            assertThat(r.rate()).isEqualTo(300);
            assertThat(r.processes()).singleElement().satisfies(p -> {
                assertThat(p.label()).isEqualTo("self");
                assertThat(p.cpuSeconds()).isGreaterThanOrEqualTo(0);
                assertThat(p.rssKib()).isPositive();
                assertThat(p.vcpuPerKrps()).isNotNull();
            });
        }
    }

    @Test
    void closedLoopThroughTheWaypoint() throws Exception {
        try (Mesh m = mesh()) {
            Report r = LoadRunner.run(m.spec("waypoint-closed", m.waypoint(), VIP + ":80").withConcurrency(2, 2)
                    .withTimes(Duration.ZERO, Duration.ofSeconds(30), WAYPOINT_REQUESTS), m.client());
            assertRequests(r, WAYPOINT_REQUESTS, "closed");
            assertThat(r.tunnels()).isEqualTo(2);
        }
    }

    @Test
    void directToTheDestinationTerminatorAndH2cAndBulk() throws Exception {
        try (Mesh m = mesh()) {
            InetSocketAddress ztunnel = new InetSocketAddress(POD_IP, m.mesh.ztunnels().port());
            Report direct = LoadRunner.run(m.spec("direct", ztunnel, POD_IP + ":" + m.httpPort).withRate(500).withBody(1024)
                    .withTimes(Duration.ZERO, Duration.ofSeconds(30), 300), m.client());
            assertRequests(direct, 300, "fixed");

            Report h2c = LoadRunner.run(m.spec("waypoint-h2c", m.waypoint(), VIP + ":80").withH2c(true).withConcurrency(1, 2)
                    .withBody(100).withTimes(Duration.ZERO, Duration.ofSeconds(30), 100), m.client());
            assertRequests(h2c, 100, "closed");
            assertThat(h2c.inner()).isEqualTo("h2c");

            Report bulk = LoadRunner.run(m.spec("bulk", m.waypoint(), VIP + ":9000").withBulk(LoadSpec.BulkMode.ECHO)
                    .withTimes(Duration.ZERO, Duration.ofMillis(500), 0), m.client());
            assertThat(bulk.mode()).isEqualTo("bulk");
            assertThat(bulk.bulk()).isNotNull();
            assertThat(bulk.bulk().bytes()).isPositive();
            assertThat(bulk.errors()).isEmpty();
        }
    }

    @Test
    void reportRoundTripsThroughJson() throws Exception {
        try (Mesh m = mesh()) {
            Report r = LoadRunner.run(m.spec("json", m.waypoint(), VIP + ":80")
                    .withTimes(Duration.ZERO, Duration.ofSeconds(30), 20), m.client());
            Report back = Report.fromJson(r.toJson());
            assertThat(back).isEqualTo(r);
            assertThat(r.toJson()).contains("\"latencyMs\"", "\"p999\"", "\"errors\"", "\"processes\"", "\"rps\"");
            assertThat(r.toText()).contains("p99.9", "req/s");
        }
    }

    @Test
    void refusedTargetIsCountedByKind() throws Exception {
        try (Mesh m = mesh()) {
            // a VIP:port the waypoint does not serve: CONNECT answered 400, counted, never a success
            Report r = LoadRunner.run(m.spec("refused", m.waypoint(), VIP + ":81")
                    .withTimes(Duration.ZERO, Duration.ofMillis(300), 0), m.client());
            assertThat(r.requests()).isZero();
            assertThat(r.errors()).containsKey("connect_status_400");
        }
    }

    private static void assertRequests(Report r, int atLeast, String mode) {
        assertThat(r.mode()).isEqualTo(mode);
        assertThat(r.errors()).as(r.toText()).isEmpty();
        assertThat(r.requests()).as(r.toText()).isGreaterThanOrEqualTo(atLeast);
        assertThat(r.rps()).isPositive();
        assertThat(r.latencyMs().count()).isEqualTo(r.requests());
        assertThat(r.latencyMs().p50()).isPositive();
        assertThat(r.latencyMs().p99()).isGreaterThanOrEqualTo(r.latencyMs().p50());
        assertThat(r.latencyMs().max()).isGreaterThanOrEqualTo(r.latencyMs().p999());
        assertThat(r.windowSeconds()).isPositive();
        assertThat(r.tunnelsOpened()).isGreaterThanOrEqualTo((long) r.connections() * r.tunnels());
    }

    private Mesh mesh() throws Exception {
        int httpPort = freePort();
        int bulkPort = freePort();
        Path manifests = Files.createDirectories(tmp.resolve("manifests-" + httpPort));
        ManifestGen.writeBench(manifests, VIP, POD_IP, httpPort, bulkPort);
        LocalMesh mesh = LocalMesh.start(manifests, Files.createDirectories(tmp.resolve("work-" + httpPort)), GATEWAY,
                LocalMesh.Options.ephemeral());
        return new Mesh(mesh, httpPort);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private record Mesh(LocalMesh mesh, int httpPort) implements AutoCloseable {
        InetSocketAddress waypoint() {
            return mesh.waypoint().hboneAddress();
        }

        SslContext client() {
            return mesh.workload("bench", "bench-client").clientContext();
        }

        LoadSpec spec(String label, InetSocketAddress target, String authority) {
            return LoadSpec.defaults(target, authority).withLabel(label).withConcurrency(2, 1)
                    .withPids(List.of(ProcStat.Watched.parse("self=self")));
        }

        @Override
        public void close() {
            mesh.close();
        }
    }
}
