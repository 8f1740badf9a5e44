package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.WorkloadEndpointSpec;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.LoadBalancerSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * DestinationRules whose {@code host} is a ServiceEntry host: the entry's endpoints get the same
 * balancers, outlier detection (on an injected clock), connection pool limits and options as a
 * Service's; which rule wins; what is warned.
 */
class ServiceEntryPolicyTest {
    static final NamespacedName SELF = new NamespacedName("istio-system", "waypoint");
    static final ServicePortSpec HTTP = new ServicePortSpec("http", 80, 8080, null, "http");
    static final ServiceEntrySpec ENTRY = entry(ServiceEntrySpec.Resolution.STATIC, List.of(ep("10.9.0.1"), ep("10.9.0.2"), ep("10.9.0.3")));
    static final RouteSelection.ServiceEntryBackend BACKEND = new RouteSelection.ServiceEntryBackend(ENTRY, HTTP, null);

    final LbFixtures.FakeClock clock = new LbFixtures.FakeClock();
    final EndpointStates states = new EndpointStates(clock);
    final Upstreams upstreams = new Upstreams(UpstreamSettings.defaults(15008),
            new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null), null, states);

    static WorkloadEndpointSpec ep(String address) {
        boolean ip = Character.isDigit(address.charAt(0));
        return new WorkloadEndpointSpec(address, ip ? HostPort.parseIp(address) : null, Map.of(), Map.of(), null, 0);
    }

    static ServiceEntrySpec entry(ServiceEntrySpec.Resolution resolution, List<WorkloadEndpointSpec> eps) {
        return new ServiceEntrySpec(new NamespacedName("egress", "api"), Map.of(), List.of("api.example.com"),
                List.of(HostPort.parseIp("240.240.0.1")), List.of(HTTP), ServiceEntrySpec.Location.MESH_EXTERNAL,
                resolution, eps, null, SourceRef.NONE);
    }

    static DestinationRuleSpec rule(String ns, String host, TrafficPolicySpec policy) {
        return new DestinationRuleSpec(new NamespacedName(ns, "api-rule"), host, List.of(), policy, List.of(), SourceRef.NONE);
    }

    static ConfigSnapshot snapshot(List<ServiceEntrySpec> entries, List<DestinationRuleSpec> rules, Diagnostics d) {
        ResourceSet rs = ResourceSet.builder(SELF, "cluster.local")
                .namespaces(List.of(new NamespaceSpec("egress", Map.of(), SourceRef.NONE)))
                .serviceEntries(entries).destinationRules(rules).build();
        return ConfigSnapshot.compile(1, rs, List.of(new EndpointCompiler(), new ServiceEntryEndpointCompiler()), d);
    }

    static OutlierDetectionSpec od(int c5xx) {
        return new OutlierDetectionSpec(c5xx, 0, 5, false, Duration.ofSeconds(10), Duration.ofSeconds(30), 100, 0);
    }

    List<String> picks(ConfigSnapshot snap, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(((Endpoint) upstreams.pick(snap, BACKEND, null, null)).address().toString());
        }
        return out;
    }

    @Test
    void outlierDetectionEjectsAServiceEntryEndpointAndItComesBack() {
        Diagnostics d = new Diagnostics();
        ConfigSnapshot snap = snapshot(List.of(ENTRY), List.of(rule("egress", "api.example.com", new TrafficPolicySpec(
                new LoadBalancerSpec(TrafficPolicySpec.Simple.ROUND_ROBIN, null, null), od(2), List.of()))), d);
        assertThat(d.problems()).isEmpty();
        assertThat(new HashSet<>(picks(snap, 9))).containsExactlyInAnyOrder("10.9.0.1:8080", "10.9.0.2:8080", "10.9.0.3:8080");
        Endpoint bad = ServiceEntryEndpoints.of(snap).fixed(ENTRY.name(), 80).get(0);
        for (int i = 0; i < 2; i++) {
            EndpointStates.State s = states.of(bad);
            states.watch(s, od(2), ServiceEntryEndpoints.of(snap).fixed(ENTRY.name(), 80));
            states.started(s);
            states.ended(s, EndpointStates.AttemptResult.SERVER_ERROR);
        }
        assertThat(picks(snap, 12)).doesNotContain("10.9.0.1:8080").hasSize(12);
        // a new generation keeps the ejection (the entry's endpoints are retained like a Service's)
        ConfigSnapshot next = snapshot(List.of(ENTRY), snap.resources().destinationRules(), new Diagnostics());
        upstreams.onSnapshot(next);
        assertThat(picks(next, 12)).doesNotContain("10.9.0.1:8080");
        clock.advanceSeconds(30);
        assertThat(picks(next, 12)).contains("10.9.0.1:8080");
        upstreams.closeDns();
    }

    @Test
    void roundRobinSharesAndPoolLimitsApplyAsForAService() {
        ConfigSnapshot snap = snapshot(List.of(ENTRY), List.of(rule("egress", "api.example.com", new TrafficPolicySpec(
                new LoadBalancerSpec(TrafficPolicySpec.Simple.ROUND_ROBIN, null, null), null, List.of(),
                new ConnectionPoolSpec(0, 0, 0, 3, 1, Duration.ofSeconds(5), Duration.ofMillis(500), null)))), new Diagnostics());
        List<String> p = picks(snap, 30);
        for (String a : List.of("10.9.0.1:8080", "10.9.0.2:8080", "10.9.0.3:8080")) {
            assertThat(p.stream().filter(a::equals).count()).as(a).isEqualTo(10);
        }
        assertThat(upstreams.connectionOptions(snap, BACKEND)).isEqualTo(
                new ConnectionOptions(Duration.ofMillis(500), null, 5_000, 3));
        assertThat(upstreams.retrySlot(snap, BACKEND)).isNotNull();
        assertThat(upstreams.retrySlot(snap, BACKEND)).isNull();
        upstreams.closeDns();
    }

    @Test
    void whichRuleAppliesAndWhatIsWarned() {
        ServiceEntrySpec dns = entry(ServiceEntrySpec.Resolution.DNS, List.of(ep("backend.example.com")));
        Diagnostics d = new Diagnostics();
        TrafficPolicySpec hash = new TrafficPolicySpec(new LoadBalancerSpec(null, new TrafficPolicySpec.ConsistentHashSpec(
                TrafficPolicySpec.HashOn.HEADER, "x-user", null, null, TrafficPolicySpec.HashTable.RING_HASH, 1024), null),
                od(5), List.of());
        ConfigSnapshot snap = snapshot(List.of(dns), List.of(rule("egress", "api.example.com", hash),
                rule("istio-system", "nothing.example.com", TrafficPolicySpec.NONE)), d);
        LbPolicy policy = ServiceEntryEndpoints.of(snap).policy(dns.name(), 80);
        assertThat(policy).isNotNull();
        assertThat(policy.balancer()).isNull(); // LEAST_REQUEST: no hash over answers that change
        assertThat(policy.outlier()).isEqualTo(od(5));
        assertThat(d.problems()).map(Object::toString).containsExactlyInAnyOrder(
                "-: warning: DestinationRule egress/api-rule: spec.trafficPolicy.loadBalancer.consistentHash: not applied to a "
                        + "ServiceEntry with resolution DNS (its endpoints change with each answer); LEAST_REQUEST is used",
                "-: warning: DestinationRule istio-system/api-rule: spec.host: host: nothing.example.com matches no Service "
                        + "or ServiceEntry host in this config");
        // the waypoint's namespace wins over the entry's
        Diagnostics d2 = new Diagnostics();
        ConfigSnapshot two = snapshot(List.of(ENTRY), List.of(rule("egress", "api.example.com", TrafficPolicySpec.NONE),
                rule("istio-system", "api.example.com", new TrafficPolicySpec(null, od(7), List.of()))), d2);
        assertThat(ServiceEntryEndpoints.of(two).policy(ENTRY.name(), 80).outlier()).isEqualTo(od(7));
        assertThat(d2.problems()).map(Object::toString).containsExactly("-: warning: DestinationRule egress/api-rule: "
                + "spec.host: host: api.example.com has another DestinationRule that applies instead: istio-system/api-rule");
    }
}
