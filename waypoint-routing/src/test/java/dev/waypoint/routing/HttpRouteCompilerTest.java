package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteMatchSpec.PathMatch;
import dev.waypoint.model.gateway.RouteMatchSpec.PathType;
import dev.waypoint.model.gateway.RouteRetrySpec;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.gateway.RouteTimeoutsSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RetryPolicy;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HttpRouteCompilerTest {
    private static ServiceSpec service(String ns, String name, int... ports) {
        List<ServicePortSpec> ps = java.util.Arrays.stream(ports)
                .mapToObj(p -> new ServicePortSpec(p == 80 ? "http" : "http-" + p, p, p, null, null)).toList();
        return new ServiceSpec(new NamespacedName(ns, name), Map.of(), List.of(HostPort.parseIp("10.96.0.1")), ps,
                Map.of("app", name), SourceRef.NONE);
    }

    private static final ServiceSpec REVIEWS = service("apps", "reviews", 80, 9080);
    private static final ServiceSpec V2 = service("apps", "reviews-v2", 80);
    private static final ServiceSpec OTHER = service("other", "ratings", 80);

    private static RouteRuleSpec rule(String name, List<RouteMatchSpec> matches, List<HttpFilterSpec> filters,
                                      List<BackendRefSpec> backends) {
        return new RouteRuleSpec(name, matches, filters, backends, null, null);
    }

    private static RouteMatchSpec path(PathType type, String value) {
        return new RouteMatchSpec(new PathMatch(type, value), List.of(), List.of(), null);
    }

    private static BackendRefSpec backend(String ns, String name, int port, int weight) {
        return new BackendRefSpec("", "Service", ns, name, port, weight, List.of());
    }

    private static HttpRouteSpec route(String ns, String name, Instant created, ParentRefSpec parent, RouteRuleSpec... rules) {
        return new HttpRouteSpec(new NamespacedName(ns, name), created, List.of(parent), List.of(rules), SourceRef.NONE);
    }

    private static ParentRefSpec parent(String name, int port) {
        return new ParentRefSpec("", "Service", "apps", name, port, null);
    }

    private static RouteTable compile(List<HttpRouteSpec> routes, List<ReferenceGrantSpec> grants, Diagnostics d) {
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .services(List.of(REVIEWS, V2, OTHER)).httpRoutes(routes).referenceGrants(grants).build();
        return new HttpRouteCompiler().compile(rs, d);
    }

    @Test
    void rulesOfEveryRouteAreRankedTogetherPerServicePort() {
        Diagnostics d = new Diagnostics();
        RouteTable table = compile(List.of(
                route("apps", "b", Instant.parse("2024-01-01T00:00:00Z"), parent("reviews", 0),
                        rule(null, List.of(path(PathType.PATH_PREFIX, "/")), List.of(), List.of(backend("apps", "reviews", 80, 1))),
                        rule("v2", List.of(path(PathType.PATH_PREFIX, "/v2/"), path(PathType.EXACT, "/v2")), List.of(),
                                List.of(backend("apps", "reviews-v2", 80, 1)))),
                route("apps", "a", null, parent("reviews", 9080),
                        rule(null, List.of(path(PathType.REGULAR_EXPRESSION, "/r.*")), List.of(), List.of(backend("apps", "reviews-v2", 80, 1))),
                        rule(null, List.of(path(PathType.PATH_PREFIX, "/")), List.of(), List.of(backend("other", "ratings", 80, 1))),
                        rule(null, List.of(path(PathType.PATH_PREFIX, "/none")), List.of(), List.of()),
                        rule(null, List.of(path(PathType.PATH_PREFIX, "/cors")), List.of(new HttpFilterSpec.Unsupported("CORS")),
                                List.of(backend("apps", "reviews", 80, 1))))),
                List.of(), d);

        assertThat(table.toDebugString()).isEqualTo("""
                apps/reviews:80 from *: EXACT 3 h0 q0 -> b.apps.v2
                apps/reviews:80 from *: PATH_PREFIX 3 h0 q0 -> b.apps.v2
                apps/reviews:80 from *: PATH_PREFIX 0 h0 q0 -> b.apps.0
                apps/reviews:9080 from *: EXACT 3 h0 q0 -> b.apps.v2
                apps/reviews:9080 from *: PATH_PREFIX 5 h0 q0 -> a.apps.2 (500: the rule has no backendRefs)
                apps/reviews:9080 from *: PATH_PREFIX 5 h0 q0 -> a.apps.3 (500: filter CORS is not supported)
                apps/reviews:9080 from *: PATH_PREFIX 3 h0 q0 -> b.apps.v2
                apps/reviews:9080 from *: PATH_PREFIX 0 h0 q0 -> b.apps.0
                apps/reviews:9080 from *: PATH_PREFIX 0 h0 q0 -> a.apps.1 (500: backendRef other/ratings is in another namespace and no ReferenceGrant allows it)
                apps/reviews:9080 from *: REGULAR_EXPRESSION 4 h0 q0 -> a.apps.0
                """);
        assertThat(d.problems()).extracting(Object::toString).contains(
                "-: warning: HTTPRoute apps/a: spec.rules[1].backendRefs[0]: backendRef other/ratings is in another namespace"
                        + " and no ReferenceGrant allows it (requests sent to it get 500)");
    }

    @Test
    void aReferenceGrantAllowsTheCrossNamespaceBackend() {
        ReferenceGrantSpec grant = new ReferenceGrantSpec(new NamespacedName("other", "g"),
                List.of(new ReferenceGrantSpec.From("gateway.networking.k8s.io", "HTTPRoute", "apps")),
                List.of(new ReferenceGrantSpec.To("", "Service", "ratings")), SourceRef.NONE);
        RouteTable table = compile(List.of(route("apps", "a", null, parent("reviews", 80),
                rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(backend("other", "ratings", 80, 1))))), List.of(grant),
                new Diagnostics());
        assertThat(table.toDebugString()).isEqualTo("apps/reviews:80 from *: PATH_PREFIX 0 h0 q0 -> a.apps.0\n");
        assertThat(table.debug()).isEqualTo(Map.of("apps/reviews:80", List.of("from *: PATH_PREFIX 0 h0 q0 -> a.apps.0")));
    }

    @Test
    void consumerRoutesApplyOnlyToTheirNamespace() {
        HttpRouteSpec consumer = route("client", "mine", null, parent("reviews", 80),
                rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(backend("apps", "reviews", 80, 1))));
        RouteTable table = compile(List.of(consumer), List.of(), new Diagnostics());
        RouteTable.PortRoutes routes = table.routes(REVIEWS.name(), 80);

        assertThat(routes.appliesTo("client")).isTrue();
        assertThat(routes.appliesTo("apps")).isFalse();
        assertThat(routes.appliesTo(null)).isFalse();
        assertThat(routes.find(TestRequests.get("/"), "client").rule().routeName()).isEqualTo("mine.client.0");
        assertThat(table.routes(REVIEWS.name(), 9080)).isNull(); // parentRef port 80 only
    }

    @Test
    void timeoutsAndRetries() {
        RouteRuleSpec r = new RouteRuleSpec(null, List.of(RouteMatchSpec.any()), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), new RouteTimeoutsSpec(Duration.ofSeconds(10), Duration.ZERO),
                new RouteRetrySpec(2, List.of(500, 503), null));
        RouteRuleSpec disabled = new RouteRuleSpec(null, List.of(path(PathType.EXACT, "/x")), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), new RouteTimeoutsSpec(Duration.ZERO, Duration.ofMillis(500)), null);
        RouteTable table = compile(List.of(route("apps", "a", null, parent("reviews", 80), r, disabled)), List.of(), new Diagnostics());
        RouteTable.PortRoutes routes = table.routes(REVIEWS.name(), 80);

        CompiledRule all = routes.find(TestRequests.get("/"), null).rule();
        assertThat(all.timeout()).isEqualTo(Duration.ofSeconds(10));
        // "attempts" counts retries: 2 retries, 3 tries in all
        // Istio's "connect-failure,refused-stream,unavailable,cancelled" + the codes; resets as the Gateway API asks
        assertThat(all.retry()).isEqualTo(new RetryPolicy(2, null, true, true, true, Set.of(500, 503),
                Set.of(RetryPolicy.GRPC_CANCELLED, RetryPolicy.GRPC_UNAVAILABLE)));
        CompiledRule x = routes.find(TestRequests.get("/x"), null).rule();
        assertThat(x.timeout()).isNull(); // "0s" disables
        // no retry of its own: the mesh default (Istio's), with the rule's backendRequest as per-try timeout
        assertThat(x.retry()).isEqualTo(RetryPolicy.ISTIO_DEFAULT.withPerTryTimeout(Duration.ofMillis(500)));
    }

    @Test
    void aMirrorOnABackendRefCopiesOnlyTheRequestsSentToThatBackend() {
        BackendRefSpec mirrored = new BackendRefSpec("", "Service", "apps", "reviews", 80, 1, List.of(
                new HttpFilterSpec.RequestMirror(backend("apps", "reviews-v2", 80, 1), 1.0),
                new HttpFilterSpec.RequestMirror(backend("apps", "missing", 80, 1), 1.0)));
        RouteRuleSpec r = rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(mirrored, backend("apps", "reviews-v2", 80, 1)));
        Diagnostics d = new Diagnostics();
        RouteTable table = compile(List.of(route("apps", "a", null, parent("reviews", 80), r)), List.of(), d);
        CompiledRule rule = table.routes(REVIEWS.name(), 80).find(TestRequests.get("/"), null).rule();
        assertThat(rule.invalid()).isNull(); // it used to make the rule 500
        assertThat(rule.backends().get(0).mirrors()).extracting(m -> m.target().toString()).containsExactly("Service apps/reviews-v2:80");
        assertThat(rule.backends().get(1).mirrors()).isEmpty();
        assertThat(d.problems()).anyMatch(p -> p.toString().contains("spec.rules[0].backendRefs[0].filters[1]")
                && p.toString().contains("the mirror is dropped"));
        BackendPicker picker = BackendPicker.seeded(7);
        int withMirror = 0;
        for (int i = 0; i < 200; i++) {
            RouteDecision.Forward f = (RouteDecision.Forward) RouteDecision.decide(table,
                    new dev.waypoint.model.request.Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), REVIEWS,
                            REVIEWS.ports().get(0)), TestRequests.get("/"), picker);
            String to = ((RouteSelection.ServiceBackend) f.backend().target()).service().name().name();
            assertThat(f.backend().mirrors().isEmpty()).as("mirrors of a request sent to %s", to).isEqualTo(!to.equals("reviews"));
            withMirror += f.backend().mirrors().size();
        }
        assertThat(withMirror).isBetween(60, 140); // half the requests, by weight
    }

    @Test
    void corsOnABackendRefStillMakesTheRule500() {
        BackendRefSpec cors = new BackendRefSpec("", "Service", "apps", "reviews", 80, 1, List.of(
                new HttpFilterSpec.Cors(List.of("https://a.example"), false, List.of(), List.of(), List.of(), 5)));
        RouteTable table = compile(List.of(route("apps", "a", null, parent("reviews", 80),
                rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(cors)))), List.of(), new Diagnostics());
        assertThat(table.routes(REVIEWS.name(), 80).find(TestRequests.get("/"), null).rule().invalid())
                .contains("CORS on a backendRef");
    }

    @Test
    void retryBackoffIsTheBaseInterval() {
        RouteRuleSpec r = new RouteRuleSpec(null, List.of(RouteMatchSpec.any()), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), null, new RouteRetrySpec(3, List.of(503), Duration.ofMillis(100)));
        RouteRuleSpec zero = new RouteRuleSpec(null, List.of(path(PathType.EXACT, "/zero")), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), null, new RouteRetrySpec(3, List.of(503), Duration.ZERO));
        RouteTable table = compile(List.of(route("apps", "a", null, parent("reviews", 80), r, zero)), List.of(), new Diagnostics());
        RouteTable.PortRoutes routes = table.routes(REVIEWS.name(), 80);
        RetryPolicy p = routes.find(TestRequests.get("/"), null).rule().retry();
        assertThat(p.backoff()).isEqualTo(Duration.ofMillis(100));
        assertThat(p.toString()).isEqualTo("3 retries on connect-failure,reset,503,grpc 1,14, backoff 100 ms");
        assertThat(routes.find(TestRequests.get("/zero"), null).rule().retry().backoff()).as("0s: none").isNull();
    }

    @Test
    void theMeshDefaultRetryPolicyReplacesIstiosForDefaultRoutesAndRulesWithoutRetry() {
        RetryPolicy mesh = new RetryPolicy(5, null, true, true, Set.of(502));
        RouteRuleSpec plain = new RouteRuleSpec(null, List.of(RouteMatchSpec.any()), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), null, null);
        RouteRuleSpec own = new RouteRuleSpec(null, List.of(path(PathType.EXACT, "/own")), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), null, new RouteRetrySpec(1, List.of(), null));
        RouteRuleSpec off = new RouteRuleSpec(null, List.of(path(PathType.EXACT, "/off")), List.of(),
                List.of(backend("apps", "reviews", 80, 1)), null, new RouteRetrySpec(0, List.of(), null));
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .services(List.of(REVIEWS)).httpRoutes(List.of(route("apps", "a", null, parent("reviews", 80), plain, own, off)))
                .build();
        RouteTable table = new HttpRouteCompiler(mesh).compile(rs, new Diagnostics());
        RouteTable.PortRoutes routes = table.routes(REVIEWS.name(), 80);

        assertThat(table.defaultRetry()).isEqualTo(mesh);
        assertThat(routes.find(TestRequests.get("/"), null).rule().retry()).isEqualTo(mesh);
        assertThat(routes.find(TestRequests.get("/own"), null).rule().retry().retries()).isEqualTo(1); // a rule's retry replaces it
        assertThat(routes.find(TestRequests.get("/off"), null).rule().retry()).isEqualTo(RetryPolicy.NONE); // attempts: 0
        assertThat(new HttpRouteCompiler().compile(rs, new Diagnostics()).defaultRetry()).isEqualTo(RetryPolicy.ISTIO_DEFAULT);
    }

    private static RouteMatchSpec grpc(String service, String method, String... headerNameValues) {
        List<RouteMatchSpec.ValueMatch> headers = new java.util.ArrayList<>();
        for (int i = 0; i < headerNameValues.length; i += 2) {
            headers.add(new RouteMatchSpec.ValueMatch(RouteMatchSpec.ValueType.EXACT, headerNameValues[i], headerNameValues[i + 1]));
        }
        PathMatch p = service != null && method != null ? new PathMatch(PathType.EXACT, "/" + service + "/" + method)
                : service != null ? new PathMatch(PathType.PATH_PREFIX, "/" + service)
                : method != null ? new PathMatch(PathType.REGULAR_EXPRESSION, "/[^/]+/" + method) : new PathMatch(PathType.PATH_PREFIX, "/");
        return new RouteMatchSpec(p, headers, List.of(), null, service == null && method == null ? null
                : new RouteMatchSpec.GrpcMethodMatch(RouteMatchSpec.ValueType.EXACT, service, method));
    }

    private static HttpRouteSpec grpcRoute(String name, RouteRuleSpec... rules) {
        return new HttpRouteSpec(new NamespacedName("apps", name), null, List.of(parent("reviews", 80)), List.of(rules),
                SourceRef.NONE, HttpRouteSpec.GRPC_ROUTE);
    }

    @Test
    void grpcRoutePrecedenceServiceCharactersThenMethodCharactersThenHeaders() {
        // GRPCRouteRule.Matches: "Characters in a matching service. Characters in a matching method. Header matches."
        RouteTable table = compile(List.of(grpcRoute("g",
                rule("any-with-headers", List.of(grpc(null, null, "a", "1", "b", "2", "c", "3")), List.of(), List.of(backend("apps", "reviews", 80, 1))),
                rule("method-only", List.of(grpc(null, "Call", "a", "1")), List.of(), List.of(backend("apps", "reviews", 80, 1))),
                rule("service-only", List.of(grpc("pkg.Echo", null)), List.of(), List.of(backend("apps", "reviews", 80, 1))),
                rule("both", List.of(grpc("pkg.Echo", "Call")), List.of(), List.of(backend("apps", "reviews", 80, 1))),
                rule("both-headers", List.of(grpc("pkg.Echo", "Call", "a", "1")), List.of(), List.of(backend("apps", "reviews", 80, 1))))),
                List.of(), new Diagnostics());
        RouteTable.PortRoutes routes = table.routes(REVIEWS.name(), 80);
        java.util.function.BiFunction<String, String[], String> win = (path, h) -> routes.find(TestRequests.get(path, h), null)
                .rule().routeName();
        assertThat(win.apply("/pkg.Echo/Call", new String[] {"a", "1", "b", "2", "c", "3"})).isEqualTo("g.apps.both-headers");
        assertThat(win.apply("/pkg.Echo/Call", new String[0])).isEqualTo("g.apps.both");
        assertThat(win.apply("/pkg.Echo/Other", new String[] {"a", "1", "b", "2", "c", "3"})).isEqualTo("g.apps.service-only");
        // a method match beats more headers without one
        assertThat(win.apply("/other.Svc/Call", new String[] {"a", "1", "b", "2", "c", "3"})).isEqualTo("g.apps.method-only");
        assertThat(win.apply("/other.Svc/Other", new String[] {"a", "1", "b", "2", "c", "3"})).isEqualTo("g.apps.any-with-headers");
        assertThat(routes.find(TestRequests.get("/other.Svc/Other"), null)).isNull(); // no match: 404, grpc-status 12
    }

    @Test
    void anHttpRouteAndAGrpcRouteOnOneServiceBothApply() {
        HttpRouteSpec http = route("apps", "h", null, parent("reviews", 80),
                rule(null, List.of(path(PathType.PATH_PREFIX, "/web")), List.of(), List.of(backend("apps", "reviews-v2", 80, 1))));
        HttpRouteSpec g = grpcRoute("g", rule(null, List.of(grpc("pkg.Echo", null)), List.of(), List.of(backend("apps", "reviews", 80, 1))));
        RouteTable.PortRoutes routes = compile(List.of(http, g), List.of(), new Diagnostics()).routes(REVIEWS.name(), 80);
        assertThat(routes.find(TestRequests.get("/web/index.html"), null).rule().routeName()).isEqualTo("h.apps.0");
        assertThat(routes.find(TestRequests.get("/pkg.Echo/Call"), null).rule().routeName()).isEqualTo("g.apps.0");
    }

    @Test
    void weightedPickFollowsTheWeights() {
        CompiledRule rule = new CompiledRule("r", null, List.of(), List.of(
                new CompiledRule.Backend(null, "a", 7, List.of()), new CompiledRule.Backend(null, "b", 3, List.of()),
                new CompiledRule.Backend(null, "never", 0, List.of())), 10, null, RetryPolicy.NONE);
        BackendPicker picker = BackendPicker.seeded(1);
        Map<String, Integer> seen = new java.util.HashMap<>();
        for (int i = 0; i < 10_000; i++) {
            seen.merge(rule.pick(picker).invalid(), 1, Integer::sum);
        }
        assertThat(seen).doesNotContainKey("never");
        assertThat(seen.get("a") / 10_000.0).isCloseTo(0.7, org.assertj.core.data.Offset.offset(0.02));
    }

    @Test
    void unknownParentsAreWarnedAndSkipped() {
        Diagnostics d = new Diagnostics();
        RouteTable table = compile(List.of(route("apps", "a", null, parent("nope", 0),
                rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(backend("apps", "reviews", 80, 1))))), List.of(), d);
        assertThat(table.toDebugString()).isEmpty();
        assertThat(d.problems()).extracting(Object::toString).containsExactly(
                "-: warning: HTTPRoute apps/a: spec.parentRefs[0]: name: apps/nope (expected: an existing Service; the parentRef is ignored)");
        assertThat(new SpiffeId("cluster.local", "apps", "default").namespace()).isEqualTo("apps");
    }

    @Test
    void aRegexRe2RefusesIsReportedAndItsMatchIgnored() {
        Diagnostics d = new Diagnostics();
        RouteTable table = compile(List.of(route("apps", "a", null, parent("reviews", 80),
                rule(null, List.of(path(PathType.REGULAR_EXPRESSION, "/(?=a).*"), path(PathType.EXACT, "/ok")), List.of(),
                        List.of(backend("apps", "reviews", 80, 1))))), List.of(), d);
        assertThat(table.toDebugString()).isEqualTo("apps/reviews:80 from *: EXACT 3 h0 q0 -> a.apps.0\n");
        assertThat(d.problems()).singleElement().asString().contains("spec.rules[0].matches[0]", "RE2", "the match is ignored");
    }

    // ---- ServiceEntry parents (Istio: a ServiceEntry bound to a waypoint, e.g. an egress waypoint) ----

    private static dev.waypoint.model.mesh.ServiceEntrySpec entry(String ns, String name, String host, String address) {
        return new dev.waypoint.model.mesh.ServiceEntrySpec(new NamespacedName(ns, name), Map.of(), List.of(host),
                List.of(HostPort.parseIp(address)), List.of(new ServicePortSpec("http", 80, 80, null, null),
                new ServicePortSpec("http-alt", 8080, 8080, null, null)),
                dev.waypoint.model.mesh.ServiceEntrySpec.Location.MESH_EXTERNAL, dev.waypoint.model.mesh.ServiceEntrySpec.Resolution.STATIC,
                List.of(), null, SourceRef.NONE);
    }

    private static final dev.waypoint.model.mesh.ServiceEntrySpec API = entry("egress", "api", "api.example.com", "240.240.0.1");
    private static final dev.waypoint.model.mesh.ServiceEntrySpec API_V2 = entry("egress", "api-v2", "v2.api.example.com", "240.240.0.2");
    /** A Service with the ServiceEntry's namespace and name: its routes are keyed apart. */
    private static final ServiceSpec API_SERVICE = service("egress", "api", 80);

    private static RouteTable compileWithEntries(List<HttpRouteSpec> routes, Diagnostics d) {
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-egress", "waypoint"), "cluster.local")
                .services(List.of(REVIEWS, API_SERVICE)).serviceEntries(List.of(API, API_V2)).httpRoutes(routes).build();
        return new HttpRouteCompiler().compile(rs, d);
    }

    private static BackendRefSpec entryBackend(String name, int port) {
        return new BackendRefSpec("networking.istio.io", "ServiceEntry", "egress", name, port, 1, List.of());
    }

    @ParameterizedTest(name = "route in {0}, parentRef {1}/{2} {3}/{4} port {5} section {6} -> {7}")
    @CsvSource(delimiter = '|', nullValues = "~", value = {
            // route ns | group               | kind         | ns     | name    | port | section  | attached ports ; the warning
            "egress     | networking.istio.io | ServiceEntry | egress | api     | 0    | ~        | ServiceEntry egress/api:80,ServiceEntry egress/api:8080 ; -",
            "egress     | networking.istio.io | ServiceEntry | egress | api     | 8080 | ~        | ServiceEntry egress/api:8080 ; -",
            "egress     | networking.istio.io | ServiceEntry | egress | api     | 0    | http     | ServiceEntry egress/api:80 ; -",
            "egress     | networking.istio.io | ServiceEntry | egress | api     | 80   | http-alt | - ; spec.parentRefs[0]: port: 80 (expected: a port of ServiceEntry egress/api; the parentRef is ignored)",
            "egress     | networking.istio.io | ServiceEntry | egress | api     | 9999 | ~        | - ; spec.parentRefs[0]: port: 9999 (expected: a port of ServiceEntry egress/api; the parentRef is ignored)",
            "egress     | networking.istio.io | ServiceEntry | egress | api     | 0    | grpc     | - ; spec.parentRefs[0]: port: grpc (expected: a port of ServiceEntry egress/api; the parentRef is ignored)",
            "egress     | networking.istio.io | ServiceEntry | egress | nothere | 0    | ~        | - ; spec.parentRefs[0]: name: egress/nothere (expected: an existing ServiceEntry; the parentRef is ignored)",
            "apps       | networking.istio.io | ServiceEntry | egress | api     | 0    | ~        | - ; spec.parentRefs[0]: namespace: egress (expected: apps, the route's own, or istio-egress, the waypoint's: a waypoint uses the routes of a ServiceEntry only from the entry's namespace or its own; the parentRef is ignored)",
            "apps       | networking.istio.io | ServiceEntry | egress | nothere | 0    | ~        | - ; spec.parentRefs[0]: namespace: egress (expected: apps, the route's own, or istio-egress, the waypoint's: a waypoint uses the routes of a ServiceEntry only from the entry's namespace or its own; the parentRef is ignored)",
            // a route in the waypoint's namespace: Istio's waypoint uses it for an entry of any namespace
            // (its backendRef, another namespace's entry, needs a ReferenceGrant as from any namespace)
            "istio-egress | networking.istio.io | ServiceEntry | egress | api   | 80   | ~        | ServiceEntry egress/api:80 ; spec.rules[0].backendRefs[0]: backendRef ServiceEntry egress/api-v2 is in another namespace and no ReferenceGrant allows it (requests sent to it get 500)",
            "istio-egress | networking.istio.io | ServiceEntry | egress | nothere | 0  | ~        | - ; spec.parentRefs[0]: name: egress/nothere (expected: an existing ServiceEntry; the parentRef is ignored)",
            "egress     | networking.istio.io | WorkloadEntry| egress | api     | 0    | ~        | - ; spec.parentRefs[0]: kind: WorkloadEntry (expected: Service or ServiceEntry; the parentRef is ignored)",
            // the Service of the same name: its own key, not the entry's
            "egress     | ''                  | Service      | egress | api     | 80   | ~        | egress/api:80 ; -",
            // a Gateway parent is not this waypoint's business: silently skipped
            "egress     | gateway.networking.k8s.io | Gateway | egress | api   | 0    | ~        | - ; -",
    })
    void serviceEntryParents(String routeNs, String group, String kind, String ns, String name, int port, String section,
                             String expected) {
        Diagnostics d = new Diagnostics();
        HttpRouteSpec r = route(routeNs, "r", null, new ParentRefSpec(group, kind, ns, name, port, section),
                rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(entryBackend("api-v2", 80))));
        RouteTable table = compileWithEntries(List.of(r), d);

        String keys = table.debug().isEmpty() ? "-" : String.join(",", table.debug().keySet());
        List<String> warnings = d.problems().stream().map(x -> x.field() + ": " + x.message()).toList();
        assertThat(keys + " ; " + (warnings.isEmpty() ? "-" : String.join(" | ", warnings))).isEqualTo(expected);
    }

    @Test
    void aRouteOfTheWaypointsNamespaceOnAServiceEntryAppliesToEveryCaller() {
        HttpRouteSpec r = route("istio-egress", "r", null, entryParent("api", 80),
                rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(entryBackend("api-v2", 80))));
        Diagnostics d = new Diagnostics();
        RouteTable table = compileWithEntries(List.of(r), d);
        assertThat(d.problems()).as("a backend of another namespace needs a ReferenceGrant, as from any namespace").hasSize(1)
                .allMatch(p -> p.field().equals("spec.rules[0].backendRefs[0]") && p.message().contains("ReferenceGrant"));
        RouteTable.PortRoutes routes = table.entryRoutes(API.name(), 80);
        assertThat(table.toDebugString()).isEqualTo("ServiceEntry egress/api:80 from *: PATH_PREFIX 0 h0 q0 -> r.istio-egress.0"
                + " (500: backendRef ServiceEntry egress/api-v2 is in another namespace and no ReferenceGrant allows it)\n");
        for (String caller : new String[] {"apps", "egress", "istio-egress", null}) {
            assertThat(routes.appliesTo(caller)).as("caller %s", caller).isTrue();
        }
    }

    @Test
    void routesOnOneServiceEntryPortRankAsForAService() {
        // Gateway API precedence: Exact before PathPrefix, longer prefix first, then the older route, then name
        HttpRouteSpec older = route("egress", "older", Instant.parse("2024-01-01T00:00:00Z"), entryParent("api", 80),
                rule(null, List.of(path(PathType.PATH_PREFIX, "/v2")), List.of(), List.of(entryBackend("api-v2", 80))),
                rule(null, List.of(path(PathType.PATH_PREFIX, "/")), List.of(), List.of(entryBackend("api", 80))));
        HttpRouteSpec newer = route("egress", "newer", Instant.parse("2025-01-01T00:00:00Z"), entryParent("api", 0),
                rule(null, List.of(path(PathType.PATH_PREFIX, "/v2")), List.of(), List.of(entryBackend("api", 80))),
                rule(null, List.of(path(PathType.EXACT, "/v2")), List.of(), List.of(entryBackend("api", 80))));
        Diagnostics d = new Diagnostics();
        RouteTable table = compileWithEntries(List.of(newer, older), d);

        assertThat(d.problems()).isEmpty();
        assertThat(table.toDebugString()).isEqualTo("""
                ServiceEntry egress/api:80 from *: EXACT 3 h0 q0 -> newer.egress.1
                ServiceEntry egress/api:80 from *: PATH_PREFIX 3 h0 q0 -> older.egress.0
                ServiceEntry egress/api:80 from *: PATH_PREFIX 3 h0 q0 -> newer.egress.0
                ServiceEntry egress/api:80 from *: PATH_PREFIX 0 h0 q0 -> older.egress.1
                ServiceEntry egress/api:8080 from *: EXACT 3 h0 q0 -> newer.egress.1
                ServiceEntry egress/api:8080 from *: PATH_PREFIX 3 h0 q0 -> newer.egress.0
                """);
        assertThat(table.entryRoutes(API.name(), 80).find(TestRequests.get("/v2/x"), "apps").rule().routeName())
                .isEqualTo("older.egress.0");
        assertThat(table.routes(API.name(), 80)).isNull(); // the Service egress/api has no routes
    }

    @ParameterizedTest(name = "{0} port {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            "/v2/x | 80   | forward r.egress.0 -> ServiceEntry egress/api-v2 (v2.api.example.com):80",
            "/x    | 80   | answer 404 no HTTPRoute rule of ServiceEntry egress/api:80 matches",
            "/v2/x | 8080 | default", // the parentRef names port 80 only
    })
    void aRequestToTheEntrySeesItsRoutes(String path, int port, String expected) {
        RouteTable table = compileWithEntries(List.of(route("egress", "r", null, entryParent("api", 80),
                rule(null, List.of(path(PathType.PATH_PREFIX, "/v2")), List.of(), List.of(entryBackend("api-v2", 80))))),
                new Diagnostics());
        dev.waypoint.model.request.Target target = new dev.waypoint.model.request.Target.ServiceEntryTarget(
                HostPort.parseAuthority("240.240.0.1:" + port), API, API.ports().stream().filter(p -> p.port() == port).findFirst().orElseThrow());
        RouteDecision d = RouteDecision.decide(table, target, new TestRequests.Request("GET", path, "api.example.com",
                TestRequests.Headers.of(), new SpiffeId("cluster.local", "apps", "client")), BackendPicker.seeded(1));
        String rendered = d instanceof RouteDecision.Forward f ? "forward " + f.rule().routeName() + " -> " + f.backend().target()
                : d instanceof RouteDecision.Answer a ? "answer " + a.rejection().reason().status() + " " + a.rejection().message()
                : "default";
        assertThat(rendered).isEqualTo(expected);
    }

    @Test
    void aGrpcRouteAttachesToAServiceEntryAsAnHttpRouteDoes() {
        HttpRouteSpec grpc = new HttpRouteSpec(new NamespacedName("egress", "g"), null, List.of(entryParent("api", 8080),
                entryParent("api", 9999)), List.of(rule(null, List.of(RouteMatchSpec.any()), List.of(), List.of(entryBackend("api-v2", 80)))),
                SourceRef.NONE, "GRPCRoute");
        Diagnostics d = new Diagnostics();
        RouteTable table = compileWithEntries(List.of(grpc), d);

        assertThat(table.debug().keySet()).containsExactly("ServiceEntry egress/api:8080");
        assertThat(d.problems()).extracting(Object::toString).containsExactly("-: warning: GRPCRoute egress/g: spec.parentRefs[1]: "
                + "port: 9999 (expected: a port of ServiceEntry egress/api; the parentRef is ignored)");
    }

    @Test
    void theDefaultRouteOfAServiceAndOfAServiceEntryCarriesTheMeshsDefaultRetries() {
        // Istio's waypoint default route is its default outbound route, whatever the target is
        dev.waypoint.model.request.Target toService = new dev.waypoint.model.request.Target.ServiceTarget(
                HostPort.parseAuthority("240.240.0.5:80"), API_SERVICE, API_SERVICE.ports().get(0));
        dev.waypoint.model.request.Target toEntry = new dev.waypoint.model.request.Target.ServiceEntryTarget(
                HostPort.parseAuthority("240.240.0.1:80"), API, API.ports().get(0));
        for (dev.waypoint.model.request.Target t : List.of(toService, toEntry)) {
            assertThat(DefaultRoutes.route(t, dev.waypoint.model.request.RetryPolicy.ISTIO_DEFAULT).retry())
                    .as("%s", t).isEqualTo(dev.waypoint.model.request.RetryPolicy.ISTIO_DEFAULT);
        }
    }

    // ---- RequestMirror to a ServiceEntry: resolved as a backendRef to it is (ServiceEntryBackends) ----

    private static final ReferenceGrantSpec SE_GRANT = new ReferenceGrantSpec(new NamespacedName("egress", "g"),
            List.of(new ReferenceGrantSpec.From("gateway.networking.k8s.io", "HTTPRoute", "apps")),
            List.of(new ReferenceGrantSpec.To("networking.istio.io", "ServiceEntry", "api-v2")), SourceRef.NONE);

    /** An HTTPRoute apps/m on Service apps/reviews:80: every request to apps/reviews:80, copied to {@code mirror}. */
    private static ResourceSet mirrorSet(HttpFilterSpec.RequestMirror mirror, boolean onBackendRef, boolean grant) {
        List<HttpFilterSpec> filters = List.of(mirror);
        BackendRefSpec to = new BackendRefSpec("", "Service", "apps", "reviews", 80, 1, onBackendRef ? filters : List.of());
        HttpRouteSpec r = route("apps", "m", null, parent("reviews", 80),
                rule(null, List.of(RouteMatchSpec.any()), onBackendRef ? List.of() : filters, List.of(to)));
        return ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .services(List.of(REVIEWS, V2)).serviceEntries(List.of(API, API_V2)).httpRoutes(List.of(r))
                .referenceGrants(grant ? List.of(SE_GRANT) : List.of()).build();
    }

    @ParameterizedTest(name = "mirror to {1} {2}/{3}:{4} (grant {5}) -> {6}")
    @CsvSource(delimiter = '|', value = {
            // group            | kind         | ns     | name               | port | grant | the mirror's target, or the warning
            "networking.istio.io | ServiceEntry | egress | api-v2             | 80   | true  | ServiceEntry egress/api-v2 (v2.api.example.com):80",
            "networking.istio.io | ServiceEntry | egress | api-v2             | 8080 | true  | ServiceEntry egress/api-v2 (v2.api.example.com):8080",
            "networking.istio.io | Hostname     | apps   | v2.api.example.com | 80   | false | ServiceEntry egress/api-v2 (v2.api.example.com):80",
            "networking.istio.io | ServiceEntry | egress | api-v2             | 80   | false | backendRef ServiceEntry egress/api-v2 is in another namespace and no ReferenceGrant allows it (the mirror is dropped)",
            "networking.istio.io | ServiceEntry | egress | api-v2             | 0    | true  | backendRef ServiceEntry egress/api-v2 has no port (expected: port is required) (the mirror is dropped)",
            "networking.istio.io | ServiceEntry | egress | api-v2             | 9999 | true  | backendRef ServiceEntry egress/api-v2 has no port 9999 (the mirror is dropped)",
            "networking.istio.io | ServiceEntry | apps   | nothere            | 80   | false | backendRef ServiceEntry apps/nothere does not exist (the mirror is dropped)",
            "networking.istio.io | Hostname     | apps   | nowhere.example.com | 80  | false | backendRef Hostname nowhere.example.com is no host of any ServiceEntry exported to namespace apps (the mirror is dropped)",
            "''                  | Service      | apps   | reviews-v2         | 80   | false | Service apps/reviews-v2:80",
            // Istio with ENABLE_MCS_HOST off (its default): a ServiceImport is its same-named Service
            "multicluster.x-k8s.io | ServiceImport | apps | reviews-v2         | 80   | false | Service apps/reviews-v2:80",
            "networking.istio.io | WorkloadEntry | apps  | x                  | 80   | false | backendRef kind networking.istio.io/WorkloadEntry is not supported (expected: Service, networking.istio.io/ServiceEntry, networking.istio.io/Hostname or multicluster.x-k8s.io/ServiceImport) (the mirror is dropped)",
    })
    void aMirrorResolvesAsABackendRefToTheSameObject(String group, String kind, String ns, String name, int port, boolean grant,
                                                      String expected) {
        HttpFilterSpec.RequestMirror mirror = new HttpFilterSpec.RequestMirror(new BackendRefSpec(group, kind, ns, name, port, 1,
                List.of()), 0.5);
        for (boolean onBackendRef : new boolean[] {false, true}) {
            Diagnostics d = new Diagnostics();
            RouteTable table = new HttpRouteCompiler().compile(mirrorSet(mirror, onBackendRef, grant), d);
            CompiledRule rule = table.routes(REVIEWS.name(), 80).find(TestRequests.get("/"), null).rule();
            assertThat(rule.invalid()).as("a mirror never makes the rule 500").isNull();
            List<CompiledRule.Mirror> mirrors = onBackendRef ? rule.backends().get(0).mirrors() : rule.mirrors();
            String field = onBackendRef ? "spec.rules[0].backendRefs[0].filters[0]" : "spec.rules[0].filters[0]";
            String got = mirrors.isEmpty() ? d.problems().stream().filter(p -> p.field().equals(field))
                    .map(p -> p.message()).findFirst().orElse("(no warning on " + field + ")")
                    : mirrors.get(0).target() + (mirrors.get(0).fraction() == 0.5 ? "" : " fraction " + mirrors.get(0).fraction());
            assertThat(got).as(onBackendRef ? "on the backendRef" : "on the rule").isEqualTo(expected);
        }
    }

    /** The route stage draws a ServiceEntry mirror against its fraction as a Service one; the copy names the entry's port. */
    @Test
    void theRouteStageDrawsAServiceEntryMirrorAgainstItsFraction() {
        ResourceSet rs = mirrorSet(new HttpFilterSpec.RequestMirror(new BackendRefSpec("networking.istio.io", "Hostname", "apps",
                "v2.api.example.com", 80, 1, List.of()), 0.25), false, false);
        Diagnostics d = new Diagnostics();
        dev.waypoint.model.ConfigSnapshot snapshot = dev.waypoint.model.ConfigSnapshot.compile(0, rs, List.of(new HttpRouteCompiler()), d);
        assertThat(d.problems()).isEmpty();
        dev.waypoint.model.request.Target target = new dev.waypoint.model.request.Target.ServiceTarget(
                HostPort.parseAuthority("10.96.0.1:80"), REVIEWS, REVIEWS.port(80));
        SpiffeId peer = new SpiffeId("cluster.local", "apps", "client");
        RouteFilter filter = new RouteFilter(BackendPicker.seeded(3));
        int mirrored = 0;
        int n = 4000;
        for (int i = 0; i < n; i++) {
            TestRequests.Request req = new TestRequests.Request("GET", "/", "reviews", TestRequests.Headers.of(), peer);
            dev.waypoint.model.request.RequestContext ctx = new dev.waypoint.model.request.RequestContext(
                    new dev.waypoint.model.request.TunnelContext(target, peer, null, null, null, null, null), snapshot, target, req,
                    req.headers(), new dev.waypoint.model.request.RequestOutcome(0));
            assertThat(filter.onRequest(ctx)).isEqualTo(dev.waypoint.model.request.FilterResult.CONTINUE);
            RouteSelection s = ctx.get(RouteSelection.KEY);
            assertThat(s.backend().toString()).isEqualTo("Service apps/reviews:80");
            for (RouteSelection.Backend m : s.mirrors()) {
                assertThat(m).isInstanceOfSatisfying(RouteSelection.ServiceEntryBackend.class, se -> {
                    assertThat(se.entry().name()).isEqualTo(API_V2.name());
                    assertThat(se.port().port()).isEqualTo(80);
                    assertThat(se.original()).as("named by the route, not the address called").isNull();
                });
                mirrored++;
            }
        }
        assertThat(mirrored / (double) n).isCloseTo(0.25, org.assertj.core.data.Offset.offset(0.03));
    }

    private static ParentRefSpec entryParent(String name, int port) {
        return new ParentRefSpec("networking.istio.io", "ServiceEntry", "egress", name, port, null);
    }
}
