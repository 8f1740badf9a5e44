package dev.waypoint.listener;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.HalfClose;
import dev.waypoint.transport.Relay;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.AbstractSniHandler;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS passthrough routed by SNI (TLSRoute): reads the client's ClientHello inside an answered
 * tunnel with Netty's ClientHello parser ({@link AbstractSniHandler}), without terminating TLS,
 * has {@link UpstreamTcp#connectBySni} pick the backend and connect, then relays. The bytes read
 * so far (the ClientHello, and whatever followed it) reach the upstream first and unchanged: the
 * parser only looks at them, and removing it hands them to the relay.
 *
 * <p>A ClientHello whose SNI no route takes, bytes that are not TLS, a ClientHello that does not
 * arrive within {@link #CLIENT_HELLO_TIMEOUT_MILLIS} or is longer than {@link #MAX_CLIENT_HELLO_BYTES},
 * and an upstream that cannot be connected all
 * reset the tunnel ({@code RST_STREAM}): the client sees its connection cut, as with Envoy's
 * filter-chain miss.
 *
 * <h2>Reference counting</h2>
 * The decoder holds the bytes it read until it is removed (then they go to the relay, which
 * writes them upstream) or the stream closes (then the decoder releases them).
 *
 * <h2>Threading</h2>
 * On the tunnel's event loop; the upstream is connected on the same loop ({@link Relay} needs it).
 */
final class SniPassthroughHandler extends AbstractSniHandler<Channel> {
    private static final Logger log = LoggerFactory.getLogger(SniPassthroughHandler.class);
    /** Envoy's {@code listener_filters_timeout} default, which bounds its {@code tls_inspector}. */
    static final long CLIENT_HELLO_TIMEOUT_MILLIS = 15_000;
    /**
     * The largest ClientHello held while waiting for its end (a hello with post-quantum key shares
     * is about 2 KiB; TLS allows 16 MiB). Netty's default is the same today; stated here so the
     * bound on what one tunnel can make the waypoint buffer does not depend on it.
     */
    static final int MAX_CLIENT_HELLO_BYTES = 64 * 1024;

    private final ConfigSnapshot snapshot;
    private final TunnelContext tunnel;
    private final UpstreamTcp upstream;

    SniPassthroughHandler(ConfigSnapshot snapshot, TunnelContext tunnel, UpstreamTcp upstream, long timeoutMillis) {
        super(MAX_CLIENT_HELLO_BYTES, timeoutMillis);
        this.snapshot = snapshot;
        this.tunnel = tunnel;
        this.upstream = upstream;
    }

    @Override
    protected Future<Channel> lookup(ChannelHandlerContext ctx, String hostname) {
        return upstream.connectBySni(snapshot, tunnel, hostname, ctx.channel().eventLoop());
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, String hostname, Future<Channel> future) {
        Channel stream = ctx.channel();
        if (!future.isSuccess()) {
            log.info("TLS tunnel to {} closed (SNI {}): {}", tunnel.target().authority(), hostname == null ? "none" : hostname,
                    future.cause() instanceof RejectedException r ? r.rejection() : future.cause().toString());
            HalfClose.reset(stream);
            return;
        }
        Channel up = future.getNow();
        if (!stream.isActive()) {
            up.close();
            return;
        }
        // the relay goes in behind this handler; removing it then hands the bytes it read to the relay
        Relay.start(stream, up, () -> ctx.pipeline().remove(this));
    }
}
