package dev.waypoint.transport;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/2 keepalive for an HBONE connection, as ztunnel runs it (PING every 10 s, connection
 * closed when an answer takes more than 20 s): a peer that stops answering without a FIN (a
 * frozen node, a dropped path) is found in seconds rather than by TCP's hours-long keepalive, and
 * closing the connection fails its streams so their requests can go elsewhere.
 *
 * <p>Every {@code interval} a PING goes out unless one is already waiting for its ACK; when the
 * ACK of a PING has not come {@code timeout} after it was sent, the connection is closed. Sits
 * right after the {@code Http2FrameCodec} (or the multiplex handler), which answers the peer's
 * PINGs itself and hands ACKs of ours up the pipeline; it consumes those and passes everything
 * else on.
 *
 * <h2>Threading</h2>
 * Confined to the channel's event loop (timers run there), so its fields need no synchronisation.
 */
public final class Http2Keepalive extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Http2Keepalive.class);

    /** ztunnel's values (and Istio's waypoint's): PING every 10 s, give up after 20 s without an answer. */
    public static final Duration INTERVAL = Duration.ofSeconds(10);
    public static final Duration TIMEOUT = Duration.ofSeconds(20);

    private final long intervalNanos;
    private final long timeoutNanos;
    private ScheduledFuture<?> ticker;
    private ScheduledFuture<?> deadline;
    private long outstanding = -1; // the payload of the PING waiting for its ACK, or -1
    private long next;

    /**
     * @param interval time between PINGs (> 0)
     * @param timeout how long a PING may wait for its ACK before the connection is closed (> 0)
     */
    public Http2Keepalive(Duration interval, Duration timeout) {
        Objects.requireNonNull(interval, "interval");
        Objects.requireNonNull(timeout, "timeout");
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("interval: " + interval + " (expected: > 0)");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
        }
        this.intervalNanos = interval.toNanos();
        this.timeoutNanos = timeout.toNanos();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            start(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        start(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        stop();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    private void start(ChannelHandlerContext ctx) {
        if (ticker == null) {
            ticker = ctx.executor().scheduleAtFixedRate(() -> ping(ctx), intervalNanos, intervalNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void stop() {
        if (ticker != null) {
            ticker.cancel(false);
        }
        if (deadline != null) {
            deadline.cancel(false);
        }
    }

    private void ping(ChannelHandlerContext ctx) {
        if (outstanding >= 0 || !ctx.channel().isActive()) {
            return; // the previous one is still waiting: its deadline decides
        }
        long payload = next++;
        outstanding = payload;
        ctx.writeAndFlush(new DefaultHttp2PingFrame(payload, false));
        deadline = ctx.executor().schedule(() -> {
            if (outstanding == payload) {
                log.info("HTTP/2 PING to {} unanswered for {} ms: closing the connection", ctx.channel().remoteAddress(),
                        TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
                ctx.close();
            }
        }, timeoutNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof Http2PingFrame ping && ping.ack()) {
            if (ping.content() == outstanding) {
                outstanding = -1;
                if (deadline != null) {
                    deadline.cancel(false);
                }
            }
            return; // an ACK of ours: nothing downstream wants it
        }
        super.channelRead(ctx, msg);
    }
}
