package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceEntrySpec.Location;
import dev.waypoint.model.mesh.ServiceEntrySpec.Resolution;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.WorkloadEndpointSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a ServiceEntry port's endpoints are, per resolution, location and endpoint source: a
 * table of ServiceEntries and the endpoints (and DNS names) compiled for their port 80.
 */
class ServiceEntryEndpointCompilerTest {
    static final NamespacedName SELF = new NamespacedName("istio-system", "waypoint");
    static final ServicePortSpec HTTP = new ServicePortSpec("http", 80, 8080, null, "http");

    record Case(String name, Location location, Resolution resolution, List<WorkloadEndpointSpec> endpoints,
                Map<String, String> selector, List<String> expectedFixed, List<String> expectedDns) {
        @Override
        public String toString() {
            return name;
        }
    }

    static WorkloadEndpointSpec ep(String address, Map<String, Integer> ports, String sa) {
        boolean ip = Character.isDigit(address.charAt(0));
        return new WorkloadEndpointSpec(address, ip ? HostPort.parseIp(address) : null, ports, Map.of(), sa, 0);
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("static external: plaintext on the target port", Location.MESH_EXTERNAL, Resolution.STATIC,
                        List.of(ep("10.0.0.1", Map.of(), null), ep("10.0.0.2", Map.of("http", 9090), null)), null,
                        List.of("10.0.0.1:8080 (plaintext)", "10.0.0.2:9090 (plaintext)"), List.of()),
                new Case("static internal: hbone with the endpoint's account", Location.MESH_INTERNAL, Resolution.STATIC,
                        List.of(ep("10.0.0.1", Map.of(), "vm"), ep("10.0.0.2", Map.of(), null)), null,
                        List.of("10.0.0.1:8080 (hbone spiffe://cluster.local/ns/egress/sa/vm)",
                                "10.0.0.2:8080 (hbone spiffe://cluster.local/ns/egress/sa/default)"), List.of()),
                new Case("dns without endpoints resolves the hosts", Location.MESH_EXTERNAL, Resolution.DNS, List.of(), null,
                        List.of(), List.of("api.example.com:8080 (plaintext)", "api2.example.com:8080 (plaintext)")),
                new Case("dns endpoints: names resolved, IPs kept", Location.MESH_EXTERNAL, Resolution.DNS,
                        List.of(ep("backend.example.com", Map.of("http", 8443), null), ep("10.0.0.3", Map.of(), null)), null,
                        List.of("10.0.0.3:8080 (plaintext)"), List.of("backend.example.com:8443 (plaintext)")),
                new Case("none: nothing compiled (the original destination)", Location.MESH_EXTERNAL, Resolution.NONE,
                        List.of(), null, List.of(), List.of()),
                new Case("selector external: matching ready pods and workload entries", Location.MESH_EXTERNAL,
                        Resolution.STATIC, List.of(), Map.of("app", "legacy"),
                        List.of("10.1.0.1:8080 (plaintext)", "10.2.0.1:7070 (plaintext)"), List.of()),
                new Case("selector internal: pod and workload-entry identities", Location.MESH_INTERNAL,
                        Resolution.STATIC, List.of(), Map.of("app", "legacy"),
                        List.of("10.1.0.1:8080 (hbone spiffe://cluster.local/ns/egress/sa/legacy-pod)",
                                "10.2.0.1:7070 (hbone spiffe://cluster.local/ns/egress/sa/legacy-vm)"), List.of()));
    }

    static ResourceSet resources(Case c) {
        ServiceEntrySpec se = new ServiceEntrySpec(new NamespacedName("egress", "api"), Map.of(),
                List.of("api.example.com", "api2.example.com"), List.of(HostPort.parseIp("240.240.0.1")), List.of(HTTP),
                c.location(), c.resolution(), c.endpoints(), c.selector(), SourceRef.NONE);
        List<PodSpec> pods = List.of(
                new PodSpec(new NamespacedName("egress", "legacy"), Map.of("app", "legacy"), "legacy-pod",
                        HostPort.parseIp("10.1.0.1"), true, Map.of(), SourceRef.NONE),
                new PodSpec(new NamespacedName("egress", "not-ready"), Map.of("app", "legacy"), "legacy-pod",
                        HostPort.parseIp("10.1.0.2"), false, Map.of(), SourceRef.NONE),
                new PodSpec(new NamespacedName("other", "legacy"), Map.of("app", "legacy"), "legacy-pod",
                        HostPort.parseIp("10.1.0.3"), true, Map.of(), SourceRef.NONE),
                new PodSpec(new NamespacedName("egress", "web"), Map.of("app", "web"), "web",
                        HostPort.parseIp("10.1.0.4"), true, Map.of(), SourceRef.NONE));
        List<WorkloadEntrySpec> wes = List.of(
                new WorkloadEntrySpec(new NamespacedName("egress", "vm"), Map.of(),
                        new WorkloadEndpointSpec("10.2.0.1", HostPort.parseIp("10.2.0.1"), Map.of("http", 7070),
                                Map.of("app", "legacy"), "legacy-vm", 0), SourceRef.NONE),
                new WorkloadEntrySpec(new NamespacedName("egress", "vm-other"), Map.of(),
                        new WorkloadEndpointSpec("10.2.0.2", HostPort.parseIp("10.2.0.2"), Map.of(), Map.of("app", "other"),
                                null, 0), SourceRef.NONE));
        return ResourceSet.builder(SELF, "cluster.local")
                .namespaces(List.of(new NamespaceSpec("egress", Map.of(), SourceRef.NONE)))
                .pods(pods).workloadEntries(wes).serviceEntries(List.of(se)).build();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void endpoints(Case c) {
        ServiceEntryEndpoints table = new ServiceEntryEndpointCompiler().compile(resources(c), new Diagnostics());
        NamespacedName se = new NamespacedName("egress", "api");
        assertThat(table.fixed(se, 80).stream().map(Endpoint::toString).toList()).containsExactlyElementsOf(c.expectedFixed());
        assertThat(table.dns(se, 80).stream().map(Object::toString).toList()).containsExactlyElementsOf(c.expectedDns());
        assertThat(table.fixed(se, 81)).isEmpty();
    }
}
