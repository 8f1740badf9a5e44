package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The Prometheus exposition: Istio's metric names, labels and buckets. */
class IstioMetricsTest {
    @Test
    void requestsAreCountedWithIstiosNamesLabelsAndBuckets() {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
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
    void theSamePodInAndOutOfTheMeshIsTwoSeriesByPrincipal() {
        // the recording cache must key on the endpoint's identity, not only its pod
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 12, true));
        dev.waypoint.model.request.RequestContext plaintext = Requests.finished(false, 200, "-", 12, true);
        plaintext.outcome().attempt("10.244.0.12:9080", Requests.REVIEWS_V2, null);
        filter.onComplete(plaintext);
        String text = metrics.scrape();
        assertThat(text).containsPattern("istio_requests_total\\{.*destination_principal=\"unknown\".*destination_workload=\"reviews-v2\".*\\} 1.0")
                .containsPattern("istio_requests_total\\{.*destination_principal=\"spiffe://cluster.local/ns/demo/sa/bookinfo-reviews\".*\\} 1.0");
    }

    @Test
    void labelSetsPastTheCapAreCountedNotRecorded() {
        IstioMetrics metrics = new IstioMetrics(1);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 1, true));
        filter.onComplete(Requests.finished(false, 404, "-", 1, true));
        filter.onComplete(Requests.finished(false, 500, "-", 1, true));
        assertThat(metrics.seriesCount()).isEqualTo(1);
        assertThat(metrics.scrape()).contains("waypoint_telemetry_dropped_series_total 2.0")
                .doesNotContain("response_code=\"404\"");
    }

    @Test
    void grpcRequestsCountTheirMessagesAndHttpOnesDoNot() {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        dev.waypoint.model.request.RequestContext call = Requests.finished(true, 200, "-", 3, true);
        call.outcome().addRequestMessages(1);
        call.outcome().addResponseMessages(4);
        filter.onComplete(call);
        filter.onComplete(Requests.finished(false, 200, "-", 3, true));
        String text = metrics.scrape();
        assertThat(text).containsPattern("istio_request_messages_total\\{.*grpc_response_status=\"0\".*request_protocol=\"grpc\".*\\} 1.0\n")
                .containsPattern("istio_response_messages_total\\{.*request_protocol=\"grpc\".*\\} 4.0\n");
        assertThat(text.lines().filter(l -> l.startsWith("istio_request_messages_total{"))).hasSize(1);
    }

    @Test
    void tcpTunnelsAreCountedWithIstiosTcpLabels() {
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "Kubernetes",
                new dev.waypoint.model.mesh.NamespacedName("istio-system", "waypoint"));
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        tcp.tcpOpened(t.tunnel(), t.outcome());
        t.outcome().addReceived(100);
        t.outcome().addSent(2000);
        t.outcome().close(2_000_000_000L);
        tcp.tcpClosed(t.tunnel(), t.outcome());
        Requests.Tcp refused = Requests.tcpTunnel();
        refused.outcome().flags("UH", "no_healthy_upstream");
        tcp.tcpOpened(refused.tunnel(), refused.outcome());
        refused.outcome().close(1_000_000_000L);
        tcp.tcpClosed(refused.tunnel(), refused.outcome());
        String text = metrics.scrape();
        String labels = "{connection_security_policy=\"mutual_tls\",destination_app=\"reviews\","
                + "destination_canonical_revision=\"v2\",destination_canonical_service=\"reviews\","
                + "destination_cluster=\"Kubernetes\",destination_principal=\"spiffe://cluster.local/ns/demo/sa/bookinfo-reviews\","
                + "destination_service=\"reviews.demo.svc.cluster.local\",destination_service_name=\"reviews\","
                + "destination_service_namespace=\"demo\",destination_version=\"v2\",destination_workload=\"reviews-v2\","
                + "destination_workload_namespace=\"demo\",reporter=\"waypoint\",request_protocol=\"tcp\","
                + "response_flags=\"-\",source_app=\"curl\",source_canonical_revision=\"v1\","
                + "source_canonical_service=\"curl\",source_cluster=\"Kubernetes\","
                + "source_principal=\"spiffe://cluster.local/ns/demo/sa/curl\",source_version=\"v1\","
                + "source_workload=\"curl\",source_workload_namespace=\"demo\"}";
        assertThat(text).contains("# TYPE istio_tcp_connections_opened_total counter",
                "istio_tcp_connections_opened_total" + labels + " 1.0\n",
                "istio_tcp_connections_closed_total" + labels + " 1.0\n",
                "istio_tcp_received_bytes_total" + labels + " 100.0\n",
                "istio_tcp_sent_bytes_total" + labels + " 2000.0\n");
        assertThat(text).containsPattern("istio_tcp_connections_closed_total\\{.*destination_workload=\"unknown\".*"
                + "response_flags=\"UH\".*\\} 1.0\n");
        assertThat(text).doesNotContainPattern("istio_tcp_[a-z_]+\\{[^}]*response_code");
        assertThat(metrics.seriesCount()).isEqualTo(2);
    }

    @Test
    void everyThreadRecordsWhileTheScrapeRuns() throws Exception {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        int threads = 4;
        int each = 5_000;
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        java.util.List<Thread> workers = new java.util.ArrayList<>();
        for (int i = 0; i < threads; i++) {
            dev.waypoint.model.request.RequestContext r = Requests.finished(false, 200, "-", 12, true);
            Thread w = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int n = 0; n < each; n++) {
                    filter.onComplete(r);
                }
            });
            w.start();
            workers.add(w);
        }
        go.countDown();
        for (Thread w : workers) {
            while (w.isAlive()) {
                // a scrape during the recording: every histogram's +Inf bucket equals its _count
                String text = metrics.scrape();
                assertThat(plusInfEqualsCount(text, "istio_request_duration_milliseconds")).isTrue();
                w.join(10);
            }
        }
        String text = metrics.scrape();
        assertThat(text).containsPattern("istio_requests_total\\{[^}]*response_code=\"200\"[^}]*\\} 20000.0\n")
                .containsPattern("istio_request_duration_milliseconds_count\\{[^}]*\\} 20000\n")
                .containsPattern("istio_request_duration_milliseconds_bucket\\{[^}]*le=\"25.0\"\\} 20000\n")
                .containsPattern("istio_request_duration_milliseconds_sum\\{[^}]*\\} 240000.0\n");
        assertThat(metrics.seriesCount()).isEqualTo(1);
    }

    private static boolean plusInfEqualsCount(String text, String family) {
        String inf = text.lines().filter(l -> l.startsWith(family + "_bucket{") && l.contains("le=\"+Inf\""))
                .map(l -> l.substring(l.lastIndexOf(' ') + 1)).findFirst().orElse("0");
        String count = text.lines().filter(l -> l.startsWith(family + "_count{"))
                .map(l -> l.substring(l.lastIndexOf(' ') + 1)).findFirst().orElse("0");
        return inf.equals(count);
    }

    @Test
    void histogramsHaveNoMaxAndEachFamilyOneType() {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 12, true));
        filter.onComplete(Requests.finished(false, 503, "UH", 1, false));
        metrics.registry().counter("waypoint_test_plugin_calls").increment(); // a Micrometer meter beside them
        String text = metrics.scrape();

        assertThat(text).doesNotContain("_max").contains("waypoint_test_plugin_calls_total 1.0");
        java.util.List<String> types = text.lines().filter(l -> l.startsWith("# TYPE ")).toList();
        assertThat(types).doesNotHaveDuplicates().contains("# TYPE istio_requests_total counter");
        assertThat(text.lines().filter(l -> !l.startsWith("#")).map(l -> l.substring(0, l.lastIndexOf(' '))))
                .doesNotHaveDuplicates();
    }

    @Test
    void tcpByteReportsAddToTheTunnelsSeriesWithoutAClose() {
        IstioMetrics metrics = new IstioMetrics(100);
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        String[] labels = IstioLabels.tcpValues(t.tunnel(), t.outcome(), "cluster.local", "Kubernetes");
        metrics.tcpOpened(labels);
        metrics.tcpBytes(labels, 100, 2000, java.util.Set.of());
        String live = metrics.scrape();
        assertThat(live).containsPattern("istio_tcp_received_bytes_total\\{.*\\} 100.0\n")
                .containsPattern("istio_tcp_sent_bytes_total\\{.*\\} 2000.0\n")
                .doesNotContain("istio_tcp_connections_closed_total");
        metrics.tcpClosed(labels.clone(), 5, 50);
        assertThat(metrics.scrape()).containsPattern("istio_tcp_received_bytes_total\\{.*\\} 105.0\n")
                .containsPattern("istio_tcp_sent_bytes_total\\{.*\\} 2050.0\n")
                .containsPattern("istio_tcp_connections_closed_total\\{.*\\} 1.0\n");
        assertThat(metrics.seriesCount()).isEqualTo(1);
    }
}
