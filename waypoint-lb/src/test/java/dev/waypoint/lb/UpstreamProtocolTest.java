package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The upstream HTTP version: the backend's declared protocol, the client's only for undeclared ports. */
class UpstreamProtocolTest {
    private static final ServicePortSpec ADDRESSED = new ServicePortSpec("http", 80, 8080, null, "http");

    @ParameterizedTest(name = "backend appProtocol {0} (name {1}), h2 client {2} -> h2 {3}")
    @CsvSource(nullValues = "-", value = {
            "kubernetes.io/h2c, -, false, true",
            "http2, -, false, true",
            "grpc, -, false, true",
            "-, grpc-api, false, true",
            "-, http2-x, false, true",
            "http, -, true, false",
            "kubernetes.io/ws, -, true, false",
            "-, http-web, true, false",
            "-, -, true, true",
            "-, -, false, false",
            "-, web, true, true"})
    void serviceBackends(String appProtocol, String portName, boolean h2Client, boolean h2Upstream) {
        ServicePortSpec backendPort = new ServicePortSpec(portName, 7070, 7070, null, appProtocol);
        ServiceSpec backend = service("backend", backendPort);
        ServiceSpec addressed = service("front", ADDRESSED);
        Target target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), addressed, ADDRESSED);
        // the backendRef's Service port decides, not the port the client addressed
        assertThat(UpstreamProtocol.h2(new RouteSelection.ServiceBackend(backend, backendPort), target, h2Client))
                .isEqualTo(h2Upstream);
    }

    @ParameterizedTest(name = "pod target declared {0}, h2 client {1} -> h2 {2}")
    @CsvSource({"HTTP, true, false", "HTTP2, false, true", "GRPC, false, true", "AUTO, true, true", "AUTO, false, false"})
    void podBackendsTakeTheTargetPortsProtocol(AppProtocol declared, boolean h2Client, boolean h2Upstream) {
        PodSpec pod = new PodSpec(new NamespacedName("apps", "p"), Map.of(), "sa", HostPort.parseIp("10.0.0.1"), true, Map.of(),
                SourceRef.NONE);
        Target target = new Target.WorkloadTarget(HostPort.parseAuthority("10.0.0.1:8080"), pod, declared);
        assertThat(UpstreamProtocol.h2(new RouteSelection.PodBackend(pod, 8080), target, h2Client)).isEqualTo(h2Upstream);
    }

    /** A ServiceEntry named by a backendRef or a RequestMirror: its port's {@code protocol} decides, as a Service port's does. */
    @ParameterizedTest(name = "entry port protocol {0}, h2 client {1} -> h2 {2}")
    @CsvSource(nullValues = "-", value = {"HTTP2, false, true", "GRPC, false, true", "HTTP, true, false", "-, true, true",
            "-, false, false"})
    void serviceEntryBackendsTakeTheirPortsProtocol(String protocol, boolean h2Client, boolean h2Upstream) {
        ServicePortSpec port = new ServicePortSpec("", 9000, 9000, null, protocol);
        dev.waypoint.model.mesh.ServiceEntrySpec entry = new dev.waypoint.model.mesh.ServiceEntrySpec(
                new NamespacedName("egress", "audit"), Map.of(), List.of("audit.example.test"), List.of(), List.of(port),
                dev.waypoint.model.mesh.ServiceEntrySpec.Location.MESH_EXTERNAL,
                dev.waypoint.model.mesh.ServiceEntrySpec.Resolution.STATIC, List.of(), null, SourceRef.NONE);
        // addressed: a Service port declared HTTP/1.1; the entry the route names decides
        Target target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), service("front", ADDRESSED), ADDRESSED);
        assertThat(UpstreamProtocol.h2(new RouteSelection.ServiceEntryBackend(entry, port, null), target, h2Client))
                .isEqualTo(h2Upstream);
    }

    /**
     * The DestinationRule's {@code connectionPool.http} over the declared protocol (Istio's
     * {@code shouldH2Upgrade} and {@code setUseDownstreamProtocol}).
     */
    @ParameterizedTest(name = "port {0}, h2UpgradePolicy {1}, useClientProtocol {2}, h2 client {3}, websocket {4} -> h2 {5}")
    @CsvSource(nullValues = "-", value = {
            // UPGRADE: HTTP/1.1 clients go upstream as h2c, on a declared HTTP port and a sniffed one
            "http, UPGRADE, false, false, false, true",
            "-, UPGRADE, false, false, false, true",
            // ... but a WebSocket handshake keeps HTTP/1.1 (no extended CONNECT upstream)
            "http, UPGRADE, false, false, true, false",
            // DO_NOT_UPGRADE and DEFAULT leave the declared protocol
            "http, DO_NOT_UPGRADE, false, false, false, false",
            "http, DEFAULT, false, false, false, false",
            "grpc, DO_NOT_UPGRADE, false, false, false, true",
            "-, DO_NOT_UPGRADE, false, true, false, true",
            // useClientProtocol: the client's version, whatever the port declares
            "grpc, DEFAULT, true, false, false, false",
            "grpc, DEFAULT, true, true, false, true",
            "http, DEFAULT, true, true, false, true",
            "http, DEFAULT, true, false, false, false"})
    void destinationRuleConnectionPool(String appProtocol, dev.waypoint.model.traffic.TrafficPolicySpec.H2Upgrade upgrade,
                                       boolean clientProtocol, boolean h2Client, boolean webSocket, boolean h2Upstream) {
        ServicePortSpec port = new ServicePortSpec("web", 7070, 7070, null, appProtocol);
        ServiceSpec backend = service("backend", port);
        Target target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:7070"), backend, port);
        var pool = new dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec(0, 0, 0, 0, 0, null, null, null,
                null, null, upgrade, clientProtocol, 0, null);
        assertThat(UpstreamProtocol.h2(new RouteSelection.ServiceBackend(backend, port), target, h2Client, pool, webSocket))
                .isEqualTo(h2Upstream);
    }

    /**
     * The MeshConfig's {@code h2UpgradePolicy: UPGRADE} under the DestinationRule: ports declaring
     * HTTP only, the rule's own policy and {@code useClientProtocol} first (Istio's {@code shouldH2Upgrade}).
     */
    @ParameterizedTest(name = "port {0}, rule h2UpgradePolicy {1}, useClientProtocol {2}, h2 client {3}, websocket {4}, mesh UPGRADE {5} -> h2 {6}")
    @CsvSource(nullValues = "-", value = {
            // no rule (DEFAULT): the mesh upgrades a declared HTTP port ...
            "http, DEFAULT, false, false, false, true, true",
            "http, DEFAULT, false, false, false, false, false",
            // ... not a sniffed one (the client's protocol), and not a WebSocket handshake
            "-, DEFAULT, false, false, false, true, false",
            "-, DEFAULT, false, true, false, true, true",
            "http, DEFAULT, false, false, true, true, false",
            // a TCP port is not HTTP: no upgrade, whatever the mesh says
            "tcp, DEFAULT, false, false, false, true, false",
            // the rule's DO_NOT_UPGRADE and useClientProtocol win over the mesh
            "http, DO_NOT_UPGRADE, false, false, false, true, false",
            "http, DEFAULT, true, false, false, true, false"})
    void meshConfigH2UpgradePolicy(String appProtocol, dev.waypoint.model.traffic.TrafficPolicySpec.H2Upgrade upgrade,
                                   boolean clientProtocol, boolean h2Client, boolean webSocket, boolean meshUpgrade,
                                   boolean h2Upstream) {
        ServicePortSpec port = new ServicePortSpec("web", 7070, 7070, null, appProtocol);
        ServiceSpec backend = service("backend", port);
        Target target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:7070"), backend, port);
        var pool = new dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec(0, 0, 0, 0, 0, null, null, null,
                null, null, upgrade, clientProtocol, 0, null);
        assertThat(UpstreamProtocol.h2(new RouteSelection.ServiceBackend(backend, port), target, h2Client, pool, webSocket,
                meshUpgrade)).isEqualTo(h2Upstream);
        if (upgrade == dev.waypoint.model.traffic.TrafficPolicySpec.H2Upgrade.DEFAULT && !clientProtocol) {
            // no DestinationRule at all: the same answer
            assertThat(UpstreamProtocol.h2(new RouteSelection.ServiceBackend(backend, port), target, h2Client, null,
                    webSocket, meshUpgrade)).isEqualTo(h2Upstream);
        }
    }

    /** The mesh's UPGRADE leaves a pod-addressed request as it would be without it (Istio's encap cluster). */
    @ParameterizedTest(name = "h2 client {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void meshConfigH2UpgradePolicyLeavesPodAddressedRequests(boolean h2Client) {
        dev.waypoint.model.mesh.PodSpec pod = new dev.waypoint.model.mesh.PodSpec(new NamespacedName("apps", "p"), Map.of(),
                "sa", HostPort.parseIp("10.0.0.1"), true, Map.of(), SourceRef.NONE);
        Target target = new Target.WorkloadTarget(HostPort.parseAuthority("10.0.0.1:8080"), pod,
                dev.waypoint.model.mesh.AppProtocol.HTTP);
        RouteSelection.PodBackend backend = new RouteSelection.PodBackend(pod, 8080);
        assertThat(UpstreamProtocol.h2(backend, target, h2Client, null, false, true))
                .isEqualTo(UpstreamProtocol.h2(backend, target, h2Client, null, false, false));
        if (!h2Client) {
            assertThat(UpstreamProtocol.h2(backend, target, false, null, false, true)).as("HTTP/1.1 stays HTTP/1.1").isFalse();
        }
    }

    private static ServiceSpec service(String name, ServicePortSpec port) {
        return new ServiceSpec(new NamespacedName("apps", name), Map.of(), List.of(HostPort.parseIp("10.96.0.2")), List.of(port),
                Map.of("app", name), SourceRef.NONE);
    }
}
