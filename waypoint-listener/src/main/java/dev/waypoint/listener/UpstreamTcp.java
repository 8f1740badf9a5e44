package dev.waypoint.listener;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.TunnelContext;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Opens the upstream of a TCP tunnel: an outbound HBONE stream or a plaintext socket to one
 * endpoint of the target. Implemented by the load-balancing module, wired by the server.
 */
@FunctionalInterface
public interface UpstreamTcp {
    /**
     * Connects, on {@code loop}, to an endpoint of {@code tunnel.target()} picked from
     * {@code snapshot}. The returned channel speaks {@code ByteBuf}s (an HBONE stream comes with
     * its frame adapter) and has {@code AUTO_READ} off. A failed future carries a
     * {@link dev.waypoint.model.request.RejectedException} with the status to answer.
     */
    Future<Channel> connect(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop);

    /**
     * Whether connections of {@code tunnel} are routed by the SNI of their TLS ClientHello
     * (TLSRoutes attach to its port): then the CONNECT is answered first, the ClientHello read
     * inside the tunnel without terminating TLS, and {@link #connectBySni} called. Default: never.
     */
    default boolean routesBySni(ConfigSnapshot snapshot, TunnelContext tunnel) {
        return false;
    }

    /**
     * Connects for a ClientHello naming {@code sni} (null when it names none, or the bytes were
     * not TLS). A failed future closes the tunnel ("a ClientHello without a matching SNI is
     * closed"). Default: as {@link #connect}.
     */
    default Future<Channel> connectBySni(ConfigSnapshot snapshot, TunnelContext tunnel, String sni, EventLoop loop) {
        return connect(snapshot, tunnel, loop);
    }
}
