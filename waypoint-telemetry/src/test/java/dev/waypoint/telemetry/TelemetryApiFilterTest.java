package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import dev.waypoint.model.telemetry.TelemetrySpec.Metrics;
import dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride;
import dev.waypoint.model.telemetry.TelemetrySpec.Mode;
import dev.waypoint.model.telemetry.TelemetrySpec.TagOverride;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The telemetry stage under a snapshot with Telemetry objects: disabled metrics are not in the
 * scrape, {@code tagOverrides} UPSERT a label from a CEL expression (a request header), add a label
 * Istio's set does not have, and REMOVE one (dropped from the series), per metric; a label name
 * Prometheus does not accept is an error on its field.
 */
class TelemetryApiFilterTest {
    private static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");

    private static ConfigSnapshot snapshot(TelemetrySpec... objects) {
        Diagnostics d = new Diagnostics();
        ConfigSnapshot s = ConfigSnapshot.compile(1, ResourceSet.builder(WAYPOINT, "cluster.local")
                .services(List.of(Requests.REVIEWS)).telemetries(List.of(objects)).build(),
                List.of(new TelemetryPolicyCompiler("istio-system")), d);
        assertThat(d.problems()).isEmpty();
        return s;
    }

    private static TelemetrySpec reviews(MetricsOverride... overrides) {
        return new TelemetrySpec(new NamespacedName("demo", "t"), List.of(new PolicyTargetRef("", "Service", "reviews", null)),
                false, List.of(new Metrics(List.of(), List.of(overrides))), List.of(), List.of(), SourceRef.NONE);
    }

    private static String run(ConfigSnapshot snapshot, Map<String, String> headers) {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        RequestContext r = Requests.finished(false, 200, "-", 5, true, headers, snapshot);
        filter.onComplete(r);
        return metrics.scrape();
    }

    private static List<String> lines(String scrape, String metric) {
        return scrape.lines().filter(l -> l.startsWith(metric + "{")).toList();
    }

    @Test
    void aDisabledMetricIsNotInTheScrape() {
        String text = run(snapshot(reviews(new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, true, Map.of()))),
                Map.of());

        assertThat(lines(text, "istio_requests_total")).isEmpty();
        assertThat(lines(text, "istio_request_duration_milliseconds_count")).hasSize(1);
        assertThat(text).doesNotContain("# TYPE istio_requests_total");
    }

    @Test
    void allMetricsOffRecordsNothing() {
        String text = run(snapshot(reviews(new MetricsOverride(null, Mode.SERVER, true, Map.of()))), Map.of());

        assertThat(text).doesNotContain("istio_");
    }

    @Test
    void tagOverridesUpsertFromAHeaderAndRemovePerMetric() {
        String text = run(snapshot(reviews(
                new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, null, Map.of(
                        "source_workload", new TagOverride(false, "request.headers['x-client']"),
                        "request_protocol", new TagOverride(true, null))),
                new MetricsOverride(null, Mode.CLIENT_AND_SERVER, null, Map.of(
                        "destination_version", new TagOverride(false, "'v-' + string(response.code)"))))),
                Map.of("x-client", "batch-job"));

        // REMOVE drops the label from that metric's series, as Envoy's stats plugin does
        assertThat(lines(text, "istio_requests_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("source_workload=\"batch-job\"", "destination_version=\"v-200\"")
                .doesNotContain("request_protocol="));
        assertThat(lines(text, "istio_request_duration_milliseconds_count")).singleElement().satisfies(l -> assertThat(l)
                .contains("source_workload=\"curl\"", "request_protocol=\"http\"", "destination_version=\"v-200\""));
    }

    @Test
    void anExpressionThatFailsGivesUnknown() {
        String text = run(snapshot(reviews(new MetricsOverride(null, Mode.CLIENT_AND_SERVER, null, Map.of(
                "source_workload", new TagOverride(false, "request.headers['x-client']"))))), Map.of());

        assertThat(lines(text, "istio_requests_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("source_workload=\"unknown\""));
    }

    @Test
    void aLabelIstioDoesNotHaveIsAddedToThatMetricsSeriesOnly() {
        String text = run(snapshot(reviews(new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, null,
                Map.of("request_host", new TagOverride(false, "request.host"))))), Map.of());

        assertThat(lines(text, "istio_requests_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("request_host=\"reviews.demo:9080\"", "source_workload=\"curl\"", "request_protocol=\"http\""));
        assertThat(lines(text, "istio_request_duration_milliseconds_count")).singleElement().satisfies(l -> assertThat(l)
                .doesNotContain("request_host"));
        assertThat(text.lines().filter(l -> l.equals("# TYPE istio_requests_total counter"))).hasSize(1);
    }

    @Test
    void oneFamilyHoldsSeriesWithAndWithoutTheAddedLabel() {
        ConfigSnapshot tagged = snapshot(reviews(new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, null,
                Map.of("request_host", new TagOverride(false, "request.host")))));
        ConfigSnapshot plain = snapshot();
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        filter.onComplete(Requests.finished(false, 200, "-", 5, true, Map.of(), tagged));
        filter.onComplete(Requests.finished(false, 200, "-", 5, true, Map.of(), plain));
        filter.onComplete(Requests.finished(false, 200, "-", 5, true, Map.of(), tagged));

        assertThat(lines(metrics.scrape(), "istio_requests_total")).satisfiesExactlyInAnyOrder(
                l -> assertThat(l).contains("request_host=\"reviews.demo:9080\"").endsWith(" 2.0"),
                l -> assertThat(l).doesNotContain("request_host").endsWith(" 1.0"));
    }

    @Test
    void removingALabelTheSetHasNotChangesNothing() {
        ConfigSnapshot s = snapshot(reviews(new MetricsOverride(null, Mode.CLIENT_AND_SERVER, null,
                Map.of("request_host", new TagOverride(true, null)))));
        TelemetryPolicies.Effective e = s.part(TelemetryPolicies.PART).of(Requests.REVIEWS);

        assertThat(e.tags()).isEmpty(); // the allocation-free path
        assertThat(lines(run(s, Map.of()), "istio_requests_total")).singleElement().satisfies(l -> assertThat(l)
                .contains("request_protocol=\"http\"").doesNotContain("request_host"));
    }

    @Test
    void aLabelNamePrometheusRefusesIsAnErrorOnItsField() {
        for (String bad : List.of("request-host", "9lives", "__name", "")) {
            Diagnostics d = new Diagnostics();
            TelemetryPolicies p = new TelemetryPolicyCompiler("istio-system").compile(ResourceSet.builder(WAYPOINT, "cluster.local")
                    .services(List.of(Requests.REVIEWS)).telemetries(List.of(reviews(new MetricsOverride(null,
                            Mode.CLIENT_AND_SERVER, null, Map.of(bad, new TagOverride(false, "request.host"))))))
                    .build(), d);

            assertThat(d.problems()).as(bad).singleElement().satisfies(pr -> {
                assertThat(pr.severity()).isEqualTo(Diagnostics.Severity.ERROR);
                assertThat(pr.field()).isEqualTo("spec.metrics[0].overrides[0].tagOverrides." + bad);
                assertThat(pr.message()).startsWith("not a valid Prometheus label name").endsWith("the Telemetry is not applied");
            });
            assertThat(p.of(Requests.REVIEWS)).as(bad).isNull();
        }
    }

    @Test
    void leIsRefusedWhereAHistogramWouldGetIt() {
        Diagnostics d = new Diagnostics();
        new TelemetryPolicyCompiler("istio-system").compile(ResourceSet.builder(WAYPOINT, "cluster.local")
                .services(List.of(Requests.REVIEWS)).telemetries(List.of(reviews(
                        new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, null,
                                Map.of("le", new TagOverride(false, "'x'"))),
                        new MetricsOverride(Metric.REQUEST_DURATION, Mode.CLIENT_AND_SERVER, null,
                                Map.of("le", new TagOverride(false, "'x'"))))))
                .build(), d);

        assertThat(d.problems()).singleElement().satisfies(pr ->
                assertThat(pr.field()).isEqualTo("spec.metrics[0].overrides[1].tagOverrides.le"));
    }

    @Test
    void aBadLabelNameKeepsTheLastGoodVersion() {
        TelemetryPolicyCompiler compiler = new TelemetryPolicyCompiler("istio-system");
        ResourceSet good = ResourceSet.builder(WAYPOINT, "cluster.local").services(List.of(Requests.REVIEWS))
                .telemetries(List.of(reviews(new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, null,
                        Map.of("request_host", new TagOverride(false, "request.host")))))).build();
        Diagnostics d = new Diagnostics();
        compiler.compile(good, d);
        assertThat(d.problems()).isEmpty();

        TelemetryPolicies p = compiler.compile(good.toBuilder().telemetries(List.of(reviews(new MetricsOverride(
                Metric.REQUEST_COUNT, Mode.CLIENT_AND_SERVER, null, Map.of("request.host", new TagOverride(false,
                        "request.host")))))).build(), d);

        assertThat(d.problems()).singleElement().satisfies(pr -> assertThat(pr.message())
                .endsWith("its last good version keeps serving"));
        assertThat(p.of(Requests.REVIEWS).debug()).contains("tags [+request_host]");
    }

    @Test
    void tcpMetricsFollowTheirOverrides() {
        ConfigSnapshot snapshot = snapshot(reviews(
                new MetricsOverride(Metric.TCP_SENT_BYTES, Mode.CLIENT_AND_SERVER, true, Map.of()),
                new MetricsOverride(Metric.TCP_OPENED_CONNECTIONS, Mode.SERVER, true, Map.of())));
        IstioMetrics metrics = new IstioMetrics(100);
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, dev.waypoint.model.SnapshotSource.from(() -> snapshot), "cluster.local", "Kubernetes", WAYPOINT);
        Requests.Tcp t = Requests.tcpTunnel();
        t.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        tcp.tcpOpened(t.tunnel(), t.outcome());
        t.outcome().addReceived(100);
        t.outcome().addSent(2000);
        t.outcome().close(2_000_000_000L);
        tcp.tcpClosed(t.tunnel(), t.outcome());

        String text = metrics.scrape();
        assertThat(lines(text, "istio_tcp_connections_closed_total")).hasSize(1);
        assertThat(lines(text, "istio_tcp_received_bytes_total")).singleElement().satisfies(l -> assertThat(l).endsWith(" 100.0"));
        assertThat(lines(text, "istio_tcp_sent_bytes_total")).isEmpty();
        assertThat(lines(text, "istio_tcp_connections_opened_total")).isEmpty();
    }

    @Test
    void withNoMeshConfigFileATelemetryAsksForStandardOutput() {
        try (AccessLogFiles files = new AccessLogFiles()) {
            TelemetrySpec logging = new TelemetrySpec(new NamespacedName("demo", "logs"), List.of(), false, List.of(),
                    List.of(), List.of(new TelemetrySpec.AccessLogging(List.of(), Mode.CLIENT_AND_SERVER, null, null)),
                    SourceRef.NONE);
            Diagnostics d = new Diagnostics();
            AccessLogSettings s = new AccessLogCompiler(files, null).compile(ResourceSet.builder(WAYPOINT, "cluster.local")
                    .telemetries(List.of(logging)).build(), d);
            assertThat(s.debug()).isEqualTo("/dev/stdout (TEXT), for the Telemetry API's accessLogging only");
            assertThat(new AccessLogCompiler(files, null).compile(ResourceSet.builder(WAYPOINT, "cluster.local").build(), d)
                    .debug()).isEqualTo("off");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aTelemetryOnlyLogSkipsRequestsNoTelemetryLoggingAppliesTo() throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        AccessLog log = new AccessLog(out);
        dev.waypoint.model.PartCompiler<AccessLogSettings> logPart = new dev.waypoint.model.PartCompiler<>() {
            public dev.waypoint.model.SnapshotPart<AccessLogSettings> part() {
                return AccessLogSettings.PART;
            }

            public AccessLogSettings compile(ResourceSet r, Diagnostics d) {
                return new AccessLogSettings(log, "test", AccessLogFormat.text("%REQ(:PATH)% %RESPONSE_CODE%\n"), true);
            }
        };
        ResourceSet base = ResourceSet.builder(WAYPOINT, "cluster.local").services(List.of(Requests.REVIEWS)).build();
        ConfigSnapshot none = ConfigSnapshot.compile(1, base, List.of(logPart, new TelemetryPolicyCompiler("istio-system")),
                new Diagnostics());
        ConfigSnapshot on = ConfigSnapshot.compile(2, base.toBuilder().telemetries(List.of(new TelemetrySpec(
                new NamespacedName("demo", "logs"), List.of(), false, List.of(), List.of(), List.of(
                        new TelemetrySpec.AccessLogging(List.of(), Mode.CLIENT_AND_SERVER, null, null)), SourceRef.NONE)))
                .build(), List.of(logPart, new TelemetryPolicyCompiler("istio-system")), new Diagnostics());
        TelemetryFilter filter = new TelemetryFilter(new IstioMetrics(100), null, "cluster.local", "Kubernetes");

        filter.onComplete(Requests.finished(false, 200, "-", 5, true, Map.of(), none));
        filter.onComplete(Requests.finished(false, 201, "-", 5, true, Map.of(), on));
        log.close();

        assertThat(out.toString(java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("/reviews/1 201\n");
    }
}
