package dev.waypoint.transport;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.concurrent.Ticker;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Fires {@link IdleStateEvent#ALL_IDLE_STATE_EVENT} (the first time {@link
 * IdleStateEvent#FIRST_ALL_IDLE_STATE_EVENT}) when nothing was read or written for the timeout:
 * what Netty's {@code new IdleStateHandler(0, 0, timeout)} does, for the handlers that close idle
 * connections and tunnels, without its cost on the data path.
 *
 * <p>Netty's handler turns every write's promise into a real one ({@code promise.unvoid()}) and
 * adds a listener to it, to take the time when the write completes: on the product's path that
 * was a promise, a listener registration and its notification for every write on four pipelines
 * (the HBONE connections both ways, each tunnel, each pooled upstream connection). Here a write
 * only sets a flag, and so does a flush that carried writes and a read burst (at {@code
 * channelReadComplete}, as Netty does): a write counts as activity when it is flushed, not when its
 * bytes reached the socket; for an idle timeout (close what has carried nothing for minutes) the two
 * differ only while a flushed write is stuck behind a peer that reads nothing, which the
 * flow-control and keepalive checks handle. Promises pass through untouched: a void promise stays
 * void.
 *
 * <h2>The clock is read by the timer, not by the data path</h2>
 * Taking the time at every read burst and flush was four clock reads per request per pipeline
 * (1.2 % of the CPU at saturation, benchmarks/RESULTS.md). Instead the timer looks every {@link
 * #SLICES}th of the timeout: activity seen since its last look counts as happening at that look
 * (the latest it can have happened). So the event fires no earlier than the timeout after the last
 * activity, and at most a slice later (12.5 %: a 100 ms timeout fires 100–112.5 ms after the last
 * read or flush). While idle the event repeats every timeout, as Netty's does.
 *
 * <p>Runs on the channel's event loop; one timer per channel.
 */
public final class IdleTimeout extends ChannelDuplexHandler {
    /** How many looks the timer takes per timeout while the channel is busy. */
    static final int SLICES = 8;

    private final long timeoutNanos;
    private final long sliceNanos;
    private Ticker ticker;
    /** When activity was last known to have happened (a look of the timer that saw it). */
    private long lastActivity;
    /** A read burst or a flush since the timer's last look. */
    private boolean active;
    private boolean reading;
    private boolean wrote;
    private boolean first = true;
    /** 0: not started, 1: running, 2: stopped. */
    private int state;
    private ScheduledFuture<?> timer;

    /** @param timeout how long without a read or a write before the event; zero or less: never (as Netty's 0) */
    public IdleTimeout(Duration timeout) {
        this(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** @param timeout how long without a read or a write before the event; zero or less: never (as Netty's 0) */
    public IdleTimeout(long timeout, TimeUnit unit) {
        this.timeoutNanos = unit.toNanos(timeout);
        this.sliceNanos = Math.max(1, timeoutNanos / SLICES);
    }

    /** The timeout in milliseconds (0: never). */
    public long timeoutMillis() {
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
            start(ctx);
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) throws Exception {
        if (ctx.channel().isActive()) {
            start(ctx);
        }
        super.channelRegistered(ctx);
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
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (reading) {
            reading = false;
            active();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        wrote = true;
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (wrote) {
            wrote = false;
            active();
        }
        ctx.flush();
    }

    private void active() {
        active = true;
    }

    /**
     * Counts as a read or a write: activity the pipeline does not carry past this handler, which
     * its owner sees (an h2c connection's streams, whose frames the multiplexer routes to and from
     * the stream channels). On the channel's event loop.
     */
    public void activity() {
        active = true;
    }

    private void start(ChannelHandlerContext ctx) {
        if (state != 0 || timeoutNanos <= 0) {
            return;
        }
        state = 1;
        ticker = ctx.executor().ticker();
        lastActivity = ticker.nanoTime();
        timer = ctx.executor().schedule(() -> check(ctx), sliceNanos, TimeUnit.NANOSECONDS);
    }

    private void stop() {
        state = 2;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void check(ChannelHandlerContext ctx) {
        if (state != 1 || !ctx.channel().isOpen()) {
            return;
        }
        long now = ticker.nanoTime();
        if (active || reading || wrote) {
            active = false;
            first = true;
            lastActivity = now; // the latest it can have happened: never early, at most a slice late
        }
        long left = timeoutNanos - (now - lastActivity);
        if (left > 0) {
            timer = ctx.executor().schedule(() -> check(ctx), Math.min(left, sliceNanos), TimeUnit.NANOSECONDS);
            return;
        }
        lastActivity = now; // while idle, again every timeout
        timer = ctx.executor().schedule(() -> check(ctx), sliceNanos, TimeUnit.NANOSECONDS);
        IdleStateEvent event = first ? IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT : IdleStateEvent.ALL_IDLE_STATE_EVENT;
        first = false;
        ctx.fireUserEventTriggered(event);
    }
}
