package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannelOption;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.PromiseNotifier;

/**
 * Makes an HTTP/2 {@code CONNECT} stream look like a TCP socket to the handlers after it:
 * inbound {@link Http2DataFrame}s become their {@link ByteBuf} content and {@code END_STREAM}
 * becomes {@link ChannelInputShutdownEvent} (TCP half-close); outbound {@link ByteBuf}s become DATA
 * frames. Use {@link HalfClose#shutdownOutput} to send {@code END_STREAM} and {@link HalfClose#reset}
 * to send {@code RST_STREAM}. A {@code RST_STREAM} from the peer arrives, as Netty delivers it, as
 * an {@link Http2ResetFrame} user event, passed on.
 *
 * <h2>One DATA frame per flush</h2>
 * Outbound bytes are framed when the channel is flushed, not when they are written: the pieces an
 * HTTP/1.1 encoder writes for one message (head, body, an empty last piece) become one DATA frame
 * instead of three, when together they are no larger than {@link #COALESCE_LIMIT}. A single piece
 * is framed as it is (wrapped, not copied); a second small one is copied into a buffer of the
 * adapter's own, so the HTTP/2 encoder, the flow controller and {@code SslHandler} see one buffer
 * and one promise per flush instead of a composite of several (on the product's path each piece
 * cost a DATA frame, a parent promise and listener, a composite component, and a heap copy when
 * {@code SslHandler} gathered the composite). Bigger pieces are framed at once, uncopied. Anything
 * that is not bytes (END_STREAM, RST_STREAM), a close and the handler's removal write what is held
 * first, so order is kept. The held bytes are at most {@link #COALESCE_LIMIT}: writability is
 * unaffected.
 *
 * <h2>The stream's window</h2>
 * On a stream channel whose {@link Http2StreamChannelOption#AUTO_STREAM_FLOW_CONTROL} is off (the
 * waypoint's HBONE tunnels, both sides: {@link #returnsWindow}), the adapter returns the stream's
 * receive window itself, where Netty's stream channel would: the bytes of the DATA frames delivered
 * so far, when the next read is asked for (so a tunnel whose reading is held back holds its window
 * back too, and the peer stops at one window of unread bytes). It hands them straight
 * to the connection's flow controller instead of writing a {@code WINDOW_UPDATE} frame object
 * through the connection's pipeline with a promise and a flush, as the stream channel does at each
 * read after DATA (two per request on a keep-alive tunnel, one for each side). The wire is the same:
 * the flow controller still sends {@code WINDOW_UPDATE} once half a window is consumed. Frames a
 * handler holds before this adapter is in place (a CONNECT not decided yet) are counted when they
 * are replayed through it; bytes of frames never delivered here go back to the connection's window
 * when the stream closes (Netty's flow controller does that). Elsewhere (the test peers' streams)
 * Netty returns the window as usual.
 *
 * <h2>Ending as a TCP close does</h2>
 * {@link HalfClose#finish} (the waypoint is done with a tunnel: an HTTP/1.1 {@code Connection:
 * close}, an inner h2c connection after its GOAWAY) sends {@code END_STREAM} after what was
 * written and closes once the peer has ended its side too, so the stream ends with two
 * {@code END_STREAM}s and no reset (RFC 9113 §8.5: "A client is expected to send a DATA frame with
 * the END_STREAM flag set after receiving a frame with the END_STREAM flag set"; a reset would reach
 * the client's application as a TCP RST). What arrives meanwhile is dropped, its window still given
 * back. A peer that has not ended its side within {@link #LINGER_MILLIS} of our {@code END_STREAM}
 * leaving is reset then; so is one that takes nothing of what is still queued for it for that long
 * (a reader that does not read). Envoy's {@code delayed_close_timeout} works so, with the same default.
 *
 * <h2>Reference counting</h2>
 * The content of an inbound DATA frame is passed on (ownership moves to the next handler); empty
 * frames are released here. Trailing HEADERS on a tunnel carry nothing and are dropped (they hold no buffer). An
 * outbound {@link ByteBuf} is wrapped, not copied (the frame owns it), unless it is merged with
 * other small pieces of the same flush: then it is copied and released here.
 *
 * <h2>Threading</h2>
 * Runs on the stream channel's event loop, like every handler of that channel.
 */
public final class TunnelFrameAdapter extends ChannelDuplexHandler {
    /**
     * The most bytes merged into one DATA frame per flush: a 1 KiB request or response with its
     * head fits; bulk reads (the relay's 2-64 KiB) are framed as they come, uncopied.
     */
    static final int COALESCE_LIMIT = 4096;

    /** How long {@link HalfClose#finish} waits for the peer's END_STREAM before it resets (ms). */
    public static final long LINGER_MILLIS = 1000;

    private boolean inputShutdown;
    private boolean outputShutdown;
    /** Bytes written since the last flush and not framed yet; null when nothing is held. */
    private ByteBuf pending;
    /** The promise of the held bytes (void when every piece's was). */
    private ChannelPromise pendingPromise;
    /** Whether {@link #pending} is the adapter's own buffer (more pieces are appended to it). */
    private boolean pendingOwned;
    /** {@link #finish} was called: the handlers after this one are done; input is dropped until it ends. */
    private boolean finishing;
    /** The reset at the end of the linger. */
    private io.netty.util.concurrent.ScheduledFuture<?> lingerTimer;
    /** Our END_STREAM has left (finishing). */
    private boolean endLeft;
    /** {@link #backlog} when the linger was last started. */
    private long lingerBacklog;
    /** The connection's flow controller when this adapter returns the stream's window, else null. */
    private Http2LocalFlowController window;
    private Http2Stream stream;
    /** Bytes of DATA frames delivered since the window was last returned. */
    private int unreturned;

    /**
     * Tells {@code stream}'s channel to leave its receive window to the adapter (before its first
     * read): see "The stream's window".
     */
    public static void returnsWindow(Http2StreamChannel stream) {
        stream.config().setOption(Http2StreamChannelOption.AUTO_STREAM_FLOW_CONTROL, false);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel() instanceof Http2StreamChannel ch
                && Boolean.FALSE.equals(ch.config().getOption(Http2StreamChannelOption.AUTO_STREAM_FLOW_CONTROL))) {
            Http2FrameCodec codec = ch.parent().pipeline().get(Http2FrameCodec.class);
            Http2Stream s = codec == null ? null : codec.connection().stream(ch.stream().id());
            if (s != null) {
                window = codec.connection().local().flowController();
                stream = s;
            }
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2DataFrame frame) {
            if (window != null) {
                unreturned += frame.initialFlowControlledBytes(); // before the read it may cause (netty#9663)
            }
            boolean end = frame.isEndStream();
            ByteBuf content = frame.content();
            if (finishing) {
                content.release(); // nobody after us reads any more (its window is returned at the next read)
                if (end) {
                    peerEnded(ctx);
                }
                return;
            }
            if (content.isReadable()) {
                ctx.fireChannelRead(content);
            } else {
                content.release();
            }
            if (end) {
                shutdownInput(ctx);
            }
        } else if (msg instanceof Http2HeadersFrame headers) {
            // trailers (or a stray HEADERS) on a byte tunnel: nothing to relay
            if (headers.isEndStream()) {
                if (finishing) {
                    peerEnded(ctx);
                } else {
                    shutdownInput(ctx);
                }
            }
        } else if (msg instanceof io.netty.handler.codec.http2.Http2Frame) {
            ReferenceCountUtil.release(msg);
        } else {
            ctx.fireChannelRead(msg); // already bytes (replayed by a handler after us)
        }
    }

    /** A read asked for: the window of what was delivered goes back first, as the stream channel's own read does. */
    @Override
    public void read(ChannelHandlerContext ctx) {
        returnWindow(ctx);
        ctx.read();
    }

    /** Gives the delivered bytes back to the stream's window (a WINDOW_UPDATE when half of it is used). */
    private void returnWindow(ChannelHandlerContext ctx) {
        int bytes = unreturned;
        if (bytes == 0 || window == null) {
            return;
        }
        unreturned = 0;
        try {
            // nothing for a closed stream: the flow controller gave its bytes back to the connection
            if (window.consumeBytes(stream, bytes)) {
                ctx.channel().parent().flush(); // the WINDOW_UPDATE it wrote; the stream channel wrote nothing
            }
        } catch (Http2Exception e) {
            ctx.fireExceptionCaught(e); // more bytes than were received: a bug here, not the peer's fault
            ctx.close();
        }
    }

    private void shutdownInput(ChannelHandlerContext ctx) {
        if (!inputShutdown) {
            inputShutdown = true;
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf buf) {
            int size = buf.readableBytes();
            if (pending != null) {
                if (pending.readableBytes() + size <= COALESCE_LIMIT) {
                    append(ctx, buf, promise);
                    return;
                }
                writePending(ctx);
            }
            if (size >= COALESCE_LIMIT) {
                ctx.write(new DefaultHttp2DataFrame(buf, false), promise);
                return;
            }
            pending = buf; // framed at the flush, or merged with what follows it
            pendingPromise = promise;
            pendingOwned = false;
        } else {
            writePending(ctx);
            if (msg instanceof Http2DataFrame d && d.isEndStream() || msg instanceof Http2ResetFrame) {
                outputShutdown = true; // nothing may follow END_STREAM or RST_STREAM
            }
            ctx.write(msg, promise);
        }
    }

    /** Copies {@code buf} after the held bytes (into the adapter's own buffer) and releases it. */
    private void append(ChannelHandlerContext ctx, ByteBuf buf, ChannelPromise promise) {
        if (!pendingOwned) {
            ByteBuf own = ctx.alloc().buffer(pending.readableBytes() + buf.readableBytes(), COALESCE_LIMIT);
            own.writeBytes(pending);
            pending.release();
            pending = own;
            pendingOwned = true;
        }
        pending.writeBytes(buf);
        buf.release();
        if (!promise.isVoid()) {
            if (pendingPromise.isVoid()) {
                pendingPromise = promise;
            } else {
                // both pieces' writers wait for the one frame's write
                ChannelPromise both = ctx.newPromise();
                both.addListener(new PromiseNotifier<Void, ChannelFuture>(pendingPromise, promise));
                pendingPromise = both;
            }
        }
    }

    /** Frames and writes the held bytes, if any (not flushed). */
    private void writePending(ChannelHandlerContext ctx) {
        ByteBuf held = pending;
        if (held == null) {
            return;
        }
        ChannelPromise promise = pendingPromise;
        pending = null;
        pendingPromise = null;
        pendingOwned = false;
        ctx.write(new DefaultHttp2DataFrame(held, false), promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        writePending(ctx);
        ctx.flush();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (lingerTimer != null) {
            lingerTimer.cancel(false);
            lingerTimer = null;
        }
        writePending(ctx); // fails and releases through the closed channel, as an unflushed write does
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (pending != null) {
            writePending(ctx); // a pipeline change: what was written still leaves, in order
            ctx.flush();
        }
    }

    /**
     * Ends the tunnel as a TCP close does (see "Ending as a TCP close does"); on the channel's event
     * loop. The channel's close future completes when the stream is closed, gracefully or by the
     * reset at the end of the linger.
     */
    void finish(ChannelHandlerContext ctx) {
        if (finishing || !ctx.channel().isActive()) {
            return;
        }
        finishing = true;
        writePending(ctx);
        ChannelFuture ended;
        if (outputShutdown) {
            ended = ctx.newSucceededFuture(); // our END_STREAM (or a reset) was written already
        } else {
            outputShutdown = true;
            ended = ctx.write(new DefaultHttp2DataFrame(io.netty.buffer.Unpooled.EMPTY_BUFFER, true));
        }
        ctx.flush();
        ended.addListener(f -> {
            endLeft = true;
            if (!f.isSuccess() || inputShutdown) {
                ctx.close(); // both sides ended (the stream is closed), or the write failed
            } else if (ctx.channel().isActive()) {
                armLinger(ctx); // a fresh linger from our END_STREAM leaving
            }
        });
        if (!endLeft) {
            armLinger(ctx); // still queued behind what the peer has not taken: bounded unless it keeps taking
        }
        if (!inputShutdown && !ctx.channel().config().isAutoRead()) {
            read(ctx); // drain until the peer's END_STREAM
        }
    }

    /**
     * (Re)starts the linger. As Envoy's {@code delayed_close_timeout}: it runs while what was written
     * still waits for the peer's window too, and each bit of progress on that starts it again.
     */
    private void armLinger(ChannelHandlerContext ctx) {
        if (lingerTimer != null) {
            lingerTimer.cancel(false);
        }
        lingerBacklog = backlog(ctx.channel());
        lingerTimer = ctx.executor().schedule(() -> {
            lingerTimer = null;
            if (!endLeft && backlog(ctx.channel()) < lingerBacklog) {
                armLinger(ctx); // the peer is still taking what we sent
            } else {
                ctx.close(); // the peer kept its side open (or stopped reading): RST_STREAM
            }
        }, LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Grows and shrinks with the bytes written and not sent yet (Netty exposes them only relative to the water marks). */
    private static long backlog(io.netty.channel.Channel ch) {
        return ch.isWritable() ? -ch.bytesBeforeUnwritable() : ch.bytesBeforeWritable();
    }

    /** The peer's END_STREAM while finishing: both sides have ended. */
    private void peerEnded(ChannelHandlerContext ctx) {
        inputShutdown = true;
        if (endLeft) {
            if (lingerTimer != null) {
                lingerTimer.cancel(false);
                lingerTimer = null;
            }
            ctx.close(); // our END_STREAM left already: the stream is closed, nothing is reset
        }
        // else our END_STREAM has not left yet: its listener closes once it has
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (finishing) {
            if (!inputShutdown && !ctx.channel().config().isAutoRead()) {
                read(ctx);
            }
            return;
        }
        ctx.fireChannelReadComplete();
    }

    /**
     * A tunnel whose peer already sent END_STREAM ends with END_STREAM too, not RST_STREAM: the
     * close waits until that last (flow-controlled) frame has left.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        writePending(ctx);
        if (lingerTimer != null) {
            lingerTimer.cancel(false); // closed while lingering: now
            lingerTimer = null;
        }
        if (inputShutdown && !outputShutdown && ctx.channel().isActive()) {
            outputShutdown = true;
            ctx.writeAndFlush(new DefaultHttp2DataFrame(io.netty.buffer.Unpooled.EMPTY_BUFFER, true))
                    .addListener(f -> ctx.close(promise));
            return;
        }
        ctx.close(promise);
    }

    /** Whether {@code channel} is an HTTP/2 stream (half-close is END_STREAM there). */
    static boolean isStream(io.netty.channel.Channel channel) {
        return channel instanceof Http2StreamChannel;
    }
}
