package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.L4RouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.Target;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * TCPRoute and TLSRoute compilation: attachment, precedence, weights, invalid backends, and
 * which route each connection takes.
 */
class L4RouteCompilerTest {
    static final NamespacedName SELF = new NamespacedName("istio-system", "waypoint");

    static ServiceSpec service(String name, ServicePortSpec... ports) {
        return new ServiceSpec(new NamespacedName("apps", name), Map.of(), List.of(HostPort.parseIp("10.96.0.1")),
                List.of(ports), Map.of("app", name), SourceRef.NONE);
    }

    static final ServiceSpec FRONT = service("front", new ServicePortSpec("tcp", 9000, 9000, null, null),
            new ServicePortSpec("tls", 443, 443, null, "tls"), new ServicePortSpec("http", 80, 8080, null, null),
            new ServicePortSpec("", 7000, 7000, null, null));
    static final List<ServiceSpec> SERVICES = List.of(FRONT,
            service("a", new ServicePortSpec("tcp", 9000, 9000, null, null), new ServicePortSpec("tls", 443, 443, null, "tls")),
            service("b", new ServicePortSpec("tcp", 9000, 9000, null, null), new ServicePortSpec("tls", 443, 443, null, "tls")));

    static BackendRefSpec ref(String name, int port, int weight) {
        return new BackendRefSpec("", "Service", "apps", name, port, weight, List.of());
    }

    static L4RouteSpec route(L4RouteSpec.Kind kind, String name, String created, int parentPort, List<String> hostnames,
                             BackendRefSpec... refs) {
        return new L4RouteSpec(kind, new NamespacedName("apps", name), created == null ? null : Instant.parse(created),
                List.of(new ParentRefSpec("", "Service", "apps", "front", parentPort, null)), hostnames,
                List.of(new L4RouteSpec.Rule(null, List.of(refs))), SourceRef.NONE);
    }

    record Compiled(L4RouteTable table, List<String> problems) {}

    static Compiled compile(L4RouteSpec... routes) {
        Diagnostics d = new Diagnostics();
        ResourceSet rs = ResourceSet.builder(SELF, "cluster.local").services(SERVICES).l4Routes(List.of(routes)).build();
        L4RouteTable t = new L4RouteCompiler().compile(rs, d);
        return new Compiled(t, d.problems().stream().map(Object::toString).toList());
    }

    static Target target(int port) {
        return new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:" + port), FRONT, FRONT.port(port));
    }

    static String render(L4Decision d) {
        if (d instanceof L4Decision.Forward f) {
            return f.routeName() + " -> " + f.backend();
        }
        if (d instanceof L4Decision.Reject r) {
            return "reject " + r.rejection().reason().status() + " " + r.rejection().message();
        }
        return "default";
    }

    @Test
    void aTcpRouteAttachesToTcpAndUndeclaredPortsNotToHttpOnes() {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "r", null, 0, List.of(), ref("a", 9000, 1)));
        assertThat(c.table().debug()).containsOnlyKeys("apps/front:9000", "apps/front:443", "apps/front:7000");
        assertThat(render(c.table().tcp(target(9000), BackendPicker.seeded(1)))).isEqualTo("r.apps.0 -> Service apps/a:9000");
        assertThat(render(c.table().tcp(target(80), BackendPicker.seeded(1)))).isEqualTo("default");
        assertThat(c.problems()).isEmpty();
    }

    @Test
    void aParentPortDeclaredHttpIsRefused() {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "r", null, 80, List.of(), ref("a", 9000, 1)));
        assertThat(c.table().debug()).isEmpty();
        assertThat(c.problems()).singleElement().asString().contains("TCPRoute apps/r").contains("spec.parentRefs[0]")
                .contains("port: 80 (expected: a TCP port; Service apps/front declares it HTTP");
    }

    @Test
    void weightsAreDrawnPerConnectionAndZeroIsNever() {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "r", null, 9000, List.of(), ref("a", 9000, 3), ref("b", 9000, 1),
                ref("front", 9000, 0)));
        Map<String, Integer> counts = new HashMap<>();
        BackendPicker picker = BackendPicker.seeded(42);
        for (int i = 0; i < 4000; i++) {
            counts.merge(render(c.table().tcp(target(9000), picker)), 1, Integer::sum);
        }
        assertThat(counts).containsOnlyKeys("r.apps.0 -> Service apps/a:9000", "r.apps.0 -> Service apps/b:9000");
        assertThat(counts.get("r.apps.0 -> Service apps/a:9000")).isBetween(2850, 3150);
    }

    @Test
    void theOldestTcpRouteWinsAPort() {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "newer", "2024-02-01T00:00:00Z", 9000, List.of(), ref("b", 9000, 1)),
                route(L4RouteSpec.Kind.TCP, "older", "2024-01-01T00:00:00Z", 9000, List.of(), ref("a", 9000, 1)));
        assertThat(render(c.table().tcp(target(9000), BackendPicker.seeded(1)))).isEqualTo("older.apps.0 -> Service apps/a:9000");
        assertThat(c.problems()).singleElement().asString().contains("TCPRoute apps/newer").contains("apps/older is older and wins");
    }

    @Test
    void invalidBackendsKeepTheirShareAndThoseConnectionsAreRefused() {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "r", null, 9000, List.of(), ref("missing", 9000, 1)));
        assertThat(render(c.table().tcp(target(9000), BackendPicker.seeded(1))))
                .isEqualTo("reject 500 r.apps.0: backendRef Service apps/missing does not exist");
        assertThat(c.problems()).singleElement().asString().contains("connections sent to it are closed");
        Compiled zero = compile(route(L4RouteSpec.Kind.TCP, "z", null, 9000, List.of(), ref("a", 9000, 0)));
        assertThat(render(zero.table().tcp(target(9000), BackendPicker.seeded(1)))).startsWith("reject 500 z.apps.0: every backendRef has weight 0");
    }

    static L4RouteSpec consumer(L4RouteSpec.Kind kind, String ns, String name, List<String> hostnames, BackendRefSpec... refs) {
        return new L4RouteSpec(kind, new NamespacedName(ns, name), null,
                List.of(new ParentRefSpec("", "Service", "apps", "front", kind == L4RouteSpec.Kind.TCP ? 9000 : 443, null)),
                hostnames, List.of(new L4RouteSpec.Rule(null, List.of(refs))), SourceRef.NONE);
    }

    /** GEP-1294 for TCPRoute and TLSRoute: a consumer route applies only to callers from its namespace, and replaces the producer's for them. */
    @ParameterizedTest(name = "caller {0}: tcp {1}, tls {2}")
    @CsvSource(nullValues = "null", delimiter = '|', value = {
            // caller ns | TCP 9000                                           | TLS 443, SNI x.a.com
            "apps        | prod.apps.0 -> Service apps/a:9000                 | prodtls.apps.0 -> Service apps/a:443",
            "null        | prod.apps.0 -> Service apps/a:9000                 | prodtls.apps.0 -> Service apps/a:443",
            "other       | c.other.0 -> Service apps/front:9000               | ctls.other.0 -> Service apps/front:443",
            "third       | prod.apps.0 -> Service apps/a:9000                 | prodtls.apps.0 -> Service apps/a:443",
            "grantless   | reject 500 g.grantless.0: backendRef apps/a is in another namespace and no ReferenceGrant allows it | prodtls.apps.0 -> Service apps/a:443",
    })
    void consumerRoutesApplyOnlyToCallersFromTheirNamespace(String caller, String tcp, String tls) {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "prod", null, 9000, List.of(), ref("a", 9000, 1)),
                route(L4RouteSpec.Kind.TLS, "prodtls", null, 443, List.of("*.a.com"), ref("a", 443, 1)),
                // to its parent Service: no ReferenceGrant needed
                consumer(L4RouteSpec.Kind.TCP, "other", "c", List.of(), ref("front", 9000, 1)),
                consumer(L4RouteSpec.Kind.TLS, "other", "ctls", List.of("*.a.com"), ref("front", 443, 1)),
                consumer(L4RouteSpec.Kind.TCP, "grantless", "g", List.of(), ref("a", 9000, 1)));
        assertThat(render(c.table().tcp(target(9000), caller, BackendPicker.seeded(1)))).isEqualTo(tcp);
        assertThat(c.table().hasTls(target(443), caller)).isTrue();
        assertThat(render(c.table().tls(target(443), caller, "x.a.com", BackendPicker.seeded(1)))).isEqualTo(tls);
        assertThat(c.table().debug()).containsKeys("apps/front:9000", "apps/front:9000 (consumer other)",
                "apps/front:443 (consumer other)", "apps/front:9000 (consumer grantless)");
        assertThat(c.problems()).singleElement().asString().contains("TCPRoute grantless/g");
    }

    @Test
    void aConsumerRouteOnlyCountsAgainstOtherRoutesOfItsNamespace() {
        Compiled c = compile(route(L4RouteSpec.Kind.TCP, "prod", "2024-01-01T00:00:00Z", 9000, List.of(), ref("a", 9000, 1)),
                consumer(L4RouteSpec.Kind.TCP, "other", "c", List.of(), ref("front", 9000, 1)));
        assertThat(c.problems()).as("a consumer route and a producer route on one port do not conflict").isEmpty();
        // no consumer TLSRoute in "other": its TLS connections to 443 see the producer's (none here: default)
        assertThat(c.table().hasTls(target(443), "other")).isFalse();
    }

    static final dev.waypoint.model.mesh.ServiceEntrySpec EXT = new dev.waypoint.model.mesh.ServiceEntrySpec(
            new NamespacedName("apps", "front"), Map.of(), List.of("db.example.com"), List.of(HostPort.parseIp("240.240.0.9")),
            List.of(new ServicePortSpec("tcp", 9000, 9000, null, "TCP"), new ServicePortSpec("http", 80, 80, null, "HTTP")),
            dev.waypoint.model.mesh.ServiceEntrySpec.Location.MESH_EXTERNAL, dev.waypoint.model.mesh.ServiceEntrySpec.Resolution.STATIC,
            List.of(), null, SourceRef.NONE);

    @Test
    void aServiceEntryParentAttachesToItsTcpPortsNotToTheServiceOfTheSameName() {
        L4RouteSpec r = new L4RouteSpec(L4RouteSpec.Kind.TCP, new NamespacedName("apps", "se"), null,
                List.of(new ParentRefSpec("networking.istio.io", "ServiceEntry", "apps", "front", 0, null)), List.of(),
                List.of(new L4RouteSpec.Rule(null, List.of(ref("a", 9000, 1)))), SourceRef.NONE);
        L4RouteSpec missing = new L4RouteSpec(L4RouteSpec.Kind.TCP, new NamespacedName("apps", "m"), null,
                List.of(new ParentRefSpec("networking.istio.io", "ServiceEntry", "apps", "nope", 0, null)), List.of(),
                List.of(new L4RouteSpec.Rule(null, List.of(ref("a", 9000, 1)))), SourceRef.NONE);
        Diagnostics d = new Diagnostics();
        ResourceSet rs = ResourceSet.builder(SELF, "cluster.local").services(SERVICES).serviceEntries(List.of(EXT))
                .l4Routes(List.of(r, missing)).build();
        L4RouteTable t = new L4RouteCompiler().compile(rs, d);
        assertThat(t.debug()).containsOnlyKeys("ServiceEntry apps/front:9000");
        Target toEntry = new Target.ServiceEntryTarget(HostPort.parseAuthority("240.240.0.9:9000"), EXT, EXT.port(9000));
        assertThat(render(t.tcp(toEntry, null, BackendPicker.seeded(1)))).isEqualTo("se.apps.0 -> Service apps/a:9000");
        assertThat(render(t.tcp(target(9000), BackendPicker.seeded(1)))).as("Service apps/front").isEqualTo("default");
        assertThat(d.problems()).singleElement().asString().contains("name: apps/nope (expected: an existing ServiceEntry");
    }

    /**
     * A ServiceEntry parent as Istio's waypoint uses it (ServiceEntryParents): a route of the entry's
     * namespace or of the waypoint's attaches, for every caller; a route of any other namespace is
     * refused with the same warning as an HTTPRoute's, and its callers route by default.
     */
    @ParameterizedTest(name = "{0} in {1} on ServiceEntry apps/{2}, caller {3} -> {4}")
    @CsvSource(nullValues = "~", delimiter = '|', value = {
            // kind | route ns     | parent | caller | decision                                              | attached                        | warning
            "TCP    | apps         | front  | apps   | r.apps.0 -> ServiceEntry apps/front (db.example.com):9000          | ServiceEntry apps/front:9000 | -",
            "TCP    | apps         | front  | other  | r.apps.0 -> ServiceEntry apps/front (db.example.com):9000          | ServiceEntry apps/front:9000 | -",
            "TCP    | istio-system | front  | other  | r.istio-system.0 -> ServiceEntry apps/front (db.example.com):9000  | ServiceEntry apps/front:9000 | -",
            "TCP    | istio-system | front  | ~      | r.istio-system.0 -> ServiceEntry apps/front (db.example.com):9000  | ServiceEntry apps/front:9000 | -",
            "TLS    | istio-system | front  | apps   | r.istio-system.0 -> ServiceEntry apps/front (db.example.com):9000  | ServiceEntry apps/front:9000 | -",
            "TCP    | other        | front  | other  | default | - | TCPRoute other/r: spec.parentRefs[0]: namespace: apps (expected: other, the route's own, or istio-system, the waypoint's: a waypoint uses the routes of a ServiceEntry only from the entry's namespace or its own; the parentRef is ignored)",
            "TCP    | other        | front  | apps   | default | - | TCPRoute other/r: spec.parentRefs[0]: namespace: apps (expected: other, the route's own, or istio-system, the waypoint's: a waypoint uses the routes of a ServiceEntry only from the entry's namespace or its own; the parentRef is ignored)",
            "TLS    | other        | front  | other  | default | - | TLSRoute other/r: spec.parentRefs[0]: namespace: apps (expected: other, the route's own, or istio-system, the waypoint's: a waypoint uses the routes of a ServiceEntry only from the entry's namespace or its own; the parentRef is ignored)",
            "TCP    | istio-system | nope   | other  | default | - | TCPRoute istio-system/r: spec.parentRefs[0]: name: apps/nope (expected: an existing ServiceEntry; the parentRef is ignored)",
    })
    void aServiceEntryParentFromTheEntrysOrTheWaypointsNamespaceOnly(L4RouteSpec.Kind kind, String routeNs, String parentName,
                                                                    String caller, String decision, String attached, String warning) {
        L4RouteSpec r = new L4RouteSpec(kind, new NamespacedName(routeNs, "r"), null,
                List.of(new ParentRefSpec("networking.istio.io", "ServiceEntry", "apps", parentName, 0, null)), List.of(),
                List.of(new L4RouteSpec.Rule(null, List.of(new BackendRefSpec("networking.istio.io", "Hostname", routeNs,
                        "db.example.com", 9000, 1, List.of())))), SourceRef.NONE);
        Diagnostics d = new Diagnostics();
        ResourceSet rs = ResourceSet.builder(SELF, "cluster.local").services(SERVICES).serviceEntries(List.of(EXT))
                .l4Routes(List.of(r)).build();
        L4RouteTable t = new L4RouteCompiler().compile(rs, d);
        Target toEntry = new Target.ServiceEntryTarget(HostPort.parseAuthority("240.240.0.9:9000"), EXT, EXT.port(9000));

        L4Decision got = kind == L4RouteSpec.Kind.TCP ? t.tcp(toEntry, caller, BackendPicker.seeded(1))
                : t.tls(toEntry, caller, "x.db.example.com", BackendPicker.seeded(1));
        assertThat(render(got)).isEqualTo(decision);
        assertThat(t.debug().isEmpty() ? "-" : String.join(",", t.debug().keySet())).as("no consumer keys").isEqualTo(attached);
        assertThat(d.problems().isEmpty() ? "-" : d.problems().stream()
                .map(p -> p.kind() + " " + p.name() + ": " + p.field() + ": " + p.message()).reduce((a, b) -> a + " | " + b).get())
                .isEqualTo(warning);
    }

    @Test
    void missingParentsAreIgnoredWithAWarning() {
        L4RouteSpec missing = new L4RouteSpec(L4RouteSpec.Kind.TCP, new NamespacedName("apps", "m"), null,
                List.of(new ParentRefSpec("", "Service", "apps", "nope", 9000, null)), List.of(),
                List.of(new L4RouteSpec.Rule(null, List.of(ref("a", 9000, 1)))), SourceRef.NONE);
        Compiled c = compile(missing);
        assertThat(c.table().debug()).isEmpty();
        assertThat(c.problems()).anySatisfy(p -> assertThat(p).contains("name: apps/nope (expected: an existing Service"));
    }

    /** Which route a ClientHello's SNI takes on port 443 with the routes below. */
    @ParameterizedTest(name = "SNI {0} -> {1}")
    @CsvSource(nullValues = "NULL", delimiter = '|', textBlock = """
            api.example.com       | exact.apps.0 -> Service apps/a:443
            API.Example.COM       | exact.apps.0 -> Service apps/a:443
            www.example.com       | wild.apps.0 -> Service apps/b:443
            a.b.example.com       | wild.apps.0 -> Service apps/b:443
            deep.api.example.com  | deeper.apps.0 -> Service apps/a:443
            example.com           | reject 404 no TLSRoute of
            other.test            | reject 404 no TLSRoute of
            NULL                  | reject 404 no TLSRoute of
            """)
    void sniChoosesTheMostSpecificName(String sni, String expected) {
        Compiled c = compile(
                route(L4RouteSpec.Kind.TLS, "wild", "2024-01-01T00:00:00Z", 443, List.of("*.example.com"), ref("b", 443, 1)),
                route(L4RouteSpec.Kind.TLS, "exact", "2024-02-01T00:00:00Z", 443, List.of("api.example.com"), ref("a", 443, 1)),
                route(L4RouteSpec.Kind.TLS, "deeper", "2024-03-01T00:00:00Z", 443, List.of("*.api.example.com"), ref("a", 443, 1)));
        assertThat(c.table().hasTls(target(443))).isTrue();
        assertThat(c.table().hasTls(target(9000))).isFalse();
        assertThat(render(c.table().tls(target(443), sni, BackendPicker.seeded(1)))).startsWith(expected);
    }

    @Test
    void aTcpRouteOnTheSamePortTakesWhatNoTlsRouteMatches() {
        Compiled c = compile(route(L4RouteSpec.Kind.TLS, "t", null, 443, List.of("api.example.com"), ref("a", 443, 1)),
                route(L4RouteSpec.Kind.TCP, "fallback", null, 443, List.of(), ref("b", 443, 1)));
        assertThat(render(c.table().tls(target(443), "api.example.com", BackendPicker.seeded(1)))).isEqualTo("t.apps.0 -> Service apps/a:443");
        assertThat(render(c.table().tls(target(443), "other.test", BackendPicker.seeded(1)))).isEqualTo("fallback.apps.0 -> Service apps/b:443");
        assertThat(c.table().debug().get("apps/front:443")).containsExactly("tcp fallback.apps.0 -> Service apps/b:443 w1",
                "tls api.example.com t.apps.0 -> Service apps/a:443 w1");
    }

    @Test
    void aTlsRouteWithoutHostnamesTakesEverySniLast() {
        Compiled c = compile(route(L4RouteSpec.Kind.TLS, "any", null, 443, List.of(), ref("b", 443, 1)),
                route(L4RouteSpec.Kind.TLS, "t", null, 443, List.of("api.example.com"), ref("a", 443, 1)));
        assertThat(render(c.table().tls(target(443), "api.example.com", BackendPicker.seeded(1)))).isEqualTo("t.apps.0 -> Service apps/a:443");
        assertThat(render(c.table().tls(target(443), null, BackendPicker.seeded(1)))).isEqualTo("any.apps.0 -> Service apps/b:443");
    }

    @Test
    void aTlsRouteNeedsADeclaredPort() {
        Compiled c = compile(route(L4RouteSpec.Kind.TLS, "t", null, 7000, List.of("api.example.com"), ref("a", 443, 1)));
        assertThat(c.table().debug()).isEmpty();
        assertThat(c.problems()).singleElement().asString().contains("expected: a port declared tls, https or tcp");
    }

    @Test
    void onlyTheFirstRuleIsUsed() {
        L4RouteSpec two = new L4RouteSpec(L4RouteSpec.Kind.TCP, new NamespacedName("apps", "two"), null,
                List.of(new ParentRefSpec("", "Service", "apps", "front", 9000, null)), List.of(),
                List.of(new L4RouteSpec.Rule("first", List.of(ref("a", 9000, 1))),
                        new L4RouteSpec.Rule("second", List.of(ref("b", 9000, 1)))), SourceRef.NONE);
        Compiled c = compile(two);
        assertThat(render(c.table().tcp(target(9000), BackendPicker.seeded(1)))).isEqualTo("two.apps.first -> Service apps/a:9000");
        assertThat(c.problems()).singleElement().asString().contains("spec.rules[1]").contains("only the first is used");
    }
}
