package dev.waypoint.model.request;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.SpiffeId;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * Everything known about one accepted inbound HBONE tunnel, fixed when its CONNECT is answered:
 * the pinned config generation, the target, the peer. Immutable; shared by every request in the
 * tunnel.
 *
 * @param snapshot the config generation pinned for this tunnel (every stage reads this one)
 * @param target the bound Service port or Pod the CONNECT addressed
 * @param peer the TLS peer's SPIFFE identity (the source workload), or null if it presented none
 * @param peerAddress the TCP peer of the HBONE connection (the source pod in in-pod mode)
 * @param forwarded ztunnel's {@code forwarded} header ({@code for="ip:port"}), or null
 * @param baggage ztunnel's {@code baggage} header (source workload metadata), or null
 * @param traceparent ztunnel's {@code traceparent} header, or null
 */
public record TunnelContext(ConfigSnapshot snapshot, Target target, SpiffeId peer, InetSocketAddress peerAddress,
                            String forwarded, String baggage, String traceparent) {
    public TunnelContext {
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(target, "target");
    }
}
