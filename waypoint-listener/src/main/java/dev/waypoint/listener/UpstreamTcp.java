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
     * As {@link #connect(ConfigSnapshot, TunnelContext, EventLoop)}, recording the endpoint it
     * picks in {@code outcome} (telemetry's destination labels). The default records nothing.
     */
    default Future<Channel> connect(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop,
                                    dev.waypoint.model.request.TcpOutcome outcome) {
        return connect(snapshot, tunnel, loop);
    }
}
