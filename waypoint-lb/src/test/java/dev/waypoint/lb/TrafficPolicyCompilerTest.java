package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.LoadBalancerSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.Simple;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which DestinationRule applies to which Service port, and what it compiles to. */
class TrafficPolicyCompilerTest {
    @ParameterizedTest(name = "{0} in {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            "web                          | apps  | apps/web",
            "web                          | other | other/web",
            "web.apps.svc.cluster.local   | other | apps/web",
            "web.apps                     | other | ",      // dotted: read as an FQDN, as Istio does
            "web.apps.svc                 | apps  | ",
            "a.b.apps.svc.cluster.local   | apps  | ",
            "example.com                  | apps  | ",
    })
    void hostsResolveAsIstioDoes(String host, String ns, String expected) {
        NamespacedName r = TrafficPolicyCompiler.resolve(host, ns);
        assertThat(r == null ? null : r.toString()).isEqualTo(expected);
    }

    static DestinationRuleSpec rule(String ns, String name, String host, Simple simple) {
        return new DestinationRuleSpec(new NamespacedName(ns, name), host, List.of(),
                new TrafficPolicySpec(new LoadBalancerSpec(simple, null, null), null, List.of()), List.of(), SourceRef.NONE);
    }

    static Map<String, Map<String, Object>> compile(List<DestinationRuleSpec> rules, Diagnostics d) {
        ConfigSnapshot s = ConfigSnapshot.compile(0, LbFixtures.resources(LbFixtures.pods(2), rules),
                List.of(new EndpointCompiler()), d);
        return s.part(EndpointTable.PART).debugPolicies();
    }

    @Test
    void theWaypointNamespaceWinsThenTheServiceNamespaceThenTheRootAndLosersAreWarned() {
        Diagnostics d = new Diagnostics();
        var out = compile(List.of(
                rule("istio-system", "root", "web.apps.svc.cluster.local", Simple.RANDOM),
                rule("apps", "own", "web", Simple.ROUND_ROBIN),
                rule("apps", "own-later", "web", Simple.LEAST_REQUEST)), d);
        // the waypoint runs in istio-system here, which is also the root: "root" wins as the waypoint's namespace
        assertThat(out.get("apps/web:80")).containsEntry("destinationRule", "istio-system/root")
                .containsEntry("loadBalancer", "RANDOM");
        assertThat(d.problems()).extracting(Object::toString).containsExactlyInAnyOrder(
                "-: warning: DestinationRule apps/own: spec.host: host: web has another DestinationRule that applies instead: istio-system/root",
                "-: warning: DestinationRule apps/own-later: spec.host: host: web has another DestinationRule that applies instead: istio-system/root");
    }

    @Test
    void withinTheServiceNamespaceTheFirstWins() {
        Diagnostics d = new Diagnostics();
        var out = compile(List.of(rule("apps", "a", "web", Simple.ROUND_ROBIN), rule("apps", "b", "web", Simple.RANDOM)), d);
        assertThat(out.get("apps/web:80")).containsEntry("destinationRule", "apps/a").containsEntry("loadBalancer", "ROUND_ROBIN");
    }

    @Test
    void aHostMatchingNoServiceIsAWarningWithAHint() {
        Diagnostics d = new Diagnostics();
        var out = compile(List.of(rule("apps", "x", "web.apps", Simple.RANDOM)), d);
        assertThat(out).isEmpty();
        assertThat(d.problems()).extracting(Object::toString).containsExactly(
                "-: warning: DestinationRule apps/x: spec.host: host: web.apps matches no Service or ServiceEntry host in this config; a host with a "
                        + "dot is read as fully qualified, as Istio does: write web.apps.svc.cluster.local or the short name");
    }

    @Test
    void portLevelSettingsReplaceTheTopLevelField() {
        DestinationRuleSpec dr = new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new TrafficPolicySpec(new LoadBalancerSpec(Simple.RANDOM, null, null), null, List.of(
                        new TrafficPolicySpec.PortPolicySpec(80, new TrafficPolicySpec(
                                new LoadBalancerSpec(Simple.ROUND_ROBIN, null, null), null, List.of())),
                        new TrafficPolicySpec.PortPolicySpec(9999, new TrafficPolicySpec(
                                new LoadBalancerSpec(Simple.LEAST_REQUEST, null, null), null, List.of())))),
                List.of(), SourceRef.NONE);
        assertThat(compile(List.of(dr), new Diagnostics()).get("apps/web:80")).containsEntry("loadBalancer", "ROUND_ROBIN");
    }
}
