package dev.waypoint.lb;

import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;

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
 * The backend is the route's: a Service port (an HTTPRoute backendRef may name another Service
 * than the one addressed), a ServiceEntry port ({@code protocol}: a backendRef or mirror may name
 * another entry than the one addressed), or for a pod-addressed request the protocol of the
 * target port. Pure.
 */
final class UpstreamProtocol {
    private UpstreamProtocol() {}

    /** Whether the request goes upstream as h2c. */
    static boolean h2(RouteSelection.Backend backend, Target target, boolean h2Downstream) {
        AppProtocol declared = backend instanceof RouteSelection.ServiceBackend s ? s.port().protocol()
                : backend instanceof RouteSelection.ServiceEntryBackend se ? se.port().protocol() : target.protocol();
        if (declared.isH2()) {
            return true;
        }
        return declared == AppProtocol.AUTO && h2Downstream;
    }
}
