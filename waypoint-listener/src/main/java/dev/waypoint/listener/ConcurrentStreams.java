package dev.waypoint.listener;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2SettingsAckFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;

/**
 * SETTINGS_MAX_CONCURRENT_STREAMS of an inbound HBONE connection, enforced here rather than by
 * Netty alone: a tunnel over the limit is opened and at once reset {@code REFUSED_STREAM}.
 *
 * <p>Netty refuses a stream over the limit without creating it, so a DATA frame the client sent
 * right behind its HEADERS (the tunnel's first bytes, in flight before the refusal arrived) names a
 * stream Netty says "does not exist": a connection error (GOAWAY PROTOCOL_ERROR), and every other
 * tunnel of the connection died with it. RFC 9113 §5.1 asks to ignore frames on a stream the server
 * reset. Refused here, the stream exists: what follows it is ignored while its reset is out, and
 * answered RST_STREAM(STREAM_CLOSED) once it is gone (uncounted: {@code StreamErrorLimit}). After
 * our SETTINGS are acknowledged Netty's own limit is raised to twice the advertised one, so only a
 * client that ignores the limit by that much meets Netty's refusal (and its connection error).
 *
 * <p>Sits after the codec on the connection (it sees the SETTINGS ACK); {@link #admit} is asked by
 * the multiplexer's stream initializer.
 *
 * <h2>Threading</h2>
 * The connection's event loop (the streams share it).
 */
final class ConcurrentStreams extends ChannelInboundHandlerAdapter {
    private final Http2FrameCodec codec;
    private final int max;

    /**
     * @param codec the connection's codec (its stream counts)
     * @param max the advertised SETTINGS_MAX_CONCURRENT_STREAMS
     */
    ConcurrentStreams(Http2FrameCodec codec, int max) {
        this.codec = codec;
        this.max = max;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2SettingsAckFrame) {
            // Netty has just applied our SETTINGS_MAX_CONCURRENT_STREAMS to the client's streams
            codec.connection().remote().maxActiveStreams((int) Math.min(Integer.MAX_VALUE, 2L * max));
        }
        ctx.fireChannelRead(msg);
    }

    /**
     * Whether the new {@code stream} (already counted among the active ones) is within the limit;
     * if not, it is answered RST_STREAM(REFUSED_STREAM) and closed, and takes nothing it reads.
     */
    boolean admit(Http2StreamChannel stream) {
        if (codec.connection().numActiveStreams() <= max) {
            return true;
        }
        stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                ReferenceCountUtil.release(msg); // its HEADERS and any DATA: nothing is opened
            }
        });
        stream.eventLoop().execute(() -> stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM))
                .addListener(ChannelFutureListener.CLOSE));
        return false;
    }
}
