package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class AuthzPolicyCompilerTest {
    static final NamespacedName WAYPOINT = new NamespacedName("ns1", "waypoint");
    static final ServiceSpec B = new ServiceSpec(new NamespacedName("ns1", "b"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.20")), List.of(new ServicePortSpec("http", 8080, 8080, null, null),
            new ServicePortSpec("tcp", 9090, 9090, null, null)), Map.of(), SourceRef.NONE);
    static final Target TO_B = new Target.ServiceTarget(new HostPort(HostPort.parseIp("10.96.0.20"), 8080), B,
            B.ports().get(0));

    /** A ServiceEntry named as Service b (only a ServiceEntry reference reaches it), and another one. */
    static final ServiceEntrySpec SE_B = entry("b", "240.240.0.2");
    static final ServiceEntrySpec SE_EXT = entry("ext", "240.240.0.3");

    static ServiceEntrySpec entry(String name, String vip) {
        return new ServiceEntrySpec(new NamespacedName("ns1", name), Map.of(), List.of(name + ".example.test"),
                List.of(HostPort.parseIp(vip)), List.of(new ServicePortSpec("http", 80, 80, null, "HTTP"),
                new ServicePortSpec("tcp", 9000, 9000, null, "TCP")), ServiceEntrySpec.Location.MESH_EXTERNAL,
                ServiceEntrySpec.Resolution.STATIC, List.of(), null, SourceRef.NONE);
    }

    static Target toEntry(ServiceEntrySpec se, int port) {
        return new Target.ServiceEntryTarget(new HostPort(se.addresses().get(0), port), se, se.port(port));
    }

    record Compiled(AuthzTable table, List<String> problems) {}

    static Compiled compile(String... policies) {
        List<AuthorizationPolicySpec> specs = Stream.of(policies).map(Specs::parse).toList();
        ResourceSet rs = ResourceSet.builder(WAYPOINT, "cluster.local").services(List.of(B))
                .serviceEntries(List.of(SE_B, SE_EXT)).authorizationPolicies(specs).build();
        Diagnostics d = new Diagnostics();
        AuthzTable t = new AuthzPolicyCompiler().compile(rs, d);
        return new Compiled(t, d.problems().stream().map(Object::toString).toList());
    }

    static String policy(String name, String action, String rules) {
        return "metadata: {name: " + name + ", namespace: ns1}\nspec:\n  targetRefs: [{kind: Service, group: '', name: b}]\n"
                + "  action: " + action + "\n" + (rules == null ? "" : "  rules: " + rules + "\n");
    }

    record Case(String name, String policy, TestRequest request, boolean allowed, String problem) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> failClosed() {
        TestRequest get = TestRequest.of("GET", "/x");
        String unknownKey = "[{when: [{key: destination.namespace, values: [ns1]}]}]";
        return Stream.of(
                new Case("broken ALLOW allows nothing", policy("p", "ALLOW", "[{}, " + unknownKey.substring(1)), get, false,
                        "AuthorizationPolicy ns1/p: spec.rules[1].when[0].key: key: destination.namespace (expected: a "
                                + "supported attribute; destination.namespace is refused by Istio: use the policy's namespace "
                                + "or targetRefs); the policy allows nothing (it still counts as an ALLOW policy)"),
                new Case("broken DENY denies everything", policy("p", "DENY", "[{to: [{operation: {paths: [/never]}}], "
                        + "when: [{key: source.ip, values: [300.1.1.1]}]}]"), get, false,
                        "AuthorizationPolicy ns1/p: spec.rules[0].when[0].values[0]: values[0]: 300.1.1.1 (expected: an IP "
                                + "address or CIDR block such as 10.0.0.0/16); the policy denies every request it applies to"),
                new Case("experimental key without [key]", policy("p", "DENY",
                        "[{when: [{key: experimental.envoy.filters.network.mysql_proxy, values: ['[update]']}]}]"),
                        get, false, "AuthorizationPolicy ns1/p: spec.rules[0].when[0].key: key: "
                                + "experimental.envoy.filters.network.mysql_proxy (expected: "
                                + "experimental.envoy.filters.<filter>[<key>]); the policy denies every request it applies to"),
                new Case("bad template in ALLOW", policy("p", "ALLOW", "[{to: [{operation: {paths: ['/a/{**}/b/{*}']}}]}]"),
                        TestRequest.of("GET", "/a/x/b/y"), false,
                        "AuthorizationPolicy ns1/p: spec.rules[0].to[0].operation.paths[0]: paths[0]: /a/{**}/b/{*} "
                                + "(expected: a path, or a template whose segments are {*} or {**}, {**} last); the policy "
                                + "allows nothing (it still counts as an ALLOW policy)"),
                new Case("CUSTOM denies what its rules match", policy("p", "CUSTOM",
                        "[{to: [{operation: {paths: [/x]}}]}]").replace("  action: CUSTOM", "  action: CUSTOM\n  provider: {name: ext}"),
                        get, false, "AuthorizationPolicy ns1/p: spec.provider.name: provider: ext (expected: an envoyExtAuthzHttp or envoyExtAuthzGrpc provider of the mesh config whose service resolves); the policy denies every request its rules match"),
                new Case("CUSTOM leaves the rest alone", policy("p", "CUSTOM",
                        "[{to: [{operation: {paths: [/y]}}]}]").replace("  action: CUSTOM", "  action: CUSTOM\n  provider: {name: ext}"),
                        get, true, "AuthorizationPolicy ns1/p: spec.provider.name: provider: ext (expected: an envoyExtAuthzHttp or envoyExtAuthzGrpc provider of the mesh config whose service resolves); the policy denies every request its rules match"),
                new Case("allow-nothing", policy("p", "ALLOW", null), get, false, null),
                new Case("AUDIT is not an ALLOW policy", policy("p", "AUDIT", "[{}]"), get, true, null),
                new Case("serviceAccounts with principals", policy("p", "ALLOW",
                        "[{from: [{source: {principals: [a], serviceAccounts: [a]}}]}]"), get, false,
                        "AuthorizationPolicy ns1/p: spec.rules[0].from[0].source.serviceAccounts: serviceAccounts: set with "
                                + "principals or namespaces (expected: one of them per source); the policy allows nothing "
                                + "(it still counts as an ALLOW policy)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("failClosed")
    void neverWidensAccess(Case c) {
        Compiled r = compile(c.policy());
        assertThat(r.table().engineFor(TO_B).decide(c.request(), null).allowed()).isEqualTo(c.allowed());
        if (c.problem() == null) {
            assertThat(r.problems()).isEmpty();
        } else {
            assertThat(r.problems()).singleElement().asString().endsWith(c.problem());
        }
    }

    /** "HTTP-only fields make ALLOW rules never match and DENY rules match more broadly". */
    static Stream<Case> tcp() {
        TestRequest conn = new TestRequest(null, null, null, null,
                dev.waypoint.model.mesh.SpiffeId.parse("spiffe://cluster.local/ns/ns1/sa/a").orElseThrow(),
                TestRequest.addr("10.0.1.10", 40000), TestRequest.addr("10.96.0.20", 9090));
        return Stream.of(
                new Case("ALLOW with only HTTP fields denies", policy("p", "ALLOW",
                        "[{to: [{operation: {methods: [GET]}}]}]"), conn, false, null),
                new Case("ALLOW by principal and port allows", policy("p", "ALLOW",
                        "[{from: [{source: {principals: [cluster.local/ns/ns1/sa/a]}}], to: [{operation: {ports: ['9090']}}]}]"),
                        conn, true, null),
                new Case("ALLOW mixing L4 and HTTP fields denies", policy("p", "ALLOW",
                        "[{to: [{operation: {ports: ['9090'], paths: [/x]}}]}]"), conn, false, null),
                new Case("DENY with HTTP fields matches more broadly", policy("p", "DENY",
                        "[{to: [{operation: {ports: ['9090'], paths: [/admin]}}]}]"), conn, false, null),
                new Case("DENY scoped by another port does not apply", policy("p", "DENY",
                        "[{to: [{operation: {ports: ['8080'], paths: [/admin]}}]}]"), conn, true, null),
                new Case("DENY with an HTTP-only when key matches more broadly", policy("p", "DENY",
                        "[{when: [{key: 'request.headers[x-foo]', values: [bar]}]}]"), conn, false, null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tcp")
    void tcpSubset(Case c) {
        Compiled r = compile(c.policy());
        assertThat(r.problems()).isEmpty();
        assertThat(r.table().engineFor(TO_B).decideTcp(c.request()).allowed()).isEqualTo(c.allowed());
    }

    /**
     * {@code experimental.envoy.filters.<filter>[<key>]}: Istio's envoyFilterGenerator matches Envoy
     * dynamic metadata, which nothing writes at a waypoint, so values never match and notValues
     * always do (the {@code not_rule} of a metadata matcher that is false), on HTTP and on TCP.
     */
    @ParameterizedTest(name = "{0} when {1}: allowed {2}")
    @CsvSource(delimiter = '|', value = {
            "ALLOW | values: [x]                 | false",
            "ALLOW | notValues: [x]              | true",
            "ALLOW | values: [x], notValues: [y] | false",
            "DENY  | values: ['[update]']        | true",
            "DENY  | notValues: [x]              | false",
    })
    void envoyFilterMetadataIsNeverSet(String action, String condition, boolean allowed) {
        String key = "experimental.envoy.filters.network.mysql_proxy[db.table]";
        Compiled r = compile(policy("p", action, "[{when: [{key: '" + key + "', " + condition + "}]}]"));
        assertThat(r.problems()).singleElement().asString().endsWith("note: AuthorizationPolicy ns1/p: spec.rules[0].when[0]"
                + ".key: key: " + key + " reads Envoy dynamic metadata, which no filter of this waypoint writes: its "
                + "values never match, its notValues always do");
        AuthzEngine e = r.table().engineFor(TO_B);
        assertThat(e.decide(TestRequest.of("GET", "/"), null).allowed()).as("HTTP").isEqualTo(allowed);
        TestRequest conn = new TestRequest(null, null, null, null,
                dev.waypoint.model.mesh.SpiffeId.parse("spiffe://cluster.local/ns/ns1/sa/a").orElseThrow(),
                TestRequest.addr("10.0.1.10", 40000), TestRequest.addr("10.96.0.20", 9090));
        assertThat(e.decideTcp(conn).allowed()).as("TCP").isEqualTo(allowed);
    }

    /**
     * Attachment as a truth table (shared/spec/authz.md §1): a deny-all policy with one targetRef
     * ({@code group:kind:name[:namespace]}) in a namespace, against calls of Service ns1/b,
     * ServiceEntry ns1/b (same name, other kind), ServiceEntry ns1/ext and a Pod, over HTTP and TCP.
     */
    @ParameterizedTest(name = "{0} in {1} -> service b {2}, ServiceEntry b {3}, ServiceEntry ext {4}, pod {5}")
    @CsvSource({
            // reference,                                          policy ns,    svc b, se b,  se ext, pod
            ":Service:b,                                           ns1,          true,  false, false, false",
            "networking.istio.io:ServiceEntry:b,                   ns1,          false, true,  false, false",
            "networking.istio.io:ServiceEntry:ext,                 ns1,          false, false, true,  false",
            "networking.istio.io:ServiceEntry:b:ns1,               ns1,          false, true,  false, false",
            "networking.istio.io:ServiceEntry:b,                   ns2,          false, false, false, false",
            "networking.istio.io:ServiceEntry:b:ns2,               ns1,          false, false, false, false",
            ":ServiceEntry:b,                                      ns1,          false, false, false, false",
            "networking.istio.io:ServiceEntry:missing,             ns1,          false, false, false, false",
            "gateway.networking.k8s.io:Gateway:waypoint,           ns1,          true,  true,  true,  true",
            "gateway.networking.k8s.io:GatewayClass:istio-waypoint, istio-system, true, true,  true,  true",
    })
    void attachment(String reference, String namespace, boolean svcB, boolean seB, boolean seExt, boolean pod) {
        String[] r = reference.split(":");
        String policy = "metadata: {name: p, namespace: " + namespace + "}\nspec:\n  targetRefs: [{group: '" + r[0]
                + "', kind: " + r[1] + ", name: " + r[2] + (r.length > 3 ? ", namespace: " + r[3] : "") + "}]\n"
                + "  action: DENY\n  rules: [{}]\n";
        Compiled c = compile(policy);
        assertThat(c.problems()).isEmpty();
        AuthzTable t = c.table();
        PodSpec p = new PodSpec(new NamespacedName("ns1", "p"), Map.of(), "sa", HostPort.parseIp("10.0.0.5"), true,
                Map.of(), SourceRef.NONE);
        Target toPod = new Target.WorkloadTarget(new HostPort(HostPort.parseIp("10.0.0.5"), 8080), p, AppProtocol.HTTP);
        TestRequest get = TestRequest.of("GET", "/");
        assertThat(t.engineFor(TO_B).decide(get, null).allowed()).as("service b").isEqualTo(!svcB);
        assertThat(t.engineFor(toEntry(SE_B, 80)).decide(get, null).allowed()).as("ServiceEntry b").isEqualTo(!seB);
        assertThat(t.engineFor(toEntry(SE_EXT, 80)).decide(get, null).allowed()).as("ServiceEntry ext").isEqualTo(!seExt);
        assertThat(t.engineFor(toPod).decide(get, null).allowed()).as("pod").isEqualTo(!pod);
        TestRequest conn = new TestRequest(null, null, null, null,
                dev.waypoint.model.mesh.SpiffeId.parse("spiffe://cluster.local/ns/ns1/sa/a").orElseThrow(),
                TestRequest.addr("10.0.1.10", 40000), TestRequest.addr("240.240.0.2", 9000));
        assertThat(t.engineFor(toEntry(SE_B, 9000)).decideTcp(conn).allowed()).as("ServiceEntry b over TCP").isEqualTo(!seB);
    }

    @Test
    void aServiceEntryPolicyCombinesWithTheGatewayWideOnesAndIsDumped() {
        String seAllow = "metadata: {name: se, namespace: ns1}\nspec:\n  targetRefs: [{group: networking.istio.io, "
                + "kind: ServiceEntry, name: b}]\n  rules: [{to: [{operation: {paths: [/se]}}]}]\n";
        String gwDeny = "metadata: {name: gw, namespace: ns1}\nspec:\n  targetRefs: [{kind: Gateway, group: "
                + "gateway.networking.k8s.io, name: waypoint}]\n  action: DENY\n  rules: [{to: [{operation: {paths: [/se/admin]}}]}]\n";
        AuthzTable t = compile(seAllow, gwDeny).table();
        AuthzEngine e = t.engineFor(toEntry(SE_B, 80));
        assertThat(e.decide(TestRequest.of("GET", "/se"), null)).isEqualTo(new AuthzDecision.Allow("ns1/se", 0));
        assertThat(e.decide(TestRequest.of("GET", "/se/admin"), null))
                .isEqualTo(new AuthzDecision.Deny("ns1/gw", AuthorizationPolicySpec.Action.DENY, 0));
        assertThat(e.decide(TestRequest.of("GET", "/other"), null).detail())
                .isEqualTo("rbac_access_denied_matched_policy[none]");
        // the other ServiceEntry and the Service see only the gateway-wide DENY
        assertThat(t.engineFor(toEntry(SE_EXT, 80)).decide(TestRequest.of("GET", "/other"), null).allowed()).isTrue();
        assertThat(t.engineFor(TO_B).decide(TestRequest.of("GET", "/other"), null).allowed()).isTrue();
        assertThat(t.debug()).containsKey("ServiceEntry ns1/b").doesNotContainKey("ServiceEntry ns1/ext");
        assertThat(t.toDebugString()).contains("serviceentry ns1/b:\n");
    }

    @Test
    void podTrafficSeesOnlyGatewayPolicies() {
        String svcDeny = policy("svc", "DENY", "[{}]");
        String gwAllow = "metadata: {name: gw, namespace: ns1}\nspec:\n  targetRefs: [{kind: Gateway, group: "
                + "gateway.networking.k8s.io, name: waypoint}]\n  rules: [{to: [{operation: {paths: [/ok]}}]}]\n";
        AuthzTable t = compile(svcDeny, gwAllow).table();
        PodSpec pod = new PodSpec(new NamespacedName("ns1", "p"), Map.of(), "sa", HostPort.parseIp("10.0.0.5"), true,
                Map.of(), SourceRef.NONE);
        Target toPod = new Target.WorkloadTarget(new HostPort(HostPort.parseIp("10.0.0.5"), 8080), pod, AppProtocol.HTTP);
        assertThat(t.engineFor(toPod).decide(TestRequest.of("GET", "/ok"), null).allowed()).isTrue();
        assertThat(t.engineFor(toPod).decide(TestRequest.of("GET", "/no"), null).allowed()).isFalse();
        assertThat(t.engineFor(TO_B).decide(TestRequest.of("GET", "/ok"), null))
                .isEqualTo(new AuthzDecision.Deny("ns1/svc", AuthorizationPolicySpec.Action.DENY, 0));
    }

    @Test
    void decisionsNameThePolicyAndRule() {
        AuthzTable t = compile(policy("a", "ALLOW", "[{to: [{operation: {paths: [/a]}}]}, {to: [{operation: {paths: [/b]}}]}]"),
                policy("d", "DENY", "[{to: [{operation: {paths: [/c]}}]}]")).table();
        AuthzEngine e = t.engineFor(TO_B);
        assertThat(e.decide(TestRequest.of("GET", "/b"), null)).isEqualTo(new AuthzDecision.Allow("ns1/a", 1));
        assertThat(e.decide(TestRequest.of("GET", "/c"), null).detail())
                .isEqualTo("rbac_access_denied_matched_policy[ns1/d, rule 0]");
        assertThat(e.decide(TestRequest.of("GET", "/z"), null).detail()).isEqualTo("rbac_access_denied_matched_policy[none]");
        // decisions are built at compile time: the same instance every time
        assertThat(e.decide(TestRequest.of("GET", "/b"), null)).isSameAs(e.decide(TestRequest.of("GET", "/b?x"), null));
    }

    @Test
    void policiesElsewhereDoNotAttach() {
        String otherNs = policy("p", "DENY", "[{}]").replace("namespace: ns1", "namespace: ns2");
        String classOutsideRoot = "metadata: {name: c, namespace: ns1}\nspec:\n  targetRefs: [{kind: GatewayClass, group: "
                + "gateway.networking.k8s.io, name: istio-waypoint}]\n  action: DENY\n  rules: [{}]\n";
        String selector = "metadata: {name: s, namespace: ns1}\nspec:\n  selector: {matchLabels: {app: b}}\n  action: DENY\n"
                + "  rules: [{}]\n";
        AuthzTable t = compile(otherNs, classOutsideRoot, selector).table();
        assertThat(t.engineFor(TO_B).isEmpty()).isTrue();
        assertThat(t.engineFor(TO_B).decide(TestRequest.of("GET", "/"), null).allowed()).isTrue();
    }

    /**
     * Trust domains as a truth table: an ALLOW policy with one rule ({@code rules}), compiled with the
     * mesh trust domain {@code td} and {@code aliases} (space separated, blank for none), against a peer in
     * {@code ns1/sa/a} (or the service account the rule names) of trust domain {@code peer}.
     * Expectations follow Istio's trustdomain.Bundle (pilot/pkg/security/trustdomain/bundle.go).
     */
    @ParameterizedTest(name = "{0}: td {1} aliases [{2}], peer {4}: {5}")
    @CsvSource(delimiter = '|', value = {
            // ReplaceTrustDomainAliases, principals and source.principal
            "exact alias                 | td1     | old           | {from: [{source: {principals: [old/ns/ns1/sa/a]}}]}                 | td1                  | true",
            "unrelated kept as written   | td1     | old           | {from: [{source: {principals: [other/ns/ns1/sa/a]}}]}               | other                | true",
            "unrelated not aliased       | td1     | old           | {from: [{source: {principals: [other/ns/ns1/sa/a]}}]}               | td1                  | false",
            "*suffix matches an alias    | td1     | foobar        | {from: [{source: {principals: ['*bar/ns/ns1/sa/a']}}]}              | td1                  | true",
            "*suffix kept for that alias | td1     | foobar        | {from: [{source: {principals: ['*bar/ns/ns1/sa/a']}}]}              | xbar                 | true",
            "*suffix matching no member  | td1     | foobar        | {from: [{source: {principals: ['*baz/ns/ns1/sa/a']}}]}              | td1                  | false",
            "prefix* becomes the members | td1     | cluster.local | {from: [{source: {principals: ['cluster*/ns/ns1/sa/a']}}]}          | td1                  | true",
            "cluster.local points to td  | td1     |               | {from: [{source: {principals: [cluster.local/ns/ns1/sa/a]}}]}       | td1                  | true",
            "cluster.local not kept      | td1     |               | {from: [{source: {principals: [cluster.local/ns/ns1/sa/a]}}]}       | cluster.local        | false",
            "cluster.local to aliases    | td1     | old           | {from: [{source: {principals: [cluster.local/ns/ns1/sa/a]}}]}       | old                  | true",
            "notPrincipals too           | td1     |               | {from: [{source: {notPrincipals: [cluster.local/ns/ns1/sa/a]}}]}    | td1                  | false",
            "* trust domain not enforced | td1     |               | {from: [{source: {principals: ['*/ns/ns1/sa/a']}}]}                 | other                | true",
            "not five segments kept      | td1     |               | {from: [{source: {principals: ['cluster.local/*']}}]}               | cluster.local        | true",
            "source.principal *-td       | new-td  | old-td some   | {when: [{key: source.principal, values: ['*-td/ns/ns1/sa/a']}]}     | some                 | true",
            "source.principal notValues  | td1     |               | {when: [{key: source.principal, notValues: [cluster.local/ns/ns1/sa/a]}]} | td1            | false",
            // ExpandTrustDomainAliases, trustDomains and source.trustDomain
            "trustDomains alias          | td1     | cluster.local | {from: [{source: {trustDomains: [cluster.local]}}]}                 | td1                  | true",
            "trustDomains mesh domain    | td1     | old           | {from: [{source: {trustDomains: [td1]}}]}                           | old                  | true",
            "trustDomains not a member   | td1     | cluster.local | {from: [{source: {trustDomains: [cluster.local]}}]}                 | other                | false",
            "no cluster.local pointer    | td1     |               | {from: [{source: {trustDomains: [cluster.local]}}]}                 | td1                  | false",
            "notTrustDomains too         | td1     | cluster.local | {from: [{source: {notTrustDomains: [cluster.local]}}]}              | td1                  | false",
            "source.trustDomain          | td1     | cluster.local | {when: [{key: source.trustDomain, values: [cluster.local]}]}        | td1                  | true",
            "source.trustDomain notValues| td1     | old           | {when: [{key: source.trustDomain, notValues: [td1]}]}               | old                  | false",
    })
    void trustDomains(String name, String td, String aliases, String rule, String peer, boolean allowed) {
        AuthorizationPolicySpec p = Specs.parse(policy("p", "ALLOW", "[" + rule + "]"));
        ResourceSet rs = ResourceSet.builder(WAYPOINT, td).services(List.of(B)).authorizationPolicies(List.of(p)).build();
        Diagnostics d = new Diagnostics();
        AuthzEngine e = new AuthzPolicyCompiler("istio-system", aliases == null ? List.of() : List.of(aliases.split(" ")))
                .compile(rs, d).engineFor(TO_B);
        assertThat(d.problems()).isEmpty();
        TestRequest r = TestRequest.of("GET", "/").withPrincipal("spiffe://" + peer + "/ns/ns1/sa/a");
        assertThat(e.decide(r, null).allowed()).isEqualTo(allowed);
    }

    @Test
    void meshConfigTrustDomainAndAliasesMergeWithTheFlag() {
        AuthorizationPolicySpec p = Specs.parse(policy("p", "ALLOW",
                "[{from: [{source: {principals: [old.org/ns/ns1/sa/a]}}]}]"));
        MeshConfigSpec mesh = new MeshConfigSpec(SourceRef.NONE, "mesh.org", List.of("old.org"), null, List.of(),
                MeshConfigSpec.DefaultProviders.NONE, null, null, MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null,
                null, null);
        ResourceSet rs = ResourceSet.builder(WAYPOINT, "cluster.local").services(List.of(B)).authorizationPolicies(List.of(p))
                .meshConfig(mesh).build();
        AuthzEngine flagOnly = new AuthzPolicyCompiler("istio-system", List.of("flag.org")).compile(
                rs.toBuilder().meshConfig(MeshConfigSpec.DEFAULT).build(), new Diagnostics()).engineFor(TO_B);
        AuthzEngine both = new AuthzPolicyCompiler("istio-system", List.of("flag.org")).compile(rs, new Diagnostics())
                .engineFor(TO_B);
        for (String td : List.of("cluster.local", "old.org", "mesh.org", "flag.org", "other.org")) {
            TestRequest r = TestRequest.of("GET", "/").withPrincipal("spiffe://" + td + "/ns/ns1/sa/a");
            assertThat(both.decide(r, null).allowed()).as(td).isEqualTo(!td.equals("other.org"));
            // without the mesh config, old.org is just the literal trust domain the principal names
            assertThat(flagOnly.decide(r, null).allowed()).as("no mesh config: " + td).isEqualTo(td.equals("old.org"));
        }
    }
}
