package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Istio's default TEXT access-log line, field by field, and the writer that never blocks. */
class AccessLogTest {
    @Test
    void theLineHasIstiosDefaultFields() {
        String line = AccessLog.format(Requests.finished(false, 200, "-", 12, true), "cluster.local",
                Instant.parse("2026-12-01T09:30:00.112Z"));
        assertThat(line).isEqualTo("[2026-12-01T09:30:00.100Z] \"GET /reviews/1 HTTP/1.1\" 200 - via_upstream - \"-\" "
                + "0 295 12 6 \"-\" \"curl/8.5.0\" \"6f1c0f6c\" \"reviews.demo:9080\" \"10.244.0.12:9080\" "
                + "inbound-vip|9080|http|reviews.demo.svc.cluster.local - 10.96.0.10:9080 10.244.0.5:41000 - default\n");
    }

    @Test
    void aLocalReplyShowsItsFlagsAndDetails() {
        String line = AccessLog.format(Requests.finished(false, 503, "UH", 1, false), "cluster.local", Instant.EPOCH);
        assertThat(line).contains("\" 503 UH no_healthy_upstream - ", "\"-\" inbound-vip|9080|http|");
    }

    @Test
    void aTcpTunnelHasItsLineWithTheHttpFieldsDashed() {
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        t.outcome().addReceived(18);
        t.outcome().addSent(4096);
        t.outcome().close(1_250_000_000L);
        String line = AccessLog.formatTcp(t.tunnel(), t.outcome(), "cluster.local", Instant.parse("2026-12-01T09:30:00.250Z"));
        assertThat(line).isEqualTo("[2026-12-01T09:30:00.000Z] \"- - -\" 0 - - - \"-\" 18 4096 250 - \"-\" \"-\" \"-\" \"-\" "
                + "\"10.244.0.12:9080\" inbound-vip|9080|tcp|reviews.demo.svc.cluster.local - 10.96.0.10:9080 "
                + "10.244.0.5:41000 - -\n");
    }

    @Test
    void aDeniedTcpTunnelShowsWhyInTheTerminationDetails() {
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().flags("RBAC", "rbac_access_denied_matched_policy");
        t.outcome().close(1_000_000_000L);
        assertThat(AccessLog.formatTcp(t.tunnel(), t.outcome(), "cluster.local", Instant.EPOCH))
                .contains("\"- - -\" 0 RBAC - rbac_access_denied_matched_policy \"-\" 0 0 0 ", "\"-\" inbound-vip|9080|tcp|");
    }

    @Test
    void linesAreWrittenOffTheCallersThread() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AccessLog log = new AccessLog(out);
        TelemetryFilter filter = new TelemetryFilter(new IstioMetrics(10), log, "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 5, true));
        filter.onComplete(Requests.finished(false, 503, "UH", 1, false));
        await().atMost(Duration.ofSeconds(5)).until(() -> out.toString(StandardCharsets.UTF_8).lines().count() == 2);
        log.close();
        assertThat(log.dropped()).isZero();
    }
}
