package dev.waypoint.listener.target;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.Target;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Binding rules as a truth table: the object's labels, its namespace's labels, the Gateway's
 * {@code istio.io/waypoint-for} and listener namespaces, and whether a CONNECT to the object is
 * accepted (and, if not, why).
 */
class TargetTableCompilerTest {
    static final NamespacedName SELF = new NamespacedName("istio-system", "waypoint");
    static final String VIP = "10.96.0.10";
    static final String POD_IP = "10.244.1.5";

    enum Kind { SERVICE, POD }

    /** With {@code allowedFrom: Selector}, the listener's selector is {@code matchLabels: {team: a}}. */
    record Case(String name, Kind kind, String objectNamespace, Map<String, String> objectLabels,
                Map<String, String> namespaceLabels, String waypointFor, String allowedFrom, LabelSelector selector,
                boolean bound, String why) {
        Case(String name, Kind kind, String objectNamespace, Map<String, String> objectLabels,
             Map<String, String> namespaceLabels, String waypointFor, String allowedFrom, boolean bound, String why) {
            this(name, kind, objectNamespace, objectLabels, namespaceLabels, waypointFor, allowedFrom,
                    "Selector".equals(allowedFrom) ? LabelSelector.ofLabels(Map.of("team", "a")) : LabelSelector.EVERYTHING,
                    bound, why);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Map<String, String> labels(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    static final String USE = "istio.io/use-waypoint";
    static final String USE_NS = "istio.io/use-waypoint-namespace";

    static final LabelSelector TEAMS_OUTSIDE_DEV = new LabelSelector(Map.of(), List.of(
            new LabelSelector.Requirement("team", LabelSelector.Operator.IN, List.of("a", "b")),
            new LabelSelector.Requirement("env", LabelSelector.Operator.NOT_IN, List.of("dev"))));
    static final LabelSelector SHARED_TEAMS = new LabelSelector(Map.of("mesh", "shared"), List.of(
            new LabelSelector.Requirement("team", LabelSelector.Operator.IN, List.of("a", "b"))));
    static final LabelSelector TEAM_EXISTS = new LabelSelector(Map.of(), List.of(
            new LabelSelector.Requirement("team", LabelSelector.Operator.EXISTS, List.of())));

    static Stream<Case> cases() {
        Map<String, String> none = Map.of();
        Map<String, String> useHere = labels(USE, "waypoint", USE_NS, "istio-system");
        return Stream.of(
                // --- services ---
                new Case("service label binds", Kind.SERVICE, "apps", useHere, none, null, "All", true, null),
                new Case("namespace label binds a service", Kind.SERVICE, "apps", none, useHere, null, "All", true, null),
                new Case("no label anywhere", Kind.SERVICE, "apps", none, none, null, "All", false, "has no istio.io/use-waypoint"),
                new Case("service none beats namespace", Kind.SERVICE, "apps", labels(USE, "none"), useHere, null, "All",
                        false, "opts out"),
                new Case("namespace none", Kind.SERVICE, "apps", none, labels(USE, "none"), null, "All", false,
                        "namespace apps opts out"),
                new Case("service label beats namespace label naming another waypoint", Kind.SERVICE, "apps", useHere,
                        labels(USE, "other", USE_NS, "istio-system"), null, "All", true, null),
                new Case("service names another waypoint", Kind.SERVICE, "apps", labels(USE, "other", USE_NS, "istio-system"),
                        useHere, null, "All", false, "uses waypoint istio-system/other"),
                new Case("use-waypoint-namespace defaults to the object's namespace", Kind.SERVICE, "apps",
                        labels(USE, "waypoint"), none, null, "All", false, "uses waypoint apps/waypoint"),
                new Case("same namespace without use-waypoint-namespace", Kind.SERVICE, "istio-system",
                        labels(USE, "waypoint"), none, null, null, true, null),
                new Case("namespace's use-waypoint-namespace applies with its label", Kind.SERVICE, "apps", none,
                        labels(USE, "waypoint", USE_NS, "elsewhere"), null, "All", false, "uses waypoint elsewhere/waypoint"),
                new Case("waypoint-for service (explicit)", Kind.SERVICE, "apps", useHere, none, "service", "All", true, null),
                new Case("waypoint-for all serves services", Kind.SERVICE, "apps", useHere, none, "all", "All", true, null),
                new Case("waypoint-for workload refuses services", Kind.SERVICE, "apps", useHere, none, "workload", "All",
                        false, "serves istio.io/waypoint-for=workload traffic only"),
                new Case("waypoint-for none refuses services", Kind.SERVICE, "apps", useHere, none, "none", "All", false,
                        "waypoint-for=none"),
                new Case("waypoint-for misspelt binds no service (Istio keeps the value)", Kind.SERVICE, "apps", useHere, none,
                        "Services", "All", false, "istio.io/waypoint-for=Services is none of service, workload, all, none"),
                new Case("waypoint-for misspelt binds no pod either", Kind.POD, "apps", useHere, none, "Workload", "All",
                        false, "istio.io/waypoint-for=Workload is none of"),
                new Case("cross-namespace refused by default (Same)", Kind.SERVICE, "apps", useHere, none, null, null, false,
                        "does not allow"),
                new Case("cross-namespace allowed by selector", Kind.SERVICE, "apps", useHere, labels("team", "a"), null,
                        "Selector", true, null),
                new Case("cross-namespace refused by selector", Kind.SERVICE, "apps", useHere, labels("team", "b"), null,
                        "Selector", false, "does not allow"),
                // the same with matchExpressions (metav1.LabelSelectorAsSelector, as Istio evaluates it)
                new Case("cross-namespace allowed by matchExpressions", Kind.SERVICE, "apps", useHere,
                        labels("team", "a", "env", "prod"), null, "Selector", TEAMS_OUTSIDE_DEV, true, null),
                new Case("cross-namespace refused by matchExpressions (NotIn)", Kind.SERVICE, "apps", useHere,
                        labels("team", "a", "env", "dev"), null, "Selector", TEAMS_OUTSIDE_DEV, false,
                        "does not allow (allowedRoutes.namespaces.from: Selector, selector: team in (a,b),env notin (dev))"),
                new Case("cross-namespace refused by matchExpressions (In, key missing)", Kind.SERVICE, "apps", useHere,
                        labels("env", "prod"), null, "Selector", TEAMS_OUTSIDE_DEV, false, "does not allow"),
                new Case("matchExpressions ANDed with matchLabels", Kind.SERVICE, "apps", useHere,
                        labels("team", "b", "mesh", "shared"), null, "Selector", SHARED_TEAMS, true, null),
                new Case("matchExpressions ANDed with matchLabels: label missing", Kind.SERVICE, "apps", useHere,
                        labels("team", "b"), null, "Selector", SHARED_TEAMS, false, "does not allow"),
                new Case("namespace label binds a pod across namespaces by matchExpressions (Exists)", Kind.POD, "apps",
                        none, labels(USE, "waypoint", USE_NS, "istio-system", "team", "c"), "workload", "Selector",
                        TEAM_EXISTS, true, null),
                new Case("namespace label without the key: refused by matchExpressions (Exists)", Kind.POD, "apps",
                        none, useHere, "workload", "Selector", TEAM_EXISTS, false, "does not allow"),
                new Case("empty selector allows every namespace", Kind.SERVICE, "apps", useHere, none, null, "Selector",
                        LabelSelector.EVERYTHING, true, null),
                new Case("waypoint's own service never binds", Kind.SERVICE, "istio-system",
                        labels(USE, "waypoint", "gateway.networking.k8s.io/gateway-name", "waypoint"), none, null, null,
                        false, "is part of waypoint"),
                // --- pods ---
                new Case("pod label needs workload traffic", Kind.POD, "apps", useHere, none, null, "All", false,
                        "serves istio.io/waypoint-for=service traffic only"),
                new Case("pod label with waypoint-for workload", Kind.POD, "apps", useHere, none, "workload", "All", true, null),
                new Case("pod label with waypoint-for all", Kind.POD, "apps", useHere, none, "all", "All", true, null),
                new Case("namespace label binds a pod (workload)", Kind.POD, "apps", none, useHere, "workload", "All", true,
                        null),
                new Case("pod none beats namespace", Kind.POD, "apps", labels(USE, "none"), useHere, "all", "All", false,
                        "opts out"),
                new Case("pod names another waypoint", Kind.POD, "apps", labels(USE, "other"), useHere, "all", "All", false,
                        "uses waypoint apps/other"),
                new Case("pod without labels", Kind.POD, "apps", none, none, "all", "All", false, "has no istio.io/use-waypoint"),
                new Case("waypoint pod itself", Kind.POD, "istio-system",
                        labels(USE, "waypoint", "gateway.networking.k8s.io/gateway-name", "waypoint"), none, "all", null,
                        false, "is part of waypoint"));
    }

    static ResourceSet resources(Case c) {
        Map<String, String> gwLabels = c.waypointFor() == null ? Map.of() : Map.of("istio.io/waypoint-for", c.waypointFor());
        GatewaySpec gw = new GatewaySpec(SELF, "istio-waypoint", gwLabels,
                List.of(new GatewaySpec.Listener("mesh", 15008, "HBONE")), c.allowedFrom(), c.selector(), SourceRef.NONE);
        List<NamespaceSpec> namespaces = List.of(new NamespaceSpec(c.objectNamespace(), c.namespaceLabels(), SourceRef.NONE));
        NamespacedName obj = new NamespacedName(c.objectNamespace(), "obj");
        List<ServiceSpec> services = List.of();
        List<PodSpec> pods = List.of();
        if (c.kind() == Kind.SERVICE) {
            services = List.of(new ServiceSpec(obj, c.objectLabels(), List.of(HostPort.parseIp(VIP)),
                    List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "obj"), SourceRef.NONE));
        } else {
            pods = List.of(new PodSpec(obj, c.objectLabels(), "sa", HostPort.parseIp(POD_IP), true, Map.of(), SourceRef.NONE));
        }
        return ResourceSet.builder(SELF, "cluster.local").namespaces(namespaces).services(services).pods(pods).gateways(List.of(gw)).build();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void binding(Case c) {
        TargetTable table = new TargetTableCompiler().compile(resources(c), new Diagnostics());
        String authority = c.kind() == Kind.SERVICE ? VIP + ":80" : POD_IP + ":8080";
        Object result = TargetResolver.resolve(authority, table);
        if (c.bound()) {
            assertThat(result).isInstanceOf(c.kind() == Kind.SERVICE ? Target.ServiceTarget.class : Target.WorkloadTarget.class);
        } else {
            assertThat(result).isInstanceOf(Rejection.class);
            Rejection r = (Rejection) result;
            assertThat(r.reason()).isEqualTo(Rejection.Reason.NOT_BOUND);
            assertThat(r.reason().status()).isEqualTo(400);
            assertThat(r.message()).contains(c.why());
        }
    }

    record AuthorityCase(String authority, Class<?> expected, String messagePart) {}

    static Stream<AuthorityCase> authorities() {
        return Stream.of(
                new AuthorityCase("10.96.0.10:80", Target.ServiceTarget.class, null),
                new AuthorityCase("10.96.0.10:81", Rejection.class, "not one of its ports"),
                new AuthorityCase("10.96.0.11:80", Rejection.class, "not a Service VIP or Pod IP bound"),
                new AuthorityCase("10.96.0.10", Rejection.class, "expected: ip:port"),
                new AuthorityCase("10.96.0.10:0", Rejection.class, "port 1-65535"),
                new AuthorityCase("10.96.0.10:65536", Rejection.class, "port 1-65535"),
                new AuthorityCase("10.96.0.010:80", Rejection.class, "IPv4 or IPv6 literal"),
                new AuthorityCase("reviews.default.svc:80", Rejection.class, "IPv4 or IPv6 literal"),
                new AuthorityCase("[fd00::1]:80", Rejection.class, "not a Service VIP or Pod IP bound"),
                new AuthorityCase("fd00::1:80", Rejection.class, "IPv6 in brackets"),
                new AuthorityCase("[fd00::zz]:80", Rejection.class, "IPv6 literal"),
                new AuthorityCase("", Rejection.class, "expected: ip:port"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("authorities")
    void authorityParsing(AuthorityCase c) {
        Case bound = cases().filter(x -> x.name().equals("service label binds")).findFirst().orElseThrow();
        TargetTable table = new TargetTableCompiler().compile(resources(bound), new Diagnostics());
        Object result = TargetResolver.resolve(c.authority(), table);
        assertThat(result).isInstanceOf(c.expected());
        if (c.messagePart() != null) {
            assertThat(((Rejection) result).message()).contains(c.messagePart());
        }
    }

    @Test
    void ipv6ServiceVipsAreMatched() {
        Case bound = cases().filter(x -> x.name().equals("service label binds")).findFirst().orElseThrow();
        ResourceSet rs = resources(bound);
        ServiceSpec svc = rs.services().get(0);
        ServiceSpec v6 = new ServiceSpec(svc.name(), svc.labels(), List.of(HostPort.parseIp("fd00:10:96::a")), svc.ports(),
                svc.selector(), svc.source());
        ResourceSet rs6 = rs.toBuilder().services(List.of(v6)).build();
        TargetTable table = new TargetTableCompiler().compile(rs6, new Diagnostics());
        assertThat(TargetResolver.resolve("[fd00:10:96:0:0:0:0:a]:80", table)).isInstanceOf(Target.ServiceTarget.class);
    }

    @Test
    void workloadTargetsTakeTheProtocolOfTheServicePortThatSelectsThem() {
        Case c = cases().filter(x -> x.name().equals("pod label with waypoint-for all")).findFirst().orElseThrow();
        ResourceSet rs = resources(c);
        PodSpec pod = new PodSpec(rs.pods().get(0).name(), Map.of(USE, "waypoint", USE_NS, "istio-system", "app", "obj"),
                "sa", HostPort.parseIp(POD_IP), true, Map.of("grpc-port", 9000), SourceRef.NONE);
        ServiceSpec svc = new ServiceSpec(new NamespacedName("apps", "svc"), Map.of(), List.of(),
                List.of(new ServicePortSpec("grpc", 90, 0, "grpc-port", null)), Map.of("app", "obj"), SourceRef.NONE);
        ResourceSet withSvc = rs.toBuilder().services(List.of(svc)).pods(List.of(pod)).endpointSlices(List.of()).httpRoutes(List.of()).referenceGrants(List.of()).requestAuthentications(List.of()).others(List.of()).build();
        TargetTable table = new TargetTableCompiler().compile(withSvc, new Diagnostics());
        assertThat(((Target) TargetResolver.resolve(POD_IP + ":9000", table)).protocol()).isEqualTo(AppProtocol.GRPC);
        assertThat(((Target) TargetResolver.resolve(POD_IP + ":9001", table)).protocol()).isEqualTo(AppProtocol.AUTO);
    }

    @Test
    void withoutItsGatewayNothingIsBoundAndTheProblemIsReported() {
        Case c = cases().findFirst().orElseThrow();
        ResourceSet rs = resources(c);
        ResourceSet noGw = rs.toBuilder().endpointSlices(List.of()).gateways(List.of()).httpRoutes(List.of()).referenceGrants(List.of()).requestAuthentications(List.of()).others(List.of()).build();
        Diagnostics d = new Diagnostics();
        TargetTable table = new TargetTableCompiler().compile(noGw, d);
        assertThat(TargetResolver.resolve(VIP + ":80", table)).isInstanceOf(Rejection.class);
        assertThat(d.problems()).singleElement().satisfies(p -> assertThat(p.toString()).contains("not among the manifests"));
    }

    @Test
    void aWaypointGatewayWithoutTheHboneListenerIsReported() {
        // Istio's pilot testdata waypoint.yaml "invalid": one HTTP listener on 1234
        Case c = cases().findFirst().orElseThrow();
        ResourceSet rs = resources(c);
        GatewaySpec bad = new GatewaySpec(SELF, "istio-waypoint", Map.of(), List.of(new GatewaySpec.Listener("mesh", 1234, "HTTP")),
                "All", LabelSelector.EVERYTHING, SourceRef.NONE);
        Diagnostics d = new Diagnostics();
        new TargetTableCompiler().compile(rs.toBuilder().gateways(List.of(bad)).build(), d);
        assertThat(d.problems()).anySatisfy(p -> assertThat(p.toString()).contains("spec.listeners: listeners: [1234/HTTP] "
                + "(expected: a single listener on port 15008 with protocol HBONE, as Istio requires of a waypoint)"));
        Diagnostics good = new Diagnostics();
        new TargetTableCompiler().compile(rs, good);
        assertThat(good.problems()).noneSatisfy(p -> assertThat(p.toString()).contains("spec.listeners"));
    }
}
