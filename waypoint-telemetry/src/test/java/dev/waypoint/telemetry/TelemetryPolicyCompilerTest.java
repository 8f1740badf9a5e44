package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
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
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Which Telemetry objects apply where and how they merge (Istio's {@code applicableTelemetries},
 * {@code mergeMetrics}, {@code Tracing}, {@code mergeLogs}, a waypoint reporting as SERVER): a
 * table of object sets and the settings each destination ends up with.
 */
class TelemetryPolicyCompilerTest {
    private static final String ROOT = "istio-system";
    private static final NamespacedName WAYPOINT = new NamespacedName("apps", "waypoint");
    private static final ServiceSpec REVIEWS = service("apps", "reviews");
    private static final ServiceSpec RATINGS = service("other", "ratings");

    private static ServiceSpec service(String ns, String name) {
        return new ServiceSpec(new NamespacedName(ns, name), Map.of(), List.of(HostPort.parseIp("10.96.0.10")),
                List.of(new ServicePortSpec("http", 9080, 9080, null, null)), Map.of(), SourceRef.NONE);
    }

    // builders: one Telemetry of each shape
    private static TelemetrySpec tel(String ns, String name, List<PolicyTargetRef> refs, List<Metrics> metrics,
                                     List<Tracing> tracing, List<AccessLogging> logging) {
        return new TelemetrySpec(new NamespacedName(ns, name), refs, false, metrics, tracing, logging,
                new SourceRef("t.yaml", 1));
    }

    private static TelemetrySpec metrics(String ns, String name, List<PolicyTargetRef> refs, MetricsOverride... o) {
        return tel(ns, name, refs, List.of(new Metrics(List.of(), List.of(o))), List.of(), List.of());
    }

    private static MetricsOverride off(Metric m) {
        return new MetricsOverride(m, Mode.CLIENT_AND_SERVER, true, Map.of());
    }

    private static MetricsOverride on(Metric m) {
        return new MetricsOverride(m, Mode.CLIENT_AND_SERVER, false, Map.of());
    }

    private static TelemetrySpec sampling(String ns, String name, List<PolicyTargetRef> refs, Double percent, Boolean disable) {
        return tel(ns, name, refs, List.of(), List.of(new Tracing(List.of(), Mode.CLIENT_AND_SERVER, percent, disable, null)),
                List.of());
    }

    private static TelemetrySpec logging(String ns, String name, List<PolicyTargetRef> refs, Boolean disabled, String filter) {
        return tel(ns, name, refs, List.of(), List.of(), List.of(new AccessLogging(List.of(), Mode.CLIENT_AND_SERVER,
                disabled, filter)));
    }

    private static AccessLogging log(List<String> providers, Boolean disabled, String filter) {
        return new AccessLogging(providers, Mode.CLIENT_AND_SERVER, disabled, filter);
    }

    private static TelemetrySpec logs(String ns, String name, List<PolicyTargetRef> refs, AccessLogging... entries) {
        return tel(ns, name, refs, List.of(), List.of(), List.of(entries));
    }

    private static final List<PolicyTargetRef> NS_WIDE = List.of();
    private static final List<PolicyTargetRef> TO_REVIEWS = List.of(new PolicyTargetRef("", "Service", "reviews", null));
    private static final List<PolicyTargetRef> TO_WAYPOINT = List.of(
            new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null));
    private static final List<PolicyTargetRef> TO_CLASS = List.of(
            new PolicyTargetRef("gateway.networking.k8s.io", "GatewayClass", "istio-waypoint", null));

    /** What one destination ends up with; null fields: no Telemetry applies there. */
    record Expect(Set<Metric> off, Double sampling, boolean noSpans, String log) {}

    private static final Expect NONE = null;

    record Case(String name, List<TelemetrySpec> objects, Expect reviews, Expect ratings) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Expect m(Metric... off) {
        return new Expect(off.length == 0 ? Set.of() : EnumSet.copyOf(List.of(off)), null, false, "mesh");
    }

    private static final Set<Metric> ALL = EnumSet.allOf(Metric.class);

    static Stream<Case> cases() {
        return Stream.of(
                new Case("no Telemetry", List.of(), NONE, NONE),
                new Case("root disables REQUEST_COUNT: everywhere",
                        List.of(metrics(ROOT, "mesh", NS_WIDE, off(Metric.REQUEST_COUNT))),
                        m(Metric.REQUEST_COUNT), m(Metric.REQUEST_COUNT)),
                new Case("waypoint namespace: every Service it serves (Istio: the proxy's namespace)",
                        List.of(metrics("apps", "ns", NS_WIDE, off(Metric.REQUEST_SIZE))),
                        m(Metric.REQUEST_SIZE), m(Metric.REQUEST_SIZE)),
                new Case("Service namespace: only that namespace's Services",
                        List.of(metrics("other", "ns", NS_WIDE, off(Metric.RESPONSE_SIZE))),
                        NONE, m(Metric.RESPONSE_SIZE)),
                new Case("root off, namespace back on: the more specific wins",
                        List.of(metrics(ROOT, "mesh", NS_WIDE, off(Metric.REQUEST_COUNT)),
                                metrics("other", "ns", NS_WIDE, on(Metric.REQUEST_COUNT))),
                        m(Metric.REQUEST_COUNT), m()),
                new Case("ALL_METRICS off at root, one metric override re-enables the filter (mergeMetrics)",
                        List.of(metrics(ROOT, "mesh", NS_WIDE, off(null)),
                                metrics("apps", "svc", TO_REVIEWS, off(Metric.REQUEST_DURATION))),
                        m(Metric.REQUEST_DURATION), new Expect(ALL, null, false, "mesh")),
                new Case("Service-level: that Service only",
                        List.of(metrics("apps", "svc", TO_REVIEWS, off(Metric.REQUEST_DURATION))),
                        m(Metric.REQUEST_DURATION), NONE),
                new Case("CLIENT mode does not apply at a waypoint",
                        List.of(metrics(ROOT, "mesh", NS_WIDE, new MetricsOverride(Metric.REQUEST_COUNT, Mode.CLIENT, true,
                                Map.of()), new MetricsOverride(Metric.REQUEST_SIZE, Mode.SERVER, true, Map.of()))),
                        m(Metric.REQUEST_SIZE), m(Metric.REQUEST_SIZE)),
                new Case("providers without prometheus: no metrics",
                        List.of(tel("apps", "svc", TO_REVIEWS, List.of(new Metrics(List.of("stackdriver"), List.of())),
                                List.of(), List.of())),
                        new Expect(ALL, null, false, "mesh"), NONE),
                new Case("first namespace-wide object of a namespace only",
                        List.of(metrics(ROOT, "a", NS_WIDE, off(Metric.REQUEST_COUNT)),
                                metrics(ROOT, "b", NS_WIDE, off(Metric.REQUEST_SIZE))),
                        m(Metric.REQUEST_COUNT), m(Metric.REQUEST_COUNT)),
                new Case("selector-based: not applied",
                        List.of(new TelemetrySpec(new NamespacedName("apps", "sel"), List.of(), true,
                                List.of(new Metrics(List.of(), List.of(off(Metric.REQUEST_COUNT)))), List.of(), List.of(),
                                SourceRef.NONE)),
                        NONE, NONE),
                new Case("Gateway and GatewayClass targets: every Service of the waypoint",
                        List.of(metrics("apps", "gw", TO_WAYPOINT, off(Metric.REQUEST_COUNT)),
                                metrics(ROOT, "class", TO_CLASS, off(Metric.REQUEST_SIZE))),
                        m(Metric.REQUEST_COUNT, Metric.REQUEST_SIZE), m(Metric.REQUEST_COUNT, Metric.REQUEST_SIZE)),
                new Case("a Gateway target of another waypoint: nothing",
                        List.of(metrics("apps", "gw", List.of(new PolicyTargetRef("gateway.networking.k8s.io", "Gateway",
                                "other-waypoint", null)), off(Metric.REQUEST_COUNT))),
                        NONE, NONE),
                new Case("sampling: root 10, namespace 100, Service disables span reporting",
                        List.of(sampling(ROOT, "mesh", NS_WIDE, 10.0, null), sampling("apps", "ns", NS_WIDE, 100.0, null),
                                sampling("apps", "svc", TO_REVIEWS, null, true)),
                        new Expect(Set.of(), 100.0, true, "mesh"), new Expect(Set.of(), 100.0, false, "mesh")),
                new Case("access log off at root, on with a filter for one Service",
                        List.of(logging(ROOT, "mesh", NS_WIDE, true, null),
                                logging("apps", "svc", TO_REVIEWS, false, "response.code >= 400")),
                        new Expect(Set.of(), null, false, "envoy where response.code >= 400"),
                        new Expect(Set.of(), null, false, "off")),
                new Case("access log on at root: on",
                        List.of(logging(ROOT, "mesh", NS_WIDE, null, null)),
                        new Expect(Set.of(), null, false, "envoy"), new Expect(Set.of(), null, false, "envoy")),
                new Case("two providers, two filters: each keeps its own (mergeLogs: a loggingSpec per provider)",
                        List.of(logs(ROOT, "mesh", NS_WIDE, log(List.of("a"), null, "response.code >= 500"),
                                log(List.of("b"), null, "request.method == 'POST'"))),
                        new Expect(Set.of(), null, false, "a where response.code >= 500; b where request.method == 'POST'"),
                        new Expect(Set.of(), null, false, "a where response.code >= 500; b where request.method == 'POST'")),
                new Case("one entry for both providers: the same filter on each",
                        List.of(logs(ROOT, "mesh", NS_WIDE, log(List.of("a", "b"), null, "response.code >= 500"))),
                        new Expect(Set.of(), null, false, "a where response.code >= 500; b where response.code >= 500"),
                        new Expect(Set.of(), null, false, "a where response.code >= 500; b where response.code >= 500")),
                new Case("the first provider disabled: the second's filter is still its own",
                        List.of(logs(ROOT, "mesh", NS_WIDE, log(List.of("a", "b"), null, "response.code >= 500")),
                                logs("apps", "svc", TO_REVIEWS, log(List.of("a"), true, null),
                                        log(List.of("b"), null, "response.code == 404"))),
                        new Expect(Set.of(), null, false, "b where response.code == 404"),
                        new Expect(Set.of(), null, false, "a where response.code >= 500; b where response.code >= 500")),
                new Case("a Service overrides one provider's filter: the other keeps the root's",
                        List.of(logs(ROOT, "mesh", NS_WIDE, log(List.of("a", "b"), null, "response.code >= 500")),
                                logs("apps", "svc", TO_REVIEWS, log(List.of("a"), null, "response.code >= 400"),
                                        log(List.of("b"), null, null))),
                        new Expect(Set.of(), null, false, "a where response.code >= 400; b"),
                        new Expect(Set.of(), null, false, "a where response.code >= 500; b where response.code >= 500")),
                new Case("inherited providers: a filter with no providers applies to the parent's",
                        List.of(logs(ROOT, "mesh", NS_WIDE, log(List.of("a", "b"), null, null)),
                                logs("apps", "svc", TO_REVIEWS, log(List.of(), null, "response.code >= 400"))),
                        new Expect(Set.of(), null, false, "a where response.code >= 400; b where response.code >= 400"),
                        new Expect(Set.of(), null, false, "a; b")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void mergesAsIstioDoes(Case c) {
        Diagnostics d = new Diagnostics();
        TelemetryPolicies p = new TelemetryPolicyCompiler(ROOT).compile(resources(c.objects()), d);

        assertThat(d.problems()).noneMatch(pr -> pr.severity() == Diagnostics.Severity.ERROR);
        check(p.of(REVIEWS), c.reviews());
        check(p.of(RATINGS), c.ratings());
    }

    private static void check(TelemetryPolicies.Effective e, Expect x) {
        if (x == null) {
            assertThat(e).isNull();
            return;
        }
        assertThat(e).isNotNull();
        assertThat(e.disabledMetrics()).as("metrics off").containsExactlyInAnyOrderElementsOf(x.off());
        // the config dump's words: "metrics all on" rather than an empty "metrics off []"
        assertThat(e.debug()).startsWith(x.off().isEmpty() ? "metrics all on," : "metrics off [");
        assertThat(e.samplingPercent()).as("sampling").isEqualTo(x.sampling());
        assertThat(e.disableSpanReporting()).as("disableSpanReporting").isEqualTo(x.noSpans());
        // "mesh": the mesh config decides; "off"; else each enabled provider with its own filter
        String log = !e.logging() ? "mesh" : e.logDisabled() ? "off" : e.logProviders().stream()
                .map(n -> e.logFilter(n) == null ? n : n + " where " + e.logFilter(n).source())
                .collect(java.util.stream.Collectors.joining("; "));
        assertThat(log).as("access log").isEqualTo(x.log());
    }

    private static ResourceSet resources(List<TelemetrySpec> objects) {
        return ResourceSet.builder(WAYPOINT, "cluster.local").services(List.of(REVIEWS, RATINGS)).telemetries(objects)
                .build();
    }

    @Test
    void customTagsReplaceTheParentsAsAWhole() {
        Map<String, CustomTag> rootTags = Map.of("a", new CustomTag(CustomTag.Kind.LITERAL, "1", null));
        Map<String, CustomTag> svcTags = Map.of("b", new CustomTag(CustomTag.Kind.HEADER, "x-user", "none"));
        TelemetryPolicies p = new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(
                tel(ROOT, "mesh", NS_WIDE, List.of(), List.of(new Tracing(List.of(), Mode.CLIENT_AND_SERVER, null, null,
                        rootTags)), List.of()),
                tel("apps", "svc", TO_REVIEWS, List.of(), List.of(new Tracing(List.of(), Mode.CLIENT_AND_SERVER, null, null,
                        svcTags)), List.of()))), new Diagnostics());

        assertThat(p.of(REVIEWS).customTags()).isEqualTo(svcTags);
        assertThat(p.of(RATINGS).customTags()).isEqualTo(rootTags);
    }

    @Test
    void reportingIntervalIsTheLastOneSetForAPrometheusProviderInScope() {
        java.time.Duration ten = java.time.Duration.ofSeconds(10);
        java.time.Duration fast = java.time.Duration.ofMillis(200);
        TelemetryPolicies p = new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(
                tel(ROOT, "mesh", NS_WIDE, List.of(new Metrics(List.of(), List.of(), ten)), List.of(), List.of()),
                tel("apps", "svc", TO_REVIEWS, List.of(new Metrics(List.of("prometheus"), List.of(), fast),
                        new Metrics(List.of(), List.of(off(Metric.REQUEST_COUNT)))), List.of(), List.of()))),
                new Diagnostics());

        assertThat(p.of(REVIEWS).tcpReportingInterval()).as("the Service's; a later entry without one keeps it")
                .isEqualTo(fast);
        assertThat(p.of(RATINGS).tcpReportingInterval()).as("the root's").isEqualTo(ten);
        assertThat(new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(metrics(ROOT, "m", NS_WIDE,
                off(Metric.REQUEST_SIZE)))), new Diagnostics()).of(REVIEWS).tcpReportingInterval())
                .as("none set: the default").isNull();
    }

    @Test
    void aBadFilterIsAnErrorOnItsFieldAndTheLastGoodVersionKeepsServing() {
        TelemetryPolicyCompiler compiler = new TelemetryPolicyCompiler(ROOT);
        Diagnostics first = new Diagnostics();
        compiler.compile(resources(List.of(logging("apps", "svc", TO_REVIEWS, false, "response.code >= 500"))), first);
        assertThat(first.problems()).isEmpty();

        Diagnostics second = new Diagnostics();
        TelemetryPolicies p = compiler.compile(resources(List.of(logging("apps", "svc", TO_REVIEWS, false,
                "response.code >="))), second);

        assertThat(second.problems()).singleElement().satisfies(pr -> {
            assertThat(pr.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(pr.field()).isEqualTo("spec.accessLogging[0].filter.expression");
            assertThat(pr.name()).isEqualTo(new NamespacedName("apps", "svc"));
            assertThat(pr.message()).startsWith("not a valid CEL expression: ").endsWith("; its last good version keeps serving");
        });
        assertThat(p.of(REVIEWS).logFilter("envoy").source()).isEqualTo("response.code >= 500");
    }

    @Test
    void aBadFirstVersionIsNotApplied() {
        Diagnostics d = new Diagnostics();
        TelemetryPolicies p = new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(
                logging("apps", "svc", TO_REVIEWS, false, "nosuchvar == 1"))), d);

        assertThat(d.problems()).singleElement().satisfies(pr -> assertThat(pr.message())
                .contains("undeclared reference to 'nosuchvar'").endsWith("; the Telemetry is not applied"));
        assertThat(p.of(REVIEWS)).isNull();
    }

    @Test
    void aBadTagOverrideValueIsAnErrorOnItsField() {
        Diagnostics d = new Diagnostics();
        new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(metrics("apps", "svc", TO_REVIEWS,
                new MetricsOverride(null, Mode.CLIENT_AND_SERVER, null, Map.of("source_workload",
                        new TagOverride(false, "request.headers[")))))), d);

        assertThat(d.problems()).singleElement().satisfies(pr -> assertThat(pr.field())
                .isEqualTo("spec.metrics[0].overrides[0].tagOverrides.source_workload.value"));
    }

    @Test
    void providersThisWaypointCannotHonourAreWarnedAbout() {
        Diagnostics d = new Diagnostics();
        new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(tel("apps", "p", NS_WIDE,
                List.of(new Metrics(List.of("stackdriver"), List.of())),
                List.of(new Tracing(List.of("jaeger"), Mode.CLIENT_AND_SERVER, 5.0, null, null)),
                List.of(new AccessLogging(List.of("otel-als"), Mode.CLIENT_AND_SERVER, null, null))))), d);

        assertThat(d.problems()).extracting(Diagnostics.Problem::field).containsExactly("spec.tracing[0].providers",
                "spec.accessLogging[0].providers", "spec.metrics[0].providers");
        assertThat(d.problems()).allSatisfy(p -> assertThat(p.severity()).isEqualTo(Diagnostics.Severity.WARNING));
    }

    /** One override on the reviews Service and the label sets it compiles to, per TCP metric. */
    record TcpTagCase(String name, Metric metric, Map<String, TagOverride> tags, Map<Metric, String> tcpPlans,
                      boolean httpTagged) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final String TCP_STANDARD = String.join(",", new java.util.TreeSet<>(List.of(IstioLabels.TCP_NAMES)));

    private static String tcpWith(String added) {
        java.util.TreeSet<String> names = new java.util.TreeSet<>(List.of(IstioLabels.TCP_NAMES));
        names.add(added);
        return String.join(",", names);
    }

    private static String tcpWithout(String removed) {
        java.util.TreeSet<String> names = new java.util.TreeSet<>(List.of(IstioLabels.TCP_NAMES));
        names.remove(removed);
        return String.join(",", names);
    }

    static Stream<TcpTagCase> tcpTagCases() {
        return Stream.of(
                new TcpTagCase("UPSERT of a new label on TCP_OPENED_CONNECTIONS: that metric only, HTTP untouched",
                        Metric.TCP_OPENED_CONNECTIONS, Map.of("upstream_peer", new TagOverride(false, "upstream.address")),
                        Map.of(Metric.TCP_OPENED_CONNECTIONS, tcpWith("upstream_peer")), false),
                new TcpTagCase("REMOVE on TCP_SENT_BYTES drops the label from its TCP set",
                        Metric.TCP_SENT_BYTES, Map.of("source_principal", new TagOverride(true, null)),
                        Map.of(Metric.TCP_SENT_BYTES, tcpWithout("source_principal")), false),
                new TcpTagCase("REMOVE of an HTTP-only label on a TCP metric changes nothing (the TCP set has none)",
                        Metric.TCP_RECEIVED_BYTES, Map.of("response_code", new TagOverride(true, null)), Map.of(), false),
                new TcpTagCase("UPSERT of a standard TCP label keeps the set, with a CEL value",
                        Metric.TCP_CLOSED_CONNECTIONS, Map.of("source_workload", new TagOverride(false, "source.address")),
                        Map.of(Metric.TCP_CLOSED_CONNECTIONS, TCP_STANDARD), false),
                new TcpTagCase("le on a TCP counter is a label like any other",
                        Metric.TCP_SENT_BYTES, Map.of("le", new TagOverride(false, "'x'")),
                        Map.of(Metric.TCP_SENT_BYTES, tcpWith("le")), false),
                new TcpTagCase("ALL_METRICS reaches the four TCP metrics (one plan) and the HTTP ones",
                        null, Map.of("client_ip", new TagOverride(false, "source.address")),
                        Map.of(Metric.TCP_OPENED_CONNECTIONS, tcpWith("client_ip"), Metric.TCP_CLOSED_CONNECTIONS,
                                tcpWith("client_ip"), Metric.TCP_SENT_BYTES, tcpWith("client_ip"),
                                Metric.TCP_RECEIVED_BYTES, tcpWith("client_ip")), true),
                new TcpTagCase("an HTTP metric's override gives the TCP metrics none",
                        Metric.REQUEST_COUNT, Map.of("request_host", new TagOverride(false, "request.host")), Map.of(),
                        true));
    }

    @ParameterizedTest
    @MethodSource("tcpTagCases")
    void tagOverridesOnTcpMetricsCompileOverTheTcpLabelSet(TcpTagCase c) {
        Diagnostics d = new Diagnostics();
        TelemetryPolicies p = new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(metrics("apps", "svc",
                TO_REVIEWS, new MetricsOverride(c.metric(), Mode.CLIENT_AND_SERVER, null, c.tags())))), d);

        assertThat(d.problems()).isEmpty();
        TelemetryPolicies.Effective e = p.of(REVIEWS);
        Map<Metric, String> plans = new java.util.EnumMap<>(Metric.class);
        e.tcpTags().forEach((m, plan) -> plans.put(m, plan.toString()));
        assertThat(plans).isEqualTo(c.tcpPlans());
        assertThat(e.tags().isEmpty()).as("HTTP plans").isEqualTo(!c.httpTagged());
        assertThat(p.of(RATINGS)).as("another Service").isNull();
        if (c.tcpPlans().size() == 4) {
            assertThat(new java.util.HashSet<>(e.tcpTags().values())).as("one plan for the four").hasSize(1);
        }
    }

    @Test
    void aBadLabelNameOnATcpMetricIsAnErrorOnItsField() {
        Diagnostics d = new Diagnostics();
        TelemetryPolicies p = new TelemetryPolicyCompiler(ROOT).compile(resources(List.of(metrics("apps", "svc",
                TO_REVIEWS, new MetricsOverride(Metric.TCP_OPENED_CONNECTIONS, Mode.CLIENT_AND_SERVER, null,
                        Map.of("upstream-peer", new TagOverride(false, "upstream.address")))))), d);

        assertThat(d.problems()).singleElement().satisfies(pr -> {
            assertThat(pr.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(pr.field()).isEqualTo("spec.metrics[0].overrides[0].tagOverrides.upstream-peer");
            assertThat(pr.message()).startsWith("not a valid Prometheus label name")
                    .endsWith("; the Telemetry is not applied");
        });
        assertThat(p.of(REVIEWS)).isNull();
    }
}
