package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteRetrySpec;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.gateway.RouteTimeoutsSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class HttpRouteTranslatorTest {
    @TempDir
    Path dir;

    private record Result(ResourceSet resources, List<String> problems) {}

    private Result translate(String yaml) throws IOException {
        Files.writeString(dir.resolve("r.yaml"), yaml);
        DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
        List<WireObject> wire = content.files().stream().flatMap(f -> f.objects().stream()).toList();
        Diagnostics diagnostics = new Diagnostics();
        List<TranslatedObject> objects = ResourceTranslator.translate(wire, diagnostics);
        return new Result(ResourceTranslator.resourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local", objects),
                diagnostics.problems().stream().map(Object::toString).toList());
    }

    private static final String HEAD = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r, namespace: apps}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews}]
            """;

    @Test
    void everyFieldWithItsDefaults() throws IOException {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
                spec:
                  parentRefs:
                  - {group: "", kind: Service, name: reviews, port: 9080}
                  hostnames: [reviews.apps]
                  rules:
                  - name: v2
                    matches:
                    - path: {type: Exact, value: /v2}
                      headers: [{name: x-user, value: jason}, {type: RegularExpression, name: x-r, value: "a.*"}]
                      queryParams: [{name: q, value: "1"}]
                      method: GET
                    filters:
                    - type: RequestHeaderModifier
                      requestHeaderModifier: {set: [{name: a, value: b}], add: [{name: c, value: d}], remove: [e]}
                    - type: URLRewrite
                      urlRewrite: {hostname: h, path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}
                    backendRefs:
                    - {name: reviews-v2, port: 9080, weight: 3}
                    - name: reviews-v3
                      namespace: other
                      port: 9080
                      weight: 0
                      filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {remove: [x]}}]
                    timeouts: {request: 1h30m, backendRequest: 500ms}
                    retry: {attempts: 2, codes: [503, 500], backoff: 100ms}
                  - filters:
                    - type: RequestRedirect
                      requestRedirect: {scheme: https, port: 8443, path: {type: ReplaceFullPath, replaceFullPath: /new}, statusCode: 301}
                  - filters: [{type: CORS, cors: {allowOrigins: ["*"]}}]
                    backendRefs: [{name: reviews, port: 9080}]
                """);

        assertThat(r.problems()).isEmpty();
        HttpRouteSpec route = r.resources().httpRoutes().get(0);
        assertThat(route.name()).isEqualTo(new NamespacedName("apps", "r"));
        assertThat(route.creationTimestamp()).isEqualTo(Instant.parse("2024-01-01T00:00:00Z"));
        assertThat(route.parentRefs()).containsExactly(new ParentRefSpec("", "Service", "apps", "reviews", 9080, null));
        assertThat(route.rules()).hasSize(3);
        RouteRuleSpec v2 = route.rules().get(0);
        assertThat(v2.name()).isEqualTo("v2");
        assertThat(v2.matches()).containsExactly(new RouteMatchSpec(
                new RouteMatchSpec.PathMatch(RouteMatchSpec.PathType.EXACT, "/v2"),
                List.of(new RouteMatchSpec.ValueMatch(RouteMatchSpec.ValueType.EXACT, "x-user", "jason"),
                        new RouteMatchSpec.ValueMatch(RouteMatchSpec.ValueType.REGULAR_EXPRESSION, "x-r", "a.*")),
                List.of(new RouteMatchSpec.ValueMatch(RouteMatchSpec.ValueType.EXACT, "q", "1")), "GET"));
        assertThat(v2.filters()).containsExactly(
                new HttpFilterSpec.RequestHeaderModifier(new HttpFilterSpec.HeaderModifier(
                        List.of(new HttpFilterSpec.Header("a", "b")), List.of(new HttpFilterSpec.Header("c", "d")), List.of("e"))),
                new HttpFilterSpec.UrlRewrite("h", new HttpFilterSpec.PathModifier(HttpFilterSpec.PathModifierType.REPLACE_PREFIX_MATCH, "/x")));
        assertThat(v2.backendRefs()).containsExactly(
                new BackendRefSpec("", "Service", "apps", "reviews-v2", 9080, 3, List.of()),
                new BackendRefSpec("", "Service", "other", "reviews-v3", 9080, 0, List.of(new HttpFilterSpec.ResponseHeaderModifier(
                        new HttpFilterSpec.HeaderModifier(List.of(), List.of(), List.of("x"))))));
        assertThat(v2.timeouts()).isEqualTo(new RouteTimeoutsSpec(Duration.ofMinutes(90), Duration.ofMillis(500)));
        assertThat(v2.retry()).isEqualTo(new RouteRetrySpec(2, List.of(503, 500), Duration.ofMillis(100)));
        RouteRuleSpec redirect = route.rules().get(1);
        assertThat(redirect.matches()).containsExactly(RouteMatchSpec.any());
        assertThat(redirect.filters()).containsExactly(new HttpFilterSpec.RequestRedirect("https", null, 8443,
                new HttpFilterSpec.PathModifier(HttpFilterSpec.PathModifierType.REPLACE_FULL_PATH, "/new"), 301));
        // CORS with the CRD default maxAge 5
        assertThat(route.rules().get(2).filters()).containsExactly(new HttpFilterSpec.Cors(List.of("*"), false, List.of(), List.of(),
                List.of(), 5));
    }

    @Test
    void corsWithEveryFieldAndWhatTheCrdRefuses() throws IOException {
        Result ok = translate(HEAD + """
                  rules:
                  - filters:
                    - type: CORS
                      cors:
                        allowOrigins: ["https://www.foo.com", "https://*.bar.com", "http://localhost:8080"]
                        allowCredentials: true
                        allowMethods: [GET, OPTIONS]
                        allowHeaders: [x-header-1]
                        exposeHeaders: [x-header-3]
                        maxAge: 3600
                    backendRefs: [{name: reviews, port: 9080}]
                """);
        assertThat(ok.problems()).isEmpty();
        assertThat(ok.resources().httpRoutes().get(0).rules().get(0).filters()).containsExactly(new HttpFilterSpec.Cors(
                List.of("https://www.foo.com", "https://*.bar.com", "http://localhost:8080"), true, List.of("GET", "OPTIONS"),
                List.of("x-header-1"), List.of("x-header-3"), 3600));

        Result bad = translate(HEAD + """
                  rules:
                  - filters:
                    - type: CORS
                      cors: {allowOrigins: ["www.foo.com"], allowMethods: ["*", GET], allowCredentials: "yes", maxAge: 0}
                    backendRefs: [{name: reviews, port: 9080}]
                """);
        assertThat(bad.resources().httpRoutes()).isEmpty();
        assertThat(bad.problems()).anyMatch(p -> p.contains("cors.allowOrigins[0]") && p.contains("an origin scheme://host[:port]"))
                .anyMatch(p -> p.contains("cors.allowMethods") && p.contains("* alone"))
                .anyMatch(p -> p.contains("cors.allowCredentials") && p.contains("true or false"))
                .anyMatch(p -> p.contains("cors.maxAge"));
    }

    @Test
    void defaultsOfParentRefsRulesAndReferenceGrants() throws IOException {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r, namespace: apps}
                spec:
                  parentRefs: [{name: waypoint}]
                ---
                apiVersion: gateway.networking.k8s.io/v1beta1
                kind: ReferenceGrant
                metadata: {name: g, namespace: other}
                spec:
                  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
                  to: [{group: "", kind: Service}]
                """);

        assertThat(r.problems()).isEmpty();
        HttpRouteSpec route = r.resources().httpRoutes().get(0);
        assertThat(route.parentRefs()).containsExactly(
                new ParentRefSpec("gateway.networking.k8s.io", "Gateway", "apps", "waypoint", 0, null));
        assertThat(route.rules()).containsExactly(new RouteRuleSpec(null, List.of(RouteMatchSpec.any()), List.of(), List.of(), null, null));
        assertThat(r.resources().referenceGrants()).singleElement().satisfies(g ->
                assertThat(g.allows("gateway.networking.k8s.io", "HTTPRoute", "apps", "", "Service", "any")).isTrue());
    }

    /** A Service (or ServiceEntry) parent in the default group attaches to nothing, in Istio too: a warning says so. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', textBlock = """
            {kind: Service, name: reviews}                                    | group: gateway.networking.k8s.io (expected: "" for a Service parent
            {group: core, kind: Service, name: reviews}                       | group: core (expected: "" for a Service parent
            {kind: ServiceEntry, name: ext}                                   | group: gateway.networking.k8s.io (expected: "networking.istio.io" for a ServiceEntry parent
            {group: "", kind: Service, name: reviews}                         |
            {group: networking.istio.io, kind: ServiceEntry, name: ext}       |
            {name: waypoint}                                                  |
            """)
    void aParentInTheWrongGroupIsAWarning(String parentRef, String warning) throws IOException {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r, namespace: apps}
                spec:
                  parentRefs: [%s]
                """.formatted(parentRef));

        if (warning == null) {
            assertThat(r.problems()).isEmpty();
        } else {
            assertThat(r.problems()).singleElement().asString()
                    .startsWith("r.yaml:1: warning: HTTPRoute apps/r: spec.parentRefs[0].group: " + warning)
                    .contains("attaches the route to nothing");
            assertThat(r.resources().httpRoutes()).hasSize(1); // a warning: the route is kept
        }
    }

    record Case(String name, String rule, String problem) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> invalidRules() {
        String at = "r.yaml:1: HTTPRoute apps/r: spec.rules[0].";
        return Stream.of(
                new Case("unknown rule field", "sessionPersistance: {}",
                        at + "sessionPersistance: sessionPersistance: unknown field (expected: one of backendRefs, filters, matches, name, retry, sessionPersistence, timeouts)"),
                new Case("bad path type", "matches: [{path: {type: Prefix, value: /}}]",
                        at + "matches[0].path.type: type: Prefix (expected: Exact, PathPrefix or RegularExpression)"),
                new Case("relative path", "matches: [{path: {type: Exact, value: v2}}]",
                        at + "matches[0].path.value: value: v2 (expected: an absolute path starting with '/')"),
                new Case("bad regex", "matches: [{path: {type: RegularExpression, value: \"/(a\"}}]",
                        at + "matches[0].path.value: value: /(a (expected: a regular expression (Unclosed group))"),
                new Case("header without value", "matches: [{headers: [{name: a}]}]",
                        at + "matches[0].headers[0].value: value: missing (expected: a value)"),
                new Case("bad method", "matches: [{method: get}]",
                        at + "matches[0].method: method: get (expected: CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE)"),
                new Case("unknown filter type", "filters: [{type: Magic}]",
                        at + "filters[0].type: type: Magic (expected: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror, CORS, ExtensionRef or ExternalAuth)"),
                new Case("filter body missing", "filters: [{type: RequestHeaderModifier}]",
                        at + "filters[0].requestHeaderModifier: requestHeaderModifier: missing (expected: an object when type is set to its filter)"),
                new Case("redirect status", "filters: [{type: RequestRedirect, requestRedirect: {statusCode: 404}}]",
                        at + "filters[0].requestRedirect.statusCode: statusCode: 404 (expected: 301, 302, 303, 307 or 308)"),
                new Case("redirect with backends", "filters: [{type: RequestRedirect, requestRedirect: {}}]\n    backendRefs: [{name: a, port: 80}]",
                        at + "filters: filters: RequestRedirect with backendRefs (expected: a RequestRedirect rule without backendRefs)"),
                new Case("repeated filter", "filters: [{type: URLRewrite, urlRewrite: {}}, {type: URLRewrite, urlRewrite: {}}]",
                        at + "filters[1].type: type: URLRewrite (expected: at most one URLRewrite filter per rule)"),
                new Case("weight out of range", "backendRefs: [{name: a, port: 80, weight: -1}]",
                        at + "backendRefs[0].weight: weight: -1 (expected: 0-1000000)"),
                new Case("bad duration", "timeouts: {request: 10}",
                        at + "timeouts.request: request: 10 (expected: a string; 10 unquoted is a number in YAML: quote it)"),
                new Case("bad duration unit", "timeouts: {request: 1d}",
                        at + "timeouts.request: request: 1d (expected: " + HttpRouteTranslator.DURATION_FORMAT + ")"),
                new Case("backend timeout longer", "timeouts: {request: 1s, backendRequest: 2s}",
                        at + "timeouts.backendRequest: backendRequest: 2s (expected: at most the request timeout 1s)"),
                new Case("retry code", "retry: {codes: [200]}",
                        at + "retry.codes[0]: codes[0]: 200 (expected: 400-599)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidRules")
    void rejectsTheRouteWithEveryProblemNamed(Case c) throws IOException {
        Result r = translate(HEAD + "  rules:\n  - " + c.rule() + "\n");

        assertThat(r.problems()).containsExactly(c.problem());
        assertThat(r.resources().httpRoutes()).isEmpty();
    }

    @ParameterizedTest(name = "{0} = {1} ms")
    @CsvSource({"0s, 0", "500ms, 500", "10s, 10000", "1h30m, 5400000", "1h1m1s1ms, 3661001", "99999s, 99999000"})
    void gatewayApiDurations(String text, long millis) {
        assertThat(HttpRouteTranslator.parseDuration(text)).isEqualTo(Duration.ofMillis(millis));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"10", "1.5s", "1d", "-1s", "100000s", "1h1m1s1ms1h", "''"})
    void notDurations(String text) {
        assertThat(HttpRouteTranslator.parseDuration(text)).isNull();
    }

    // ---- fields of the API that this waypoint reads and does not apply: kept, and said so

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            HTTPRoute | rules: [{sessionPersistence: {type: Cookie, cookie: {name: s}}, backendRefs: [{name: a, port: 80}]}] | r.yaml:1: warning: HTTPRoute apps/r: spec.rules[0].sessionPersistence: sessionPersistence is not applied by this waypoint: requests of one session may reach different backends
            GRPCRoute | rules: [{sessionPersistence: {type: Header, header: {name: x-s}}, backendRefs: [{name: a, port: 80}]}] | r.yaml:1: warning: GRPCRoute apps/r: spec.rules[0].sessionPersistence: sessionPersistence is not applied by this waypoint: requests of one session may reach different backends
            HTTPRoute | useDefaultGateways: All\\n  rules: [{backendRefs: [{name: a, port: 80}]}] | r.yaml:1: note: HTTPRoute apps/r: spec.useDefaultGateways: useDefaultGateways: All attaches the route to default Gateways; a waypoint is not one, it goes by the parentRefs
            GRPCRoute | useDefaultGateways: All\\n  rules: [{backendRefs: [{name: a, port: 80}]}] | r.yaml:1: note: GRPCRoute apps/r: spec.useDefaultGateways: useDefaultGateways: All attaches the route to default Gateways; a waypoint is not one, it goes by the parentRefs
            """)
    void readAndNotAppliedIsKeptWithAProblem(String kind, String spec, String problem) throws IOException {
        Result r = translate(HEAD.replace("HTTPRoute", kind) + "  " + spec.replace("\\n", "\n") + "\n");

        assertThat(r.problems()).containsExactly(problem);
        assertThat(r.resources().httpRoutes()).hasSize(1);
    }

    @Test
    void anExternalAuthFilterIsKeptAndNeverSkipped() throws IOException {
        Result r = translate(HEAD + """
                  rules:
                  - filters:
                    - type: ExternalAuth
                      externalAuth: {protocol: HTTP, backendRef: {name: authz, port: 8000}, http: {path: /check}}
                    backendRefs: [{name: a, port: 80}]
                """);

        // "the filter MUST NOT be skipped": the rule keeps it as unsupported and the compiler makes it answer 500
        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().httpRoutes()).singleElement().satisfies(route ->
                assertThat(route.rules().get(0).filters()).containsExactly(new HttpFilterSpec.Unsupported("ExternalAuth")));
    }
}
