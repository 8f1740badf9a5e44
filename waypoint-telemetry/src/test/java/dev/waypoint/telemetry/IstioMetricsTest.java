package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The Prometheus exposition: Istio's metric names, labels and buckets. */
class IstioMetricsTest {
    @Test
    void requestsAreCountedWithIstiosNamesLabelsAndBuckets() {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 12, true));
        filter.onComplete(Requests.finished(false, 200, "-", 40, true));
        filter.onComplete(Requests.finished(false, 503, "UH", 1, false));
        String text = metrics.scrape();
        assertThat(text).contains("# TYPE istio_requests_total counter",
                "# TYPE istio_request_duration_milliseconds histogram",
                "# TYPE istio_request_bytes histogram", "# TYPE istio_response_bytes histogram");
        String ok = "connection_security_policy=\"mutual_tls\",destination_app=\"reviews\"";
        assertThat(text.lines().filter(l -> l.startsWith("istio_requests_total{") && l.contains("response_code=\"200\""))
                .findFirst()).hasValueSatisfying(l -> assertThat(l).contains(ok, "reporter=\"waypoint\"",
                        "destination_workload=\"reviews-v2\"", "source_principal=\"spiffe://cluster.local/ns/demo/sa/curl\"")
                        .endsWith(" 2.0"));
        assertThat(text).containsPattern("istio_requests_total\\{.*response_code=\"503\".*response_flags=\"UH\".*\\} 1.0");
        // Istio's duration buckets, ms
        assertThat(text).contains("le=\"0.5\"", "le=\"25.0\"", "le=\"3600000.0\"");
        // 12 ms and 40 ms: none up to 10, one up to 25, both up to 50
        assertThat(text).containsPattern("istio_request_duration_milliseconds_bucket\\{.*response_code=\"200\".*le=\"10.0\"\\} 0\n");
        assertThat(text).containsPattern("istio_request_duration_milliseconds_bucket\\{.*response_code=\"200\".*le=\"25.0\"\\} 1\n");
        assertThat(text).containsPattern("istio_request_duration_milliseconds_bucket\\{.*response_code=\"200\".*le=\"50.0\"\\} 2\n");
        assertThat(metrics.seriesCount()).isEqualTo(2);
    }

    @Test
    void labelSetsPastTheCapAreCountedNotRecorded() {
        IstioMetrics metrics = new IstioMetrics(1);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 1, true));
        filter.onComplete(Requests.finished(false, 404, "-", 1, true));
        filter.onComplete(Requests.finished(false, 500, "-", 1, true));
        assertThat(metrics.seriesCount()).isEqualTo(1);
        assertThat(metrics.scrape()).contains("waypoint_telemetry_dropped_series_total 2.0")
                .doesNotContain("response_code=\"404\"");
    }
}
