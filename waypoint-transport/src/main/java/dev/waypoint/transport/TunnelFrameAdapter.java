package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;

/**
 * Makes an HTTP/2 {@code CONNECT} stream look like a TCP socket to the handlers after it:
 * inbound {@link Http2DataFrame}s become their {@link ByteBuf} content and {@code END_STREAM}
 * becomes {@link ChannelInputShutdownEvent} (TCP half-close); outbound {@link ByteBuf}s become DATA
 * frames. Use {@link HalfClose#shutdownOutput} to send {@code END_STREAM} and {@link HalfClose#reset}
 * to send {@code RST_STREAM}. A {@code RST_STREAM} from the peer arrives, as Netty delivers it, as
 * an {@link Http2ResetFrame} user event, passed on.
 *
 * <h2>Reference counting</h2>
 * The content of an inbound DATA frame is passed on (ownership moves to the next handler); empty
 * frames are released here. Trailing HEADERS on a tunnel carry nothing and are dropped (they hold no buffer). An
 * outbound {@link ByteBuf} is wrapped, not copied: the frame owns it.
 *
 * <h2>Threading</h2>
 * Runs on the stream channel's event loop, like every handler of that channel.
 */
public final class TunnelFrameAdapter extends ChannelDuplexHandler {
    private boolean inputShutdown;
    private boolean outputShutdown;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2DataFrame frame) {
            boolean end = frame.isEndStream();
            ByteBuf content = frame.content();
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
                shutdownInput(ctx);
            }
        } else if (msg instanceof io.netty.handler.codec.http2.Http2Frame) {
            ReferenceCountUtil.release(msg);
        } else {
            ctx.fireChannelRead(msg); // already bytes (replayed by a handler after us)
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
            ctx.write(new DefaultHttp2DataFrame(buf, false), promise);
        } else {
            if (msg instanceof Http2DataFrame d && d.isEndStream() || msg instanceof Http2ResetFrame) {
                outputShutdown = true; // nothing may follow END_STREAM or RST_STREAM
            }
            ctx.write(msg, promise);
        }
    }

    /**
     * A tunnel whose peer already sent END_STREAM ends with END_STREAM too, not RST_STREAM: the
     * close waits until that last (flow-controlled) frame has left.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
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
