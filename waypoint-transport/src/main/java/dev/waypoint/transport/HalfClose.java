package dev.waypoint.transport;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2StreamChannel;

/**
 * TCP half-close and reset for either kind of tunnel end: a socket, or an HTTP/2 CONNECT stream.
 * RFC 9113 §8.5: "The END_STREAM flag on a DATA frame is treated as being equivalent to the TCP
 * FIN bit", and "a TCP connection error is signaled with RST_STREAM".
 */
public final class HalfClose {
    private HalfClose() {}

    /**
     * Ends the output of {@code channel} after everything already written to it: an empty DATA
     * frame with {@code END_STREAM} on an HTTP/2 stream (queued behind the earlier DATA frames),
     * {@code shutdownOutput()} on a socket once its earlier writes have left, {@code close()} on
     * anything else. Flushes.
     */
    public static ChannelFuture shutdownOutput(Channel channel) {
        if (channel instanceof Http2StreamChannel) {
            return channel.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        }
        if (channel instanceof DuplexChannel duplex) {
            // Netty's shutdownOutput() fails every write still in the outbound buffer (a slow
            // reader's last chunks would be lost): send the FIN only once they have left. Writes
            // complete in order, so an empty one completes after all of them.
            ChannelPromise fin = channel.newPromise();
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
                if (f.isSuccess()) {
                    duplex.shutdownOutput(fin);
                } else {
                    fin.tryFailure(f.cause());
                }
            });
            return fin;
        }
        return channel.close();
    }

    /**
     * Ends {@code channel} as closing a TCP socket does, after everything already written to it:
     * on an HTTP/2 stream with a {@link TunnelFrameAdapter}, {@code END_STREAM}, then the close once
     * the peer has sent its own (within {@link TunnelFrameAdapter#LINGER_MILLIS}, else a reset), so a
     * tunnel the waypoint is done with ends without RST_STREAM; on anything else
     * {@link #shutdownOutput}, then {@code close()}. Returns the channel's close future.
     */
    public static ChannelFuture finish(Channel channel) {
        if (!(channel instanceof Http2StreamChannel)) {
            shutdownOutput(channel).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
            return channel.closeFuture();
        }
        Runnable end = () -> {
            io.netty.channel.ChannelHandlerContext ctx = channel.pipeline().context(TunnelFrameAdapter.class);
            if (ctx == null) {
                shutdownOutput(channel).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
            } else {
                ((TunnelFrameAdapter) ctx.handler()).finish(ctx);
            }
        };
        if (channel.eventLoop().inEventLoop()) {
            end.run();
        } else {
            channel.eventLoop().execute(end);
        }
        return channel.closeFuture();
    }

    /**
     * Makes a {@code close()} from the handlers after it a {@link #finish}: for a protocol nested in a
     * tunnel whose own close means "done with this connection" (an h2c connection after its GOAWAY),
     * as closing a socket means a FIN, not a reset. The promise completes when the channel is closed.
     */
    @io.netty.channel.ChannelHandler.Sharable
    public static final class FinishOnClose extends io.netty.channel.ChannelOutboundHandlerAdapter {
        public static final FinishOnClose INSTANCE = new FinishOnClose();

        private FinishOnClose() {}

        @Override
        public void close(io.netty.channel.ChannelHandlerContext ctx, ChannelPromise promise) {
            finish(ctx.channel()).addListener(f -> promise.trySuccess());
        }
    }

    /**
     * Ends {@code channel} abruptly, dropping whatever is still queued for it:
     * {@code RST_STREAM(CONNECT_ERROR)} on an HTTP/2 stream, a TCP RST ({@code SO_LINGER} 0, then
     * close) on a socket, {@code close()} on anything else. RFC 9113 §8.5: "A proxy treats any
     * error in the TCP connection, which includes receiving a TCP segment with the RST bit set, as
     * a stream error of type CONNECT_ERROR. Correspondingly, a proxy MUST send a TCP segment with
     * the RST bit set if it detects an error with the stream or the HTTP/2 connection."
     */
    public static ChannelFuture reset(Channel channel) {
        if (channel instanceof Http2StreamChannel) {
            ChannelPromise closed = channel.newPromise();
            channel.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CONNECT_ERROR))
                    .addListener(f -> channel.close(closed));
            return closed;
        }
        if (channel.isOpen()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (ChannelException e) {
                // the socket went away meanwhile: close() below is all that is left
            }
        }
        return channel.close();
    }
}
