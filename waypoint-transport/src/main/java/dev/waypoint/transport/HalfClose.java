package dev.waypoint.transport;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;

/** TCP half-close for either kind of tunnel end: a socket, or an HTTP/2 CONNECT stream. */
public final class HalfClose {
    private HalfClose() {}

    /**
     * Ends the output of {@code channel}: {@code shutdownOutput()} on a socket, an empty DATA
     * frame with {@code END_STREAM} on an HTTP/2 stream, {@code close()} on anything else.
     * Writes and flushes.
     */
    public static ChannelFuture shutdownOutput(Channel channel) {
        if (channel instanceof Http2StreamChannel) {
            return channel.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        }
        if (channel instanceof DuplexChannel duplex) {
            return duplex.shutdownOutput();
        }
        return channel.close();
    }
}
