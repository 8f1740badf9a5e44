package dev.waypoint.listener;

import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.DrainEvent;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends a tunnel when it has been idle too long, when the process drains, and when a new config
 * generation no longer binds its target to this waypoint. Sits right after the idle-state
 * handler of every accepted tunnel.
 *
 * <ul>
 *   <li>Idle (no bytes either way for the tunnel idle timeout): the tunnel is reset.</li>
 *   <li>Drain or unbound, inner HTTP/2: {@code channel().close()} from the tail runs through the
 *       inner codec, which sends GOAWAY and lets open streams finish.</li>
 *   <li>Drain or unbound, HTTP/1.1: passed on ({@link DrainEvent}, {@link Unbound}); the exchange
 *       handler ends the tunnel after the response in flight.</li>
 *   <li>Unbound, TCP: reset at once (a byte stream has no boundary to stop at). Drain leaves
 *       TCP tunnels running until they end or the drain timeout passes.</li>
 *   <li>A TCP tunnel the new generation's AuthorizationPolicies deny ({@link TunnelAuthorizer}):
 *       reset at once, like an unbound one ("Long-lived connections are re-checked when the policy
 *       generation changes", ztunnel {@code PolicyWatcher}). HTTP tunnels need nothing: each
 *       request is decided with the snapshot it pins.</li>
 *   <li>END_STREAM from the client on an inner HTTP/2 connection: the same graceful close.</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * The tunnel's event loop; {@link #recheck} is called there by the listener for every new
 * generation.
 */
final class TunnelLifecycle extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TunnelLifecycle.class);

    /** User event: the tunnel's target is no longer bound to this waypoint; end after what is in flight. */
    static final class Unbound {
        static final Unbound INSTANCE = new Unbound();

        private Unbound() {}
    }

    private final TunnelContext tunnel;
    private final TunnelAuthorizer authorizer;
    private ChannelHandlerContext ctx;
    private InnerProtocol protocol;
    private boolean unbound;

    TunnelLifecycle(TunnelContext tunnel) {
        this(tunnel, TunnelAuthorizer.ALLOW_ALL);
    }

    TunnelLifecycle(TunnelContext tunnel, TunnelAuthorizer authorizer) {
        this.tunnel = tunnel;
        this.authorizer = authorizer;
    }

    /** Called by the sniffer (or the CONNECT handler for TCP) once the inner protocol is known. */
    void protocol(InnerProtocol protocol) {
        this.protocol = protocol;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Re-checks the tunnel against a new generation: still bound, nothing happens; else the
     * tunnel ends as its protocol allows. Call on the tunnel's event loop.
     */
    void recheck(ConfigSnapshot snapshot) {
        if (unbound || ctx == null || ctx.isRemoved() || !ctx.channel().isActive()) {
            return;
        }
        if (!(TargetResolver.resolve(tunnel.target().authority(), snapshot.part(TargetTable.PART)) instanceof Rejection r)) {
            if (protocol == InnerProtocol.TCP) {
                Rejection denied = authorizer.authorize(snapshot, tunnel);
                if (denied != null) {
                    unbound = true;
                    log.info("TCP tunnel to {} ends: generation {} denies it ({})", tunnel.target().authority(),
                            snapshot.generation(), denied.message());
                    ctx.channel().close(); // a reset: a byte stream has no boundary to stop at
                }
            }
            return;
        }
        unbound = true;
        log.info("tunnel to {} ends: generation {} no longer binds it ({})", tunnel.target().authority(),
                snapshot.generation(), r.message());
        Channel ch = ctx.channel();
        if (protocol == null || protocol == InnerProtocol.TCP) {
            ch.close(); // TCP: a reset; not even sniffed yet: nothing in flight
        } else if (protocol == InnerProtocol.HTTP2) {
            ch.close(); // through the inner codec: GOAWAY, open streams finish
        } else {
            ctx.fireUserEventTriggered(Unbound.INSTANCE);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            ctx.channel().close();
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent && protocol == InnerProtocol.HTTP2) {
            // the client ended its side of an h2c tunnel: no new inner streams can come; the inner
            // codec's graceful close lets open streams finish, then the tunnel ends with END_STREAM
            ctx.channel().close();
            return;
        }
        if (evt instanceof DrainEvent) {
            if (protocol == InnerProtocol.HTTP2 || protocol == null) {
                ctx.channel().close(); // GOAWAY; or not even a first byte yet: nothing in flight
                return;
            }
        }
        super.userEventTriggered(ctx, evt);
    }
}
