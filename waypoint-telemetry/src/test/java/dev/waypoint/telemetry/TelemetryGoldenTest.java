package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.WorkloadRef;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Golden files for a fixed set of finished requests and tunnels — HTTP, gRPC, TCP, denied,
 * no upstream, retried — through the stage's real recording: the {@code istio_*} series of the
 * scrape, compared label by label, and the access-log lines in TEXT and JSON.
 * {@code src/test/resources/golden/telemetry/README.md} says where each expected value comes
 * from. Refresh with {@code -Dgolden.update=true} (then read the diff).
 */
class TelemetryGoldenTest {
    private static final Path DIR = Path.of("src/test/resources/golden/telemetry");
    private static final Instant END = Instant.parse("2026-12-01T09:30:00.500Z");
    private static final PodSpec REVIEWS_V1 = new PodSpec(new NamespacedName("demo", "reviews-v1-5f9c7b6d8-abcde"),
            Map.of("app", "reviews", "version", "v1"), "bookinfo-reviews", HostPort.parseIp("10.244.0.11"), true, Map.of(),
            SourceRef.NONE, new WorkloadRef("Deployment", "reviews-v1"));

    /** (name, request) for the HTTP cases; the TCP ones are built apart. */
    static List<Map.Entry<String, RequestContext>> requests() {
        List<Map.Entry<String, RequestContext>> out = new ArrayList<>();
        out.add(Map.entry("http", Requests.finished(false, 200, "-", 12, true)));
        RequestContext grpc = Requests.finished(true, 200, "-", 3, true);
        grpc.outcome().addRequestMessages(1);
        grpc.outcome().addResponseMessages(3);
        out.add(Map.entry("grpc", grpc));
        RequestContext denied = Requests.finished(false, 403, "-", 1, false);
        denied.outcome().flags(Rejection.Reason.RBAC_DENIED.flag(), Rejection.Reason.RBAC_DENIED.code());
        denied.set(AuthzDecision.KEY, new AuthzDecision.Deny("demo/deny-curl", AuthorizationPolicySpec.Action.DENY, 0));
        out.add(Map.entry("denied", denied));
        out.add(Map.entry("no-upstream", Requests.finished(false, 503, "UH", 1, false)));
        // retried: the first attempt to reviews-v1 failed, the second to reviews-v2 answered
        RequestContext retried = Requests.finishedAfter(List.of(Map.entry("10.244.0.11:9080", REVIEWS_V1)), 200, 30);
        out.add(Map.entry("retried", retried));
        RequestContext exhausted = Requests.finishedAfter(List.of(Map.entry("10.244.0.11:9080", REVIEWS_V1)), 503, 40);
        exhausted.outcome().flags("URX", "upstream_reset_before_response_started");
        out.add(Map.entry("retries-exhausted", exhausted));
        return out;
    }

    static List<Requests.Tcp> tunnels() {
        Requests.Tcp relayed = Requests.tcpTunnel();
        relayed.outcome().endpoint("10.244.0.12:9080", Requests.REVIEWS_V2, Requests.REVIEWS_V2_ID);
        relayed.outcome().addReceived(100);
        relayed.outcome().addSent(2000);
        relayed.outcome().close(1_250_000_000L);
        Requests.Tcp refused = Requests.tcpTunnel();
        refused.outcome().flags("RBAC", "rbac_access_denied_matched_policy[demo/deny-curl, rule 0]");
        refused.outcome().close(1_000_000_000L);
        return List.of(relayed, refused);
    }

    @Test
    void theScrapeMatchesLabelByLabel() throws IOException {
        IstioMetrics metrics = new IstioMetrics(100);
        TelemetryFilter filter = new TelemetryFilter(metrics, null, "cluster.local", "Kubernetes");
        requests().forEach(e -> filter.onComplete(e.getValue()));
        TunnelTelemetry tcp = new TunnelTelemetry(metrics, null, "cluster.local", "Kubernetes",
                new NamespacedName("istio-system", "waypoint"));
        for (Requests.Tcp t : tunnels()) {
            tcp.tcpOpened(t.tunnel(), t.outcome());
            tcp.tcpClosed(t.tunnel(), t.outcome());
        }
        // every istio_ sample but the histogram buckets (their counts and sums are kept)
        String actual = String.join("\n", metrics.scrape().lines()
                .filter(l -> l.startsWith("istio_") && !l.contains("_bucket{")).sorted().toList()) + "\n";
        compare("scrape.prom", actual, true);
    }

    @Test
    void theAccessLogLinesMatchInTextAndJson() throws IOException {
        for (String encoding : List.of("text", "json")) {
            AccessLogFormat f = encoding.equals("text") ? AccessLogFormat.ISTIO_TEXT : AccessLogFormat.ISTIO_JSON;
            StringBuilder b = new StringBuilder();
            for (Map.Entry<String, RequestContext> e : requests()) {
                b.append(f.render(new LogEntries.Http(e.getValue(), "cluster.local", END)));
            }
            for (Requests.Tcp t : tunnels()) {
                b.append(f.render(new LogEntries.Tcp(t.tunnel(), t.outcome(), "cluster.local", END)));
            }
            compare("access." + (encoding.equals("text") ? "log" : "json"), b.toString(), false);
        }
    }

    /** A Prometheus sample: metric name, labels, value. */
    record Sample(String name, Map<String, String> labels, String value) {
        static Sample parse(String line) {
            int brace = line.indexOf('{');
            int close = line.lastIndexOf('}');
            Map<String, String> labels = new TreeMap<>();
            if (brace > 0) {
                for (String kv : line.substring(brace + 1, close).split("\",")) {
                    int eq = kv.indexOf('=');
                    labels.put(kv.substring(0, eq), kv.substring(eq + 2).replaceAll("\"$", ""));
                }
            }
            return new Sample(brace > 0 ? line.substring(0, brace) : line.substring(0, line.indexOf(' ')), labels,
                    line.substring(line.lastIndexOf(' ') + 1));
        }
    }

    private static void compare(String file, String actual, boolean samples) throws IOException {
        Path golden = DIR.resolve(file);
        if (Boolean.getBoolean("golden.update")) {
            Files.createDirectories(DIR);
            Files.writeString(golden, actual);
        }
        assertThat(golden).as("golden file (refresh with -Dgolden.update=true)").exists();
        String expected = Files.readString(golden);
        if (samples) {
            // label by label: a differing label shows as that sample's map, not as a long line
            assertThat(expected.lines().map(Sample::parse).toList()).as(file)
                    .containsExactlyElementsOf(actual.lines().map(Sample::parse).toList());
        } else {
            assertThat(actual.lines().toList()).as(file).containsExactlyElementsOf(expected.lines().toList());
        }
    }
}
