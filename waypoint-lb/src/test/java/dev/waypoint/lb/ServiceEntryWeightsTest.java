package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.WorkloadEndpointSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import dev.waypoint.model.request.RouteSelection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * ServiceEntry endpoint and WorkloadEntry {@code weight} in the endpoint pick (Envoy's
 * {@code load_balancing_weight}): statistical, 20,000 picks, ±2 percentage points.
 */
class ServiceEntryWeightsTest {
    static final ServicePortSpec HTTP = new ServicePortSpec("http", 80, 8080, null, "http");

    static WorkloadEndpointSpec ep(String ip, int weight) {
        return new WorkloadEndpointSpec(ip, HostPort.parseIp(ip), Map.of(), Map.of("app", "w"), null, weight);
    }

    static ServiceEntrySpec entry(String name, List<WorkloadEndpointSpec> endpoints, Map<String, String> selector) {
        return new ServiceEntrySpec(new NamespacedName("egress", name), Map.of(), List.of(name + ".example.com"),
                List.of(HostPort.parseIp("240.240.0.1")), List.of(HTTP), ServiceEntrySpec.Location.MESH_EXTERNAL,
                ServiceEntrySpec.Resolution.STATIC, endpoints, selector, SourceRef.NONE);
    }

    static final ServiceEntrySpec WEIGHTED = entry("weighted", List.of(ep("10.0.0.1", 6), ep("10.0.0.2", 3), ep("10.0.0.3", 0)), null);
    static final ServiceEntrySpec EQUAL = entry("equal", List.of(ep("10.0.0.1", 2), ep("10.0.0.2", 2)), null);
    static final ServiceEntrySpec SELECTED = entry("selected", List.of(), Map.of("app", "w"));

    static ConfigSnapshot snapshot() {
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .serviceEntries(List.of(WEIGHTED, EQUAL, SELECTED))
                .workloadEntries(List.of(
                        new WorkloadEntrySpec(new NamespacedName("egress", "vm-1"), Map.of(), ep("10.2.0.1", 1), SourceRef.NONE),
                        new WorkloadEntrySpec(new NamespacedName("egress", "vm-2"), Map.of(), ep("10.2.0.2", 4), SourceRef.NONE)))
                .build();
        return ConfigSnapshot.compile(0, rs, List.of(new ServiceEntryEndpointCompiler()), new Diagnostics());
    }

    static Map<String, Integer> picks(ServiceEntrySpec se, int n) {
        ConfigSnapshot snap = snapshot();
        Map<String, Integer> counts = new HashMap<>();
        try (ServiceEntryPicks picks = new ServiceEntryPicks(new DnsEndpoints(List.of(), System::nanoTime))) {
            RouteSelection.ServiceEntryBackend b = new RouteSelection.ServiceEntryBackend(se, HTTP, null);
            EndpointPicker rr = EndpointPickers.roundRobin();
            for (int i = 0; i < n; i++) {
                Endpoint e = (Endpoint) picks.pick(snap, b, rr, null, null);
                counts.merge(e.address().toString(), 1, Integer::sum);
            }
        }
        return counts;
    }

    @Test
    void staticEndpointsArePickedInProportionToTheirWeightUnsetCountsOne() {
        Map<String, Integer> c = picks(WEIGHTED, 20_000);
        assertThat(c.get("10.0.0.1:8080") / 20_000.0).isBetween(0.58, 0.62);
        assertThat(c.get("10.0.0.2:8080") / 20_000.0).isBetween(0.28, 0.32);
        assertThat(c.get("10.0.0.3:8080") / 20_000.0).isBetween(0.08, 0.12);
    }

    @Test
    void workloadEntriesCarryTheirWeight() {
        Map<String, Integer> c = picks(SELECTED, 20_000);
        assertThat(c.get("10.2.0.2:8080") / 20_000.0).isBetween(0.78, 0.82);
    }

    @Test
    void equalWeightsLeaveThePickToThePortsBalancer() {
        // round robin: exact alternation, which a weighted draw would not give
        assertThat(picks(EQUAL, 10)).containsEntry("10.0.0.1:8080", 5).containsEntry("10.0.0.2:8080", 5);
        ServiceEntryEndpoints t = snapshot().part(ServiceEntryEndpoints.PART);
        assertThat(t.weights(EQUAL.name(), 80)).isNull();
        assertThat(t.debug(WEIGHTED.name(), 80)).containsExactly("10.0.0.1:8080 (plaintext) weight 6",
                "10.0.0.2:8080 (plaintext) weight 3", "10.0.0.3:8080 (plaintext) weight 1");
        assertThat(t.debug()).containsEntry("egress/equal:80", List.of("10.0.0.1:8080 (plaintext)", "10.0.0.2:8080 (plaintext)"));
    }
}
