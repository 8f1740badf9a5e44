package dev.waypoint.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;

/**
 * Closes the stream channels of an HTTP/2 connection that are still open when the connection
 * goes away.
 *
 * <p>Netty closes a stream channel whose stream ended (RST_STREAM aside, of which it tells the
 * channel) only once the channel has read what it still holds. A stream whose reading is held back
 * ({@code AUTO_READ} off: the relay or the exchange waits for the other side to drain) keeps its
 * unread DATA frames and stays open after its connection is gone, with nothing to tell its handlers:
 * a client that fills a tunnel toward a backend that does not read, then drops its connection,
 * would leave the tunnel, its unread bytes (up to a stream window) and the tunnel's outbound stream
 * alive until the tunnel idle timeout, an hour by default. Here such a stream channel is closed as
 * the connection's {@code channelInactive} passes: what it held is released, and its handlers see
 * {@code channelInactive} and end the tunnel as a reset (RFC 9113 §8.5: a CONNECT proxy that loses
 * one side resets the other).
 *
 * <p>Goes on the connection's pipeline after the multiplexer (whose HTTP/2 codec has closed every
 * stream by the time {@code channelInactive} gets here); the multiplexer's stream initializer calls
 * {@link #track} for each stream channel.
 *
 * <h2>Threading</h2>
 * The connection's event loop, which its stream channels share: the set needs no locking.
 */
public final class ChildStreams extends ChannelInboundHandlerAdapter {
    private final Set<Channel> open = new HashSet<>();
    private final ChannelFutureListener forget = f -> open.remove(f.channel());
    private boolean connectionClosed;

    /** Remembers {@code stream} (a stream channel of this connection) until it closes. */
    public void track(Channel stream) {
        if (connectionClosed) {
            stream.close();
            return;
        }
        if (open.add(stream)) {
            stream.closeFuture().addListener(forget);
        }
    }

    /** Stream channels of this connection not closed yet (tests). */
    public int openStreams() {
        return open.size();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        connectionClosed = true;
        if (!open.isEmpty()) {
            for (Channel stream : new ArrayList<>(open)) {
                stream.close();
            }
        }
        super.channelInactive(ctx);
    }
}
