package dev.waypoint.listener.target;

import static dev.waypoint.listener.target.TargetTableCompilerTest.SELF;
import static dev.waypoint.listener.target.TargetTableCompilerTest.USE;
import static dev.waypoint.listener.target.TargetTableCompilerTest.USE_NS;
import static dev.waypoint.listener.target.TargetTableCompilerTest.labels;
import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.Target;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ServiceEntries bind as Services do ("istio.io/use-waypoint on Pod, WorkloadEntry, Service,
 * ServiceEntry, Namespace"), by their {@code addresses} and {@code ports}: a truth table.
 */
class ServiceEntryTargetTest {
    static final String ADDRESS = "240.240.0.1";

    record Case(String name, Map<String, String> entryLabels, Map<String, String> namespaceLabels, String waypointFor,
                String authority, boolean bound, String why) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        Map<String, String> none = Map.of();
        Map<String, String> useHere = labels(USE, "waypoint", USE_NS, "istio-system");
        return Stream.of(
                new Case("entry label binds", useHere, none, null, ADDRESS + ":443", true, null),
                new Case("namespace label binds", none, useHere, null, ADDRESS + ":443", true, null),
                new Case("waypoint-for all binds", useHere, none, "all", ADDRESS + ":443", true, null),
                new Case("waypoint-for workload refuses", useHere, none, "workload", ADDRESS + ":443", false,
                        "ServiceEntry egress/api uses this waypoint, but it serves istio.io/waypoint-for=workload"),
                new Case("no label", none, none, null, ADDRESS + ":443", false,
                        "ServiceEntry egress/api has no istio.io/use-waypoint label"),
                new Case("opts out", labels(USE, "none"), useHere, null, ADDRESS + ":443", false, "opts out"),
                new Case("another waypoint", labels(USE, "other", USE_NS, "istio-system"), none, null, ADDRESS + ":443",
                        false, "uses waypoint istio-system/other"),
                new Case("a port it does not declare", useHere, none, null, ADDRESS + ":80", false,
                        "is an address of ServiceEntry egress/api but port 80 is not one of its ports"),
                new Case("another address", useHere, none, null, "240.240.0.9:443", false, "not a Service VIP or Pod IP"));
    }

    static ResourceSet resources(Case c, List<ServiceSpec> services) {
        Map<String, String> gwLabels = c.waypointFor() == null ? Map.of() : Map.of("istio.io/waypoint-for", c.waypointFor());
        GatewaySpec gw = new GatewaySpec(SELF, "istio-waypoint", gwLabels,
                List.of(new GatewaySpec.Listener("mesh", 15008, "HBONE")), "All", LabelSelector.EVERYTHING, SourceRef.NONE);
        ServiceEntrySpec se = new ServiceEntrySpec(new NamespacedName("egress", "api"), c.entryLabels(),
                List.of("api.example.com"), List.of(HostPort.parseIp(ADDRESS)),
                List.of(new ServicePortSpec("tls", 443, 443, null, "tls")), ServiceEntrySpec.Location.MESH_EXTERNAL,
                ServiceEntrySpec.Resolution.DNS, List.of(), null, SourceRef.NONE);
        return ResourceSet.builder(SELF, "cluster.local")
                .namespaces(List.of(new NamespaceSpec("egress", c.namespaceLabels(), SourceRef.NONE)))
                .gateways(List.of(gw)).services(services).serviceEntries(List.of(se)).build();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void binding(Case c) {
        Diagnostics diagnostics = new Diagnostics();
        TargetTable table = new TargetTableCompiler().compile(resources(c, List.of()), diagnostics);
        Object result = TargetResolver.resolve(c.authority(), table);
        if (c.bound()) {
            assertThat(result).isInstanceOf(Target.ServiceEntryTarget.class);
            Target.ServiceEntryTarget t = (Target.ServiceEntryTarget) result;
            assertThat(t.entry().host()).isEqualTo("api.example.com");
            assertThat(t.protocol()).isEqualTo(AppProtocol.TCP);
            assertThat(table.debugServiceEntries()).containsEntry(ADDRESS + ":443", "egress/api api.example.com (tcp, dns)");
            assertThat(diagnostics.problems()).anySatisfy(p -> assertThat(p.toString()).contains("bound to this waypoint"));
        } else {
            assertThat(result).isInstanceOf(Rejection.class);
            assertThat(((Rejection) result).reason()).isEqualTo(Rejection.Reason.NOT_BOUND);
            assertThat(((Rejection) result).message()).contains(c.why());
        }
    }

    @Test
    void aServiceWithTheSameVipWins() {
        Case c = cases().findFirst().orElseThrow();
        ServiceSpec svc = new ServiceSpec(new NamespacedName("egress", "svc"), labels(USE, "waypoint", USE_NS, "istio-system"),
                List.of(HostPort.parseIp(ADDRESS)), List.of(new ServicePortSpec("tls", 443, 443, null, null)), Map.of(),
                SourceRef.NONE);
        Diagnostics diagnostics = new Diagnostics();
        TargetTable table = new TargetTableCompiler().compile(resources(c, List.of(svc)), diagnostics);
        assertThat(TargetResolver.resolve(ADDRESS + ":443", table)).isInstanceOf(Target.ServiceTarget.class);
        assertThat(diagnostics.problems()).anySatisfy(p -> assertThat(p.toString())
                .contains("ServiceEntry egress/api").contains("the Service wins"));
    }
}
