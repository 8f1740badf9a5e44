package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class EndpointCompilerTest {
    static final NamespacedName SVC = new NamespacedName("apps", "web");

    static PodSpec pod(String name, String ip, Map<String, String> labels, boolean ready, Map<String, Integer> ports) {
        return new PodSpec(new NamespacedName("apps", name), labels, "web-sa", ip == null ? null : HostPort.parseIp(ip), ready,
                ports, SourceRef.NONE);
    }

    static ResourceSet set(List<NamespaceSpec> ns, List<ServiceSpec> svcs, List<PodSpec> pods, List<EndpointSliceSpec> slices) {
        return ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").namespaces(ns).services(svcs).pods(pods).endpointSlices(slices).build();
    }

    static ServiceSpec service(ServicePortSpec port, Map<String, String> selector) {
        return new ServiceSpec(SVC, Map.of(), List.of(HostPort.parseIp("10.96.0.1")), List.of(port), selector, SourceRef.NONE);
    }

    record Case(String name, String nsMode, Map<String, String> podLabels, boolean ready, String ip, ServicePortSpec port,
                String expectedAddress, boolean expectedMesh) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        ServicePortSpec numeric = new ServicePortSpec("http", 80, 8080, null, null);
        ServicePortSpec named = new ServicePortSpec("http", 80, 0, "web-port", null);
        Map<String, String> app = Map.of("app", "web");
        return Stream.of(
                new Case("ambient namespace, numeric target port", "ambient", app, true, "10.0.0.1", numeric, "10.0.0.1:8080", true),
                new Case("named target port resolved on the pod", "ambient", app, true, "10.0.0.1", named, "10.0.0.1:9000", true),
                new Case("pod opts out of ambient", "ambient", Map.of("app", "web", "istio.io/dataplane-mode", "none"), true,
                        "10.0.0.1", numeric, "10.0.0.1:8080", false),
                new Case("pod opts in without namespace", null, Map.of("app", "web", "istio.io/dataplane-mode", "ambient"),
                        true, "10.0.0.1", numeric, "10.0.0.1:8080", true),
                new Case("namespace not in the mesh", null, app, true, "10.0.0.1", numeric, "10.0.0.1:8080", false),
                new Case("not ready pods are no endpoints", "ambient", app, false, "10.0.0.1", numeric, null, false),
                new Case("pods without an IP are no endpoints", "ambient", app, true, null, numeric, null, false),
                new Case("selector must match", "ambient", Map.of("app", "other"), true, "10.0.0.1", numeric, null, false),
                new Case("named port missing on the pod", "ambient", app, true, "10.0.0.1",
                        new ServicePortSpec("http", 80, 0, "nope", null), null, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void selectorServices(Case c) {
        List<NamespaceSpec> ns = c.nsMode() == null ? List.of()
                : List.of(new NamespaceSpec("apps", Map.of("istio.io/dataplane-mode", c.nsMode()), SourceRef.NONE));
        PodSpec p = pod("web-1", c.ip(), c.podLabels(), c.ready(), Map.of("web-port", 9000));
        EndpointTable table = new EndpointCompiler().compile(set(ns, List.of(service(c.port(), Map.of("app", "web"))),
                List.of(p), List.of()), new Diagnostics());
        List<Endpoint> eps = table.endpoints(SVC, 80);
        if (c.expectedAddress() == null) {
            assertThat(eps).isEmpty();
            return;
        }
        assertThat(eps).singleElement().satisfies(e -> {
            assertThat(e.address().authority()).isEqualTo(c.expectedAddress());
            assertThat(e.inMesh()).isEqualTo(c.expectedMesh());
            if (c.expectedMesh()) {
                assertThat(e.identity()).isEqualTo(new SpiffeId("cluster.local", "apps", "web-sa"));
            }
        });
    }

    /** What a Pod is besides its labels and readiness; {@code PLAIN} is an ordinary pod. */
    record Pod(boolean ready, boolean terminating, boolean hostNetwork, boolean sidecar, boolean redirected) {
        static final Pod PLAIN = new Pod(true, false, false, false, false);
    }

    /**
     * A row of the endpoint decision: is the pod an endpoint of its Service, and is it reached over
     * HBONE (as an endpoint, and when addressed itself).
     */
    record Decision(String name, String nsMode, String podMode, Pod pod, boolean endpoint, boolean hbone) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Decision> decisions() {
        Pod plain = Pod.PLAIN;
        Pod terminating = new Pod(true, true, false, false, false);
        Pod hostNetwork = new Pod(true, false, true, false, false);
        Pod sidecar = new Pod(true, false, false, true, false);
        Pod redirected = new Pod(true, false, false, false, true);
        return Stream.of(
                // Istio workloads.go: "!IsPodReady(p) || p.DeletionTimestamp != nil" -> UNHEALTHY
                new Decision("ready and running: endpoint, HBONE", "ambient", null, plain, true, true),
                new Decision("terminating though Ready=True: no endpoint", "ambient", null, terminating, false, true),
                new Decision("terminating outside the mesh: no endpoint", null, null, terminating, false, false),
                new Decision("terminating and not ready: no endpoint", "ambient", null,
                        new Pod(false, true, false, false, false), false, true),
                // enablement_selector.go Matches: hostNetwork and sidecar pods are never captured
                new Decision("hostNetwork in an ambient namespace: plaintext", "ambient", null, hostNetwork, true, false),
                new Decision("hostNetwork labelled ambient itself: plaintext", null, "ambient", hostNetwork, true, false),
                new Decision("hostNetwork annotated redirected: plaintext", "ambient", null,
                        new Pod(true, false, true, false, true), true, false),
                new Decision("sidecar in an ambient namespace: plaintext", "ambient", null, sidecar, true, false),
                new Decision("sidecar labelled ambient itself: plaintext", null, "ambient", sidecar, true, false),
                // setTunnelProtocol: ambient.istio.io/redirection: enabled -> HBONE
                new Decision("CNI redirected without any label: HBONE", null, null, redirected, true, true),
                // values.yaml enablementSelectors: pod ambient, or pod NotIn [none] in an ambient namespace
                new Decision("pod value none opts out", "ambient", "none", plain, true, false),
                new Decision("pod value other than none keeps the namespace's", "ambient", "unknown", plain, true, true),
                new Decision("pod value other than ambient alone: plaintext", null, "unknown", plain, true, false),
                new Decision("namespace none, pod ambient: HBONE", "none", "ambient", plain, true, true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("decisions")
    void endpointDecision(Decision c) {
        List<NamespaceSpec> ns = c.nsMode() == null ? List.of()
                : List.of(new NamespaceSpec("apps", Map.of("istio.io/dataplane-mode", c.nsMode()), SourceRef.NONE));
        Map<String, String> labels = new java.util.HashMap<>(Map.of("app", "web"));
        if (c.podMode() != null) {
            labels.put("istio.io/dataplane-mode", c.podMode());
        }
        Pod f = c.pod();
        PodSpec p = new PodSpec(new NamespacedName("apps", "web-1"), labels, "web-sa", HostPort.parseIp("10.0.0.1"),
                f.ready(), Map.of(), SourceRef.NONE, null, f.terminating(), f.hostNetwork(), f.sidecar(), f.redirected());
        ServicePortSpec port = new ServicePortSpec("http", 80, 8080, null, null);
        EndpointTable table = new EndpointCompiler().compile(set(ns, List.of(service(port, Map.of("app", "web"))),
                List.of(p), List.of()), new Diagnostics());

        List<Endpoint> eps = table.endpoints(SVC, 80);
        assertThat(table.inMesh(p.name())).as("pod reached over HBONE").isEqualTo(c.hbone());
        if (!c.endpoint()) {
            assertThat(eps).isEmpty();
            return;
        }
        assertThat(eps).singleElement().satisfies(e -> {
            assertThat(e.address().authority()).isEqualTo("10.0.0.1:8080");
            assertThat(e.inMesh()).as("HBONE").isEqualTo(c.hbone());
            assertThat(e.identity()).isEqualTo(c.hbone() ? new SpiffeId("cluster.local", "apps", "web-sa") : null);
        });
    }

    @Test
    void aTerminatingOrHostNetworkPodNamedByASliceIsReachedAsTheSliceAndPodSay() {
        // the slice's conditions.ready decides (Istio endpointslice.go endpointHealthStatus); the
        // pod decides HBONE: a hostNetwork pod has no ztunnel in front of it
        ServiceSpec svc = service(new ServicePortSpec("http", 80, 8080, null, null), null);
        PodSpec host = new PodSpec(new NamespacedName("apps", "host-1"), Map.of(), "web-sa",
                HostPort.parseIp("192.168.0.7"), true, Map.of(), SourceRef.NONE, null, false, true, false, false);
        EndpointSliceSpec slice = new EndpointSliceSpec(new NamespacedName("apps", "web-abc"), SVC, List.of(
                new EndpointSliceSpec.Endpoint(List.of(HostPort.parseIp("192.168.0.7")), true, host.name()),
                new EndpointSliceSpec.Endpoint(List.of(HostPort.parseIp("10.0.0.9")), false, null)),
                List.of(new EndpointSliceSpec.Port("http", 8443, null)), SourceRef.NONE);
        EndpointTable table = new EndpointCompiler().compile(set(
                List.of(new NamespaceSpec("apps", Map.of("istio.io/dataplane-mode", "ambient"), SourceRef.NONE)),
                List.of(svc), List.of(host), List.of(slice)), new Diagnostics());
        assertThat(table.endpoints(SVC, 80)).extracting(e -> e.address().authority() + (e.inMesh() ? " hbone" : " plain"))
                .containsExactly("192.168.0.7:8443 plain");
    }

    @Test
    void endpointSlicesServeServicesWithoutSelector() {
        ServiceSpec svc = service(new ServicePortSpec("http", 80, 8080, null, null), null);
        PodSpec meshPod = pod("web-1", "10.0.0.1", Map.of(), true, Map.of());
        EndpointSliceSpec slice = new EndpointSliceSpec(new NamespacedName("apps", "web-abc"), SVC, List.of(
                new EndpointSliceSpec.Endpoint(List.of(HostPort.parseIp("10.0.0.1")), true, meshPod.name()),
                new EndpointSliceSpec.Endpoint(List.of(HostPort.parseIp("192.168.5.5")), true, null),
                new EndpointSliceSpec.Endpoint(List.of(HostPort.parseIp("192.168.5.6")), false, null)),
                List.of(new EndpointSliceSpec.Port("http", 8443, null), new EndpointSliceSpec.Port("other", 1, null)),
                SourceRef.NONE);
        EndpointTable table = new EndpointCompiler().compile(set(
                List.of(new NamespaceSpec("apps", Map.of("istio.io/dataplane-mode", "ambient"), SourceRef.NONE)),
                List.of(svc), List.of(meshPod), List.of(slice)), new Diagnostics());
        assertThat(table.endpoints(SVC, 80)).extracting(e -> e.address().authority() + (e.inMesh() ? " hbone" : " plain"))
                .containsExactly("10.0.0.1:8443 hbone", "192.168.5.5:8443 plain");
    }

    @Test
    void roundRobinVisitsEveryEndpointEvenly() {
        List<Endpoint> eps = List.of(
                new Endpoint(HostPort.parseAuthority("10.0.0.1:80"), null, null),
                new Endpoint(HostPort.parseAuthority("10.0.0.2:80"), null, null),
                new Endpoint(HostPort.parseAuthority("10.0.0.3:80"), null, null));
        EndpointPicker picker = EndpointPickers.roundRobin();
        Set<Endpoint> firstRound = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            firstRound.add(picker.pick(eps, null));
        }
        assertThat(firstRound).hasSize(3);
    }
}
