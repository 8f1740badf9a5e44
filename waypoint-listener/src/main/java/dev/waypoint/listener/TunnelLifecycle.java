package dev.waypoint.listener;

import dev.waypoint.transport.DrainEvent;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * Ends a tunnel when it has been idle too long, and starts its graceful end on drain. Sits right
 * after the idle-state handler of every accepted tunnel.
 *
 * <ul>
 *   <li>Idle (no bytes either way for the tunnel idle timeout): the tunnel is reset.</li>
 *   <li>Drain on an inner HTTP/2 connection: {@code channel().close()} from the tail runs through
 *       the inner codec, which sends GOAWAY and waits for its open streams.</li>
 *   <li>END_STREAM from the client on an inner HTTP/2 connection: the same graceful close.</li>
 *   <li>Drain on HTTP/1.1: passed on; the upstream stage ends the tunnel after the current
 *       response. On TCP: nothing (a byte stream has no boundary to stop at).</li>
 * </ul>
 */
final class TunnelLifecycle extends ChannelInboundHandlerAdapter {
    private InnerProtocol protocol;

    /** Called by the sniffer once the inner protocol is known. */
    void protocol(InnerProtocol protocol) {
        this.protocol = protocol;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            ctx.channel().close();
            return;
        }
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent && protocol == InnerProtocol.HTTP2) {
            // the client ended its side of an h2c tunnel: no new inner streams can come; the inner
            // codec's graceful close lets open streams finish, then the tunnel ends with END_STREAM
            ctx.channel().close();
            return;
        }
        if (evt instanceof DrainEvent) {
            if (protocol == InnerProtocol.HTTP2) {
                ctx.channel().close();
                return;
            }
            if (protocol == null) {
                ctx.channel().close(); // not even a first byte yet: nothing in flight
                return;
            }
        }
        super.userEventTriggered(ctx, evt);
    }
}
