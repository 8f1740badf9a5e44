package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.model.telemetry.TelemetrySpec.AccessLogging;
import dev.waypoint.model.telemetry.TelemetrySpec.CustomTag;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import dev.waypoint.model.telemetry.TelemetrySpec.Metrics;
import dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride;
import dev.waypoint.model.telemetry.TelemetrySpec.Mode;
import dev.waypoint.model.telemetry.TelemetrySpec.TagOverride;
import dev.waypoint.model.telemetry.TelemetrySpec.Tracing;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Telemetry YAML → {@link TelemetrySpec}: the problem table (file, object, field) and the full record. */
class TelemetryTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final NamespacedName WAYPOINT = new NamespacedName("ns1", "waypoint");

    private record Result(List<TranslatedObject> objects, ResourceSet resources, List<String> problems) {}

    private static Result translate(String yaml) {
        try {
            Diagnostics d = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(
                    List.of(new WireObject(YAML.readTree(yaml), new SourceRef("t.yaml", 1))), d);
            return new Result(objects, ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", objects),
                    d.problems().stream().map(Object::toString).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String head(String version) {
        return "apiVersion: telemetry.istio.io/" + version + "\nkind: Telemetry\nmetadata: {name: t, namespace: ns1}\n";
    }

    record Case(String name, String spec, boolean kept, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final String P = "t.yaml:1: Telemetry ns1/t: ";
    private static final String W = "t.yaml:1: warning: Telemetry ns1/t: ";
    private static final String N = "t.yaml:1: note: Telemetry ns1/t: ";

    static Stream<Case> cases() {
        return Stream.of(
                new Case("namespace-wide metrics disable", """
                          metrics: [{providers: [{name: prometheus}], overrides: [{match: {metric: REQUEST_COUNT}, disabled: true}]}]
                        """, true, List.of()),
                new Case("unknown metric", """
                          metrics: [{overrides: [{match: {metric: REQUEST_COUNTS}, disabled: true}]}]
                        """, false, List.of(P + "spec.metrics[0].overrides[0].match.metric: metric: REQUEST_COUNTS (expected: ALL_METRICS or one of [REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE, RESPONSE_SIZE, TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS, TCP_SENT_BYTES, TCP_RECEIVED_BYTES, GRPC_REQUEST_MESSAGES, GRPC_RESPONSE_MESSAGES])")),
                new Case("bad mode", """
                          accessLogging: [{match: {mode: INBOUND}}]
                        """, false, List.of(P + "spec.accessLogging[0].match.mode: mode: INBOUND (expected: CLIENT_AND_SERVER, CLIENT or SERVER)")),
                new Case("sampling above 100", """
                          tracing: [{randomSamplingPercentage: 101}]
                        """, false, List.of(P + "spec.tracing[0].randomSamplingPercentage: randomSamplingPercentage: 101 (expected: a number from 0 to 100)")),
                new Case("disabled not a boolean", """
                          accessLogging: [{disabled: "yes"}]
                        """, false, List.of(P + "spec.accessLogging[0].disabled: disabled: \"yes\" (expected: true or false)")),
                new Case("tag operation", """
                          metrics: [{overrides: [{tagOverrides: {request_host: {operation: SET, value: request.host}}}]}]
                        """, false, List.of(P + "spec.metrics[0].overrides[0].tagOverrides.request_host.operation: operation: SET (expected: UPSERT or REMOVE)")),
                new Case("UPSERT without value", """
                          metrics: [{overrides: [{tagOverrides: {request_host: {operation: UPSERT}}}]}]
                        """, false, List.of(P + "spec.metrics[0].overrides[0].tagOverrides.request_host.value: value: missing (expected: a CEL expression for UPSERT)")),
                new Case("filter without expression", """
                          accessLogging: [{filter: {}}]
                        """, false, List.of(P + "spec.accessLogging[0].filter.expression: expression: missing (expected: a CEL expression such as response.code >= 400)")),
                new Case("custom tag with two kinds", """
                          tracing: [{customTags: {a: {literal: {value: x}, header: {name: y}}}}]
                        """, false, List.of(P + "spec.tracing[0].customTags.a: a: {\"literal\":{\"value\":\"x\"},\"header\":{\"name\":\"y\"}} (expected: exactly one of literal, environment or header)")),
                new Case("unknown spec field", """
                          logging: []
                        """, false, List.of(P + "spec.logging: logging: unknown field (expected: one of accessLogging, metrics, selector, targetRef, targetRefs, tracing)")),
                new Case("provider without name", """
                          tracing: [{providers: [{}]}]
                        """, false, List.of(P + "spec.tracing[0].providers[0].name: name: missing (expected: the name of a mesh config extensionProvider, or envoy/prometheus)")),
                new Case("selector-based: kept with a note", """
                          selector: {matchLabels: {app: a}}
                          tracing: [{randomSamplingPercentage: 10}]
                        """, true, List.of(N + "spec.selector: a waypoint applies Telemetry through targetRefs or namespace-wide (no selector) only; this selector-based object is for sidecars, not applied here")),
                new Case("selector and targetRefs", """
                          selector: {matchLabels: {app: a}}
                          targetRefs: [{kind: Service, name: a}]
                        """, false, List.of(P + "spec.selector: selector: {\"matchLabels\":{\"app\":\"a\"}} (expected: only one of selector or targetRefs)")),
                new Case("customMetric: noted, dropped", """
                          metrics: [{overrides: [{match: {customMetric: my_metric}, disabled: true}]}]
                        """, true, List.of(N + "spec.metrics[0].overrides[0].match.customMetric: custom metrics are not defined here; this override does nothing")),
                new Case("reportingInterval: a duration", """
                          metrics: [{reportingInterval: 200ms}]
                        """, true, List.of()),
                new Case("reportingInterval not a duration", """
                          metrics: [{reportingInterval: often}]
                        """, false, List.of(P + "spec.metrics[0].reportingInterval: reportingInterval: \"often\" (expected: a duration such as 5s, 500ms or 1m30s)")),
                new Case("reportingInterval zero", """
                          metrics: [{reportingInterval: 0s}]
                        """, false, List.of(P + "spec.metrics[0].reportingInterval: reportingInterval: 0s (expected: a positive duration)")),
                new Case("cross-namespace targetRef", """
                          targetRefs: [{kind: Service, name: b, namespace: ns2}]
                        """, true, List.of(W + "spec.targetRefs[0].namespace: namespace: ns2 (expected: the policy's own namespace ns1; this reference attaches to nothing)")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void reportsEveryProblemWithItsFieldPath(Case c) {
        Result r = translate(head("v1") + "spec:\n" + c.spec());

        assertThat(r.problems()).containsExactlyElementsOf(c.problems());
        assertThat(r.objects()).singleElement().satisfies(t -> assertThat(t.kept()).as("kept").isEqualTo(c.kept()));
        assertThat(r.resources().telemetries()).hasSize(c.kept() ? 1 : 0);
    }

    @Test
    void everyFieldReachesTheRecord() {
        Result r = translate(head("v1alpha1") + """
                spec:
                  targetRefs: [{kind: Service, group: "", name: reviews}]
                  metrics:
                  - providers: [{name: prometheus}]
                    reportingInterval: 1.5s
                    overrides:
                    - match: {metric: REQUEST_COUNT, mode: SERVER}
                      disabled: true
                    - tagOverrides:
                        request_host: {value: "request.headers['host']"}
                        destination_port: {operation: REMOVE}
                  tracing:
                  - providers: [{name: zipkin}]
                    randomSamplingPercentage: 12.5
                    disableSpanReporting: false
                    customTags:
                      lit: {literal: {value: v}}
                      hdr: {header: {name: X-User, defaultValue: none}}
                      env: {environment: {name: HOME}}
                  accessLogging:
                  - match: {mode: CLIENT}
                    providers: [{name: envoy}]
                    disabled: true
                    filter: {expression: "response.code >= 400"}
                """);

        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().telemetries()).singleElement().isEqualTo(new TelemetrySpec(
                new NamespacedName("ns1", "t"), List.of(new PolicyTargetRef("", "Service", "reviews", null)), false,
                List.of(new Metrics(List.of("prometheus"), List.of(
                        new MetricsOverride(Metric.REQUEST_COUNT, Mode.SERVER, true, Map.of()),
                        new MetricsOverride(null, Mode.CLIENT_AND_SERVER, null, Map.of(
                                "request_host", new TagOverride(false, "request.headers['host']"),
                                "destination_port", new TagOverride(true, null)))), java.time.Duration.ofMillis(1500))),
                List.of(new Tracing(List.of("zipkin"), Mode.CLIENT_AND_SERVER, 12.5, false, Map.of(
                        "lit", new CustomTag(CustomTag.Kind.LITERAL, "v", null),
                        "hdr", new CustomTag(CustomTag.Kind.HEADER, "x-user", "none"),
                        "env", new CustomTag(CustomTag.Kind.ENVIRONMENT, "HOME", null)))),
                List.of(new AccessLogging(List.of("envoy"), Mode.CLIENT, true, "response.code >= 400")),
                new SourceRef("t.yaml", 1)));
    }

    @Test
    void otherVersionsAreIgnoredWithAWarning() {
        Result r = translate(head("v1beta1") + "spec: {}\n");

        assertThat(r.problems()).containsExactly(
                W + "apiVersion: apiVersion: telemetry.istio.io/v1beta1 (expected: telemetry.istio.io/v1 or telemetry.istio.io/v1alpha1; the object is not applied)");
        assertThat(r.resources().telemetries()).isEmpty();
    }
}
