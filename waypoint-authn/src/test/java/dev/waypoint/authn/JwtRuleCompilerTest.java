package dev.waypoint.authn;

import static dev.waypoint.authn.TestJwt.JWKS;
import static dev.waypoint.authn.TestJwt.rule;
import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which RequestAuthentication applies to which call (shared/spec/authz.md §1), as a truth table:
 * the object's namespace and target reference against calls of Service ns1/b, ns1/c and of a Pod.
 * The waypoint is ns1/waypoint; the root namespace istio-system.
 */
class JwtRuleCompilerTest {
    static final JwksCache CACHE = JwksCache.offline();

    @AfterAll
    static void close() {
        CACHE.close();
    }

    static PolicyTargetRef ref(String ref) {
        if (ref.equals("selector") || ref.equals("none")) {
            return null;
        }
        String[] p = ref.split(":"); // group:kind:name[:namespace]
        return new PolicyTargetRef(p[0], p[1], p[2], p.length > 3 ? p[3] : null);
    }

    @ParameterizedTest(name = "{0} in {1} -> b {2}, c {3}, pod {4}, ServiceEntry b {5}")
    @CsvSource({
            // reference,                                       policy ns,     b,     c,     pod,   se b
            ":Service:b,                                        ns1,           true,  false, false, false",
            "core:Service:b,                                    ns1,           true,  false, false, false",
            ":Service:b,                                        ns2,           false, false, false, false",
            ":Service:b:ns2,                                    ns1,           false, false, false, false",
            "networking.istio.io:ServiceEntry:b,                ns1,           false, false, false, true",
            "networking.istio.io:ServiceEntry:b,                ns2,           false, false, false, false",
            "networking.istio.io:ServiceEntry:b:ns2,            ns1,           false, false, false, false",
            "networking.istio.io:ServiceEntry:c,                ns1,           false, false, false, false",
            ":ServiceEntry:b,                                   ns1,           false, false, false, false",
            "gateway.networking.k8s.io:Gateway:waypoint,        ns1,           true,  true,  true,  true",
            "gateway.networking.k8s.io:Gateway:waypoint,        ns2,           false, false, false, false",
            "gateway.networking.k8s.io:Gateway:other,           ns1,           false, false, false, false",
            "gateway.networking.k8s.io:GatewayClass:istio-waypoint, istio-system, true, true, true, true",
            "gateway.networking.k8s.io:GatewayClass:istio-waypoint, ns1,       false, false, false, false",
            "selector,                                          ns1,           false, false, false, false",
            "none,                                              istio-system,  false, false, false, false",
    })
    void attachment(String reference, String namespace, boolean b, boolean c, boolean pod, boolean seB) {
        PolicyTargetRef r = ref(reference);
        RequestAuthenticationSpec ra = new RequestAuthenticationSpec(new NamespacedName(namespace, "ra"),
                r == null ? List.of() : List.of(r), reference.equals("selector"), List.of(rule("https://i.example", JWKS)),
                SourceRef.NONE);
        ResourceSet rs = TestRequests.resources(List.of(ra));
        Diagnostics d = new Diagnostics();
        JwtRules rules = new JwtRuleCompiler(CACHE, JwtRuleCompiler.DEFAULT_ROOT_NAMESPACE).compile(rs, d);

        assertThat(d.problems()).isEmpty();
        assertThat(applies(rules, TestRequests.B)).as("b").isEqualTo(b);
        assertThat(applies(rules, TestRequests.C)).as("c").isEqualTo(c);
        PodSpec p = new PodSpec(new NamespacedName("ns1", "b-1"), Map.of("app", "b"), "b", HostPort.parseIp("10.0.3.1"),
                true, Map.of(), SourceRef.NONE);
        Target podTarget = new Target.WorkloadTarget(HostPort.parseAuthority("10.0.3.1:8080"), p, AppProtocol.AUTO);
        assertThat(!rules.forTarget(podTarget).isEmpty()).as("pod").isEqualTo(pod);
        Target seTarget = new Target.ServiceEntryTarget(HostPort.parseAuthority("240.240.0.2:80"), TestRequests.SE_B,
                TestRequests.SE_B.ports().get(0));
        assertThat(!rules.forTarget(seTarget).isEmpty()).as("ServiceEntry b").isEqualTo(seB);
    }

    private static boolean applies(JwtRules rules, dev.waypoint.model.mesh.ServiceSpec svc) {
        return !rules.forTarget(new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.20:8080"), svc,
                svc.ports().get(0))).isEmpty();
    }

    @org.junit.jupiter.api.Test
    void rulesOfSeveralObjectsAreCombinedInOrder() {
        var a = TestRequests.ra("a", List.of(TestRequests.service("b")), rule("https://one.example", JWKS));
        var gw = TestRequests.ra("gw", List.of(new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null)),
                rule("https://two.example", JWKS), rule("https://three.example", JWKS));
        JwtRules rules = new JwtRuleCompiler(CACHE, "istio-system").compile(TestRequests.resources(List.of(a, gw)),
                new Diagnostics());
        var b = rules.forTarget(new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.20:8080"), TestRequests.B,
                TestRequests.B.ports().get(0)));
        assertThat(b).extracting(JwtRule::issuer)
                .containsExactly("https://one.example", "https://two.example", "https://three.example");
        assertThat(b.get(0).locations()).isEqualTo(JwtRule.DEFAULT_LOCATIONS);
        assertThat(b.get(0).timeout()).isEqualTo(java.time.Duration.ofSeconds(5));
    }

    @org.junit.jupiter.api.Test
    void aServiceEntryGetsItsOwnRulesAndTheGatewayWideOnes() {
        var se = TestRequests.ra("se", List.of(new PolicyTargetRef("networking.istio.io", "ServiceEntry", "b", null)),
                rule("https://one.example", JWKS));
        var gw = TestRequests.ra("gw", List.of(new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null)),
                rule("https://two.example", JWKS));
        JwtRules rules = new JwtRuleCompiler(CACHE, "istio-system").compile(TestRequests.resources(List.of(se, gw)),
                new Diagnostics());
        var entry = rules.forTarget(new Target.ServiceEntryTarget(HostPort.parseAuthority("240.240.0.2:80"),
                TestRequests.SE_B, TestRequests.SE_B.ports().get(0)));
        assertThat(entry).extracting(JwtRule::issuer).containsExactly("https://one.example", "https://two.example");
        var service = rules.forTarget(new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.20:8080"), TestRequests.B,
                TestRequests.B.ports().get(0)));
        assertThat(service).extracting(JwtRule::issuer).as("Service b of the same name").containsExactly("https://two.example");
        assertThat(rules.debug()).containsKey("serviceentry ns1/b");
    }
}
