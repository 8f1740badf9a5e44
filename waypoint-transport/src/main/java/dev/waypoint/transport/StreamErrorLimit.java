package dev.waypoint.transport;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.util.concurrent.Ticker;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream errors a peer causes on one server-side HTTP/2 connection (a frame that breaks a
 * stream's rules: a WINDOW_UPDATE of 0, a window overflow, HEADERS in the middle of a tunnel),
 * each answered with RST_STREAM of its own error code, and the connection closed with GOAWAY
 * {@code ENHANCE_YOUR_CALM} once more than {@code max} come within {@code window}: the "MadeYouReset"
 * defence (CVE-2025-8671: a client that makes the server reset its streams escapes the limit on
 * the resets it sends itself, while the work each stream started goes on).
 *
 * <p>It replaces Netty's server default ({@code encoderEnforceMaxRstFramesPerWindow}: 200 RST_STREAM
 * written per 30 s, of any cause but CANCEL and NO_ERROR), which counted the wrong frames here:
 * the RST_STREAM(STREAM_CLOSED) Netty answers to each DATA frame still in flight on a tunnel the
 * waypoint had just ended (RFC 9113 §5.1 says to ignore those), and the CONNECT_ERROR resets of
 * tunnels whose upstream went away. A client uploading into a refused tunnel, or whose backends
 * reset, lost its whole HBONE connection (every tunnel of that ztunnel's identity) after 200 of
 * them; and the errors it did cause on live streams were answered with CANCEL, which that limit
 * does not count. Those are what this counts; errors on streams already gone are not (no work
 * is attached to them).
 *
 * <p>Sits right after the {@code Http2FrameCodec}, before the multiplexer, which closes the
 * stream's channel on the same event: the RST_STREAM with the error's code is written first (Netty
 * writes one RST_STREAM per stream, so the multiplexer's CANCEL is not sent), then the event is
 * passed on, then a GOAWAY if the limit is passed.
 *
 * <h2>Threading</h2>
 * The channel's event loop only.
 */
public final class StreamErrorLimit extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(StreamErrorLimit.class);

    /** Netty's server default for its RST_STREAM limit, kept: 200 per 30 s. */
    public static final int DEFAULT_MAX = 200;
    public static final int DEFAULT_WINDOW_SECONDS = 30;

    private final int max;
    private final long windowNanos;
    private Ticker ticker;
    private long windowStart;
    private int inWindow;
    private boolean closing;

    public StreamErrorLimit() {
        this(DEFAULT_MAX, DEFAULT_WINDOW_SECONDS);
    }

    /**
     * @param max stream errors allowed within one window
     * @param windowSeconds the window
     */
    public StreamErrorLimit(int max, int windowSeconds) {
        if (max < 1 || windowSeconds < 1) {
            throw new IllegalArgumentException("max: " + max + ", windowSeconds: " + windowSeconds + " (expected: >= 1)");
        }
        this.max = max;
        this.windowNanos = TimeUnit.SECONDS.toNanos(windowSeconds);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ticker = ctx.executor().ticker();
        windowStart = ticker.nanoTime();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof Http2FrameStreamException e) || closing) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        // the peer's error on a live stream, answered with its own code before the multiplexer's close
        // (which would reset it CANCEL: Netty writes one RST_STREAM per stream)
        ctx.writeAndFlush(new DefaultHttp2ResetFrame(e.error()).stream(e.stream()), ctx.voidPromise());
        ctx.fireExceptionCaught(cause);
        long now = ticker.nanoTime();
        if (now - windowStart >= windowNanos) {
            windowStart = now;
            inWindow = 0;
        }
        if (++inWindow > max) {
            // last: the GOAWAY closes the connection, whose handlers are gone afterwards
            closing = true;
            log.info("closing {}: more than {} stream errors within {} s (GOAWAY ENHANCE_YOUR_CALM)",
                    ctx.channel().remoteAddress(), max, TimeUnit.NANOSECONDS.toSeconds(windowNanos));
            ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }
}
