package dev.waypoint.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link StatusPlan}: which objects get our status, and which conditions, as a table. */
class StatusPlanTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String CONTROLLER = "waypoint.dev/waypoint-controller";
    static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");
    static final Set<NamespacedName> BOUND = Set.of(new NamespacedName("apps", "web"));
    static final Set<NamespacedName> BOUND_ENTRIES = Set.of(new NamespacedName("apps", "api"));

    static WireObject wire(String singleQuotedJson) throws Exception {
        return new WireObject(JSON.readTree(singleQuotedJson.replace('\'', '"')), SourceRef.NONE);
    }

    static Diagnostics.Problem problem(Diagnostics.Severity s, String kind, String name, String field, String message) {
        return new Diagnostics.Problem(s, SourceRef.NONE, kind, new NamespacedName("apps", name), field, message);
    }

    static final String ROUTE = "{'metadata':{'name':'r','namespace':'apps'},'spec':{'parentRefs':[%s]}}";

    /** parentRefs, problems of the route → our entries as "parent:Accepted/ResolvedRefs reasons". */
    static Stream<Arguments> routes() {
        return Stream.of(
                Arguments.of("{'group':'','kind':'Service','name':'web','port':80}", List.of(),
                        List.of("web:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")),
                // no group: gateway.networking.k8s.io (the Gateway API default), so not the core Service
                Arguments.of("{'kind':'Service','name':'web'}", List.of(), List.of()),
                Arguments.of("{'group':'core','kind':'Service','name':'web'}", List.of(),
                        List.of("web:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")),
                // not bound here: another waypoint's business, no entry
                Arguments.of("{'group':'','kind':'Service','name':'db'}", List.of(), List.of()),
                // a Gateway parent (north-south): not ours
                Arguments.of("{'name':'ingress'}", List.of(), List.of()),
                Arguments.of("{'group':'','kind':'Service','name':'web'}",
                        List.of(problem(Diagnostics.Severity.ERROR, "HTTPRoute", "r", "spec.rules[0].matches[0].path.type",
                                "type: Bogus (expected: Exact, PathPrefix or RegularExpression)")),
                        List.of("web:Accepted:False:UnsupportedValue,ResolvedRefs:True:ResolvedRefs")),
                Arguments.of("{'group':'','kind':'Service','name':'web'}",
                        List.of(problem(Diagnostics.Severity.WARNING, "HTTPRoute", "r", "spec.rules[0].backendRefs[0]",
                                "backendRef Service apps/nowhere does not exist (requests sent to it get 500)")),
                        List.of("web:Accepted:True:Accepted,ResolvedRefs:False:BackendNotFound")),
                Arguments.of("{'group':'','kind':'Service','name':'web'}",
                        List.of(problem(Diagnostics.Severity.WARNING, "HTTPRoute", "r", "spec.rules[0].backendRefs[0]",
                                "backendRef Service other/x: not allowed by any ReferenceGrant")),
                        List.of("web:Accepted:True:Accepted,ResolvedRefs:False:RefNotPermitted")),
                // another route's problems do not count
                Arguments.of("{'group':'','kind':'Service','name':'web'}",
                        List.of(problem(Diagnostics.Severity.ERROR, "HTTPRoute", "other", "spec", "broken")),
                        List.of("web:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")),
                // a ServiceEntry parent bound here (Istio's egress waypoint case)
                Arguments.of("{'group':'networking.istio.io','kind':'ServiceEntry','name':'api','port':80}", List.of(),
                        List.of("api:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")),
                // a ServiceEntry named like a bound Service, and a Service named like a bound entry: not bound
                Arguments.of("{'group':'networking.istio.io','kind':'ServiceEntry','name':'web'}", List.of(), List.of()),
                Arguments.of("{'group':'','kind':'Service','name':'api'}", List.of(), List.of()),
                // no such entry: not bound here, no entry (as for a Service)
                Arguments.of("{'group':'networking.istio.io','kind':'ServiceEntry','name':'nothere'}", List.of(), List.of()),
                // the compiler's reason a parentRef attaches nowhere: that parent, not the others
                Arguments.of("{'group':'networking.istio.io','kind':'ServiceEntry','name':'api','port':9999},"
                                + "{'group':'','kind':'Service','name':'web'}",
                        List.of(problem(Diagnostics.Severity.WARNING, "HTTPRoute", "r", "spec.parentRefs[0]",
                                "port: 9999 (expected: a port of ServiceEntry apps/api; the parentRef is ignored)")),
                        List.of("api:Accepted:False:NoMatchingParent,ResolvedRefs:True:ResolvedRefs",
                                "web:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")),
                Arguments.of("{'group':'','kind':'Service','name':'web','port':81}",
                        List.of(problem(Diagnostics.Severity.WARNING, "HTTPRoute", "r", "spec.parentRefs[0]",
                                "port: 81 (expected: a port of Service apps/web; the parentRef is ignored)")),
                        List.of("web:Accepted:False:NoMatchingParent,ResolvedRefs:True:ResolvedRefs")));
    }

    @ParameterizedTest
    @MethodSource("routes")
    void routeStatus(String parentRefs, List<Diagnostics.Problem> problems, List<String> expected) throws Exception {
        List<StatusPlan.Desired> out = StatusPlan.routes(List.of(wire(ROUTE.formatted(parentRefs))), BOUND, BOUND_ENTRIES, problems,
                CONTROLLER);
        List<String> got = out.stream().flatMap(d -> stream(d.ours())).map(e -> {
            assertThat(e.path("controllerName").asText()).isEqualTo(CONTROLLER);
            StringBuilder b = new StringBuilder(e.path("parentRef").path("name").asText()).append(':');
            List<String> cs = stream(e.path("conditions")).map(c -> c.path("type").asText() + ":" + c.path("status").asText()
                    + ":" + c.path("reason").asText()).toList();
            return b.append(String.join(",", cs)).toString();
        }).toList();
        assertThat(got).isEqualTo(expected);
    }

    static final String REFUSED = "namespace: apps (expected: shop, the route's own, or istio-system, the waypoint's: a waypoint"
            + " uses the routes of a ServiceEntry only from the entry's namespace or its own; the parentRef is ignored)";

    /**
     * TCPRoute and TLSRoute get the entries HTTPRoutes get, from their own problems: a ServiceEntry
     * parent of another namespace than the route's and the waypoint's is {@code Accepted=False}
     * with the compiler's reason, for every route kind alike.
     */
    static Stream<Arguments> routesOfEveryKind() {
        String entry = "{'group':'networking.istio.io','kind':'ServiceEntry','namespace':'apps','name':'api','port':9000}";
        String service = "{'group':'','kind':'Service','namespace':'apps','name':'web','port':9000}";
        Stream.Builder<Arguments> out = Stream.builder();
        for (String kind : List.of("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")) {
            out.add(Arguments.of(kind, "apps", entry, List.of(), List.of("api:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")));
            out.add(Arguments.of(kind, "istio-system", entry, List.of(),
                    List.of("api:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")));
            out.add(Arguments.of(kind, "shop", entry + "," + service, List.of(
                    new Diagnostics.Problem(Diagnostics.Severity.WARNING, SourceRef.NONE, kind, new NamespacedName("shop", "r"),
                            "spec.parentRefs[0]", REFUSED),
                    // the same route name under another kind is not this route's problem
                    new Diagnostics.Problem(Diagnostics.Severity.ERROR, SourceRef.NONE, kind.equals("TCPRoute") ? "TLSRoute" : "TCPRoute",
                            new NamespacedName("shop", "r"), "spec", "broken")),
                    List.of("api:Accepted:False:NoMatchingParent:spec.parentRefs[0]: " + REFUSED + ",ResolvedRefs:True:ResolvedRefs",
                            "web:Accepted:True:Accepted,ResolvedRefs:True:ResolvedRefs")));
        }
        out.add(Arguments.of("TCPRoute", "apps", entry, List.of(new Diagnostics.Problem(Diagnostics.Severity.WARNING, SourceRef.NONE,
                "TCPRoute", new NamespacedName("apps", "r"), "spec.rules[0].backendRefs[0]",
                "backendRef kind example.com/Queue is not supported (expected: Service, networking.istio.io/ServiceEntry or"
                        + " networking.istio.io/Hostname) (connections sent to it are closed)")),
                List.of("api:Accepted:True:Accepted,ResolvedRefs:False:InvalidKind")));
        return out.build();
    }

    @ParameterizedTest(name = "{0} in {1}: {2}")
    @MethodSource("routesOfEveryKind")
    void routeStatusOfEveryKind(String kind, String namespace, String parentRefs, List<Diagnostics.Problem> problems,
                                List<String> expected) throws Exception {
        WireObject route = wire("{'metadata':{'name':'r','namespace':'%s'},'spec':{'parentRefs':[%s]}}".formatted(namespace, parentRefs));
        List<StatusPlan.Desired> out = StatusPlan.routes(kind, List.of(route), BOUND, BOUND_ENTRIES, problems, CONTROLLER);
        assertThat(out).extracting(StatusPlan.Desired::key).containsExactly(kind + "/" + namespace + "/r");
        assertThat(StatusPlan.isRoute(kind)).isTrue();
        List<String> got = stream(out.get(0).ours()).map(e -> e.path("parentRef").path("name").asText() + ":"
                + String.join(",", stream(e.path("conditions")).map(c -> c.path("type").asText() + ":" + c.path("status").asText()
                + ":" + c.path("reason").asText() + (c.path("status").asText().equals("False") && c.path("reason").asText()
                .equals("NoMatchingParent") ? ":" + c.path("message").asText() : "")).toList())).toList();
        assertThat(got).isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void aGrpcRouteGetsTheSameEntriesUnderItsOwnKind_fromItsOwnProblems() throws Exception {
        WireObject route = wire(ROUTE.formatted("{'group':'','kind':'Service','name':'web','port':80}"));
        // an HTTPRoute of the same name with an error: not this GRPCRoute's problem
        List<Diagnostics.Problem> httpRouteProblem = List.of(problem(Diagnostics.Severity.ERROR, "HTTPRoute", "r", "spec", "broken"));
        List<Diagnostics.Problem> ownProblem = List.of(problem(Diagnostics.Severity.ERROR, "GRPCRoute", "r",
                "spec.rules[0].matches[0].method.type", "type: Bogus (expected: Exact or RegularExpression)"));
        List<StatusPlan.Desired> clean = StatusPlan.routes("GRPCRoute", List.of(route), BOUND, BOUND_ENTRIES, httpRouteProblem, CONTROLLER);
        assertThat(clean).extracting(StatusPlan.Desired::key).containsExactly("GRPCRoute/apps/r");
        assertThat(clean.get(0).ours().get(0).path("conditions").get(0).path("status").asText()).isEqualTo("True");
        List<StatusPlan.Desired> broken = StatusPlan.routes("GRPCRoute", List.of(route), BOUND, BOUND_ENTRIES, ownProblem, CONTROLLER);
        assertThat(broken.get(0).ours().get(0).path("conditions").get(0).path("reason").asText()).isEqualTo("UnsupportedValue");
        assertThat(StatusPlan.isRoute("GRPCRoute")).isTrue();
        assertThat(StatusPlan.isRoute("AuthorizationPolicy")).isFalse();
    }

    static final String POLICY = "{'metadata':{'name':'p','namespace':'%s'},'spec':{%s}}";

    /** namespace, spec, problems → our condition as "status:reason:message", or "-" for none. */
    static Stream<Arguments> policies() {
        return Stream.of(
                Arguments.of("apps", "'targetRefs':[{'kind':'Service','group':'','name':'web'}]", List.of(),
                        "True:Accepted:bound to istio-system/waypoint"),
                Arguments.of("apps", "'targetRef':{'kind':'Service','group':'','name':'web'}", List.of(),
                        "True:Accepted:bound to istio-system/waypoint"),
                Arguments.of("apps", "'targetRefs':[{'kind':'Service','group':'','name':'db'}]", List.of(), "-"),
                // a ServiceEntry bound here; one that is not; a Service named like the bound entry
                Arguments.of("apps", "'targetRefs':[{'kind':'ServiceEntry','group':'networking.istio.io','name':'api'}]",
                        List.of(), "True:Accepted:bound to istio-system/waypoint"),
                Arguments.of("apps", "'targetRefs':[{'kind':'ServiceEntry','group':'networking.istio.io','name':'web'}]",
                        List.of(), "-"),
                Arguments.of("apps", "'targetRefs':[{'kind':'Service','group':'','name':'api'}]", List.of(), "-"),
                Arguments.of("apps", "'selector':{'matchLabels':{'app':'web'}}", List.of(), "-"),
                Arguments.of("istio-system", "'targetRefs':[{'kind':'Gateway','group':'gateway.networking.k8s.io','name':'waypoint'}]",
                        List.of(), "True:Accepted:bound to istio-system/waypoint"),
                Arguments.of("istio-system", "'targetRefs':[{'kind':'GatewayClass','group':'gateway.networking.k8s.io','name':'istio-waypoint'}]",
                        List.of(), "True:Accepted:bound to istio-system/waypoint"),
                // GatewayClass outside the root namespace: not a waypoint policy
                Arguments.of("apps", "'targetRefs':[{'kind':'GatewayClass','group':'gateway.networking.k8s.io','name':'istio-waypoint'}]",
                        List.of(), "-"),
                Arguments.of("apps", "'targetRefs':[{'kind':'Service','group':'','name':'web'}]",
                        List.of(new Diagnostics.Problem(Diagnostics.Severity.ERROR, SourceRef.NONE, "AuthorizationPolicy",
                                new NamespacedName("apps", "p"), "spec.action", "action: MAYBE (expected: ALLOW, DENY, AUDIT or CUSTOM)")),
                        "False:Invalid:spec.action: action: MAYBE (expected: ALLOW, DENY, AUDIT or CUSTOM)"));
    }

    @ParameterizedTest
    @MethodSource("policies")
    void policyStatus(String namespace, String spec, List<Diagnostics.Problem> problems, String expected) throws Exception {
        List<StatusPlan.Desired> out = StatusPlan.policies("AuthorizationPolicy", List.of(wire(POLICY.formatted(namespace, spec))),
                BOUND, BOUND_ENTRIES, WAYPOINT, "istio-system", problems, CONTROLLER);
        String got = out.isEmpty() ? "-" : out.get(0).ours().path("status").asText() + ":"
                + out.get(0).ours().path("reason").asText() + ":" + out.get(0).ours().path("message").asText();
        assertThat(got).isEqualTo(expected);
        out.forEach(d -> assertThat(d.ours().path("type").asText()).isEqualTo("waypoint.dev/WaypointAccepted"));
    }

    private static Stream<JsonNode> stream(JsonNode array) {
        return java.util.stream.StreamSupport.stream(array.spliterator(), false);
    }
}
