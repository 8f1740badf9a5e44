package dev.waypoint.lb;

import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.traffic.TrafficPolicySpec;

/**
 * Which HTTP version a request is sent upstream with: what the backend declares, whatever the
 * client spoke (HTTP/1.1 in, h2c out, and the other way). Istio's rule for a waypoint's clusters
 * ({@code cluster_builder.go setUpstreamProtocol}):
 * <ul>
 *   <li>a backend port declaring HTTP/2 ({@code appProtocol} {@code kubernetes.io/h2c}, {@code http2},
 *       {@code grpc}, or an {@code http2-}/{@code grpc-} port name) → h2c with prior knowledge;</li>
 *   <li>a port declaring HTTP ({@code http}, {@code kubernetes.io/ws}, an {@code http-} name) → HTTP/1.1;</li>
 *   <li>a port declaring nothing (protocol sniffed) → the client's protocol
 *       ({@code use_downstream_protocol}, which Istio sets for waypoints and sidecars).</li>
 * </ul>
 * Its DestinationRule's {@code connectionPool.http} goes over that ({@code cluster_traffic_policy.go}):
 * {@code useClientProtocol: true} → the client's protocol, whatever the port declares
 * ({@code setUseDownstreamProtocol}); {@code h2UpgradePolicy: UPGRADE} → h2c for HTTP/1.1 clients too
 * ({@code shouldH2Upgrade}: "If user wants an upgrade at destination rule/port level that means he is
 * sure that it is a Http port"), except for a WebSocket upgrade request, which keeps HTTP/1.1 (this
 * waypoint sends no extended CONNECT upstream; upgrading it would turn the handshake into an
 * ordinary request and break the WebSocket); {@code DO_NOT_UPGRADE} → no upgrade. With neither, the
 * MeshConfig's {@code h2UpgradePolicy: UPGRADE} upgrades HTTP/1.1 requests to ports declaring HTTP
 * (not to undeclared ones: "protocol sniffing uses downstream protocol"), WebSockets again excepted,
 * and only for Service and ServiceEntry backends: a pod-addressed request (Istio's {@code encap}
 * cluster, {@code cluster_waypoint.go}) is not upgraded by it.
 * The backend is the route's: a Service port (an HTTPRoute backendRef may name another Service
 * than the one addressed), a ServiceEntry port ({@code protocol}: a backendRef or mirror may name
 * another entry than the one addressed), or for a pod-addressed request the protocol of the
 * target port. Pure.
 */
final class UpstreamProtocol {
    private UpstreamProtocol() {}

    /** Whether the request goes upstream as h2c, without a DestinationRule {@code connectionPool}. */
    static boolean h2(RouteSelection.Backend backend, Target target, boolean h2Downstream) {
        return h2(backend, target, h2Downstream, null, false, false);
    }

    /** As {@link #h2(RouteSelection.Backend, Target, boolean, TrafficPolicySpec.ConnectionPoolSpec, boolean, boolean)}, the mesh not upgrading. */
    static boolean h2(RouteSelection.Backend backend, Target target, boolean h2Downstream,
                      TrafficPolicySpec.ConnectionPoolSpec pool, boolean webSocket) {
        return h2(backend, target, h2Downstream, pool, webSocket, false);
    }

    /**
     * Whether the request goes upstream as h2c.
     *
     * @param pool the backend port's DestinationRule {@code connectionPool}, or null
     * @param webSocket the request asks for a WebSocket upgrade (never upgraded to h2c by the policy)
     * @param meshUpgrade the MeshConfig's {@code h2UpgradePolicy} is {@code UPGRADE}
     */
    static boolean h2(RouteSelection.Backend backend, Target target, boolean h2Downstream,
                      TrafficPolicySpec.ConnectionPoolSpec pool, boolean webSocket, boolean meshUpgrade) {
        if (pool != null && pool.useClientProtocol()) {
            return h2Downstream;
        }
        AppProtocol declared = backend instanceof RouteSelection.ServiceBackend s ? s.port().protocol()
                : backend instanceof RouteSelection.ServiceEntryBackend se ? se.port().protocol() : target.protocol();
        if (declared.isH2()) {
            return true;
        }
        TrafficPolicySpec.H2Upgrade rule = pool != null ? pool.h2Upgrade() : TrafficPolicySpec.H2Upgrade.DEFAULT;
        if (rule == TrafficPolicySpec.H2Upgrade.UPGRADE && !webSocket) {
            return true;
        }
        // the mesh's policy is for Service (and ServiceEntry) clusters; Istio sends a pod-addressed
        // request through its encap cluster, which the policy does not touch
        boolean serviceCluster = backend instanceof RouteSelection.ServiceBackend
                || backend instanceof RouteSelection.ServiceEntryBackend;
        if (rule == TrafficPolicySpec.H2Upgrade.DEFAULT && meshUpgrade && serviceCluster && declared.isHttp() && !webSocket) {
            return true;
        }
        return declared == AppProtocol.AUTO && h2Downstream;
    }
}
