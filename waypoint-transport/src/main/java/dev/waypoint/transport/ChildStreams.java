package dev.waypoint.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
 * <p>Which streams: on a connection the waypoint accepted ({@link #ChildStreams()}), every one —
 * the client that dropped it cannot be answered. On a connection the waypoint opened
 * ({@link #keepingFinished()}: to a destination ztunnel, to an h2c upstream), a stream that had
 * finished before the connection went away (END_STREAM both ways: a whole response to a whole
 * request, a tunnel both ends closed) is left to be read to its end (then Netty closes it): an
 * upstream that sends its whole response and closes its connection at once (a server shutting
 * down, or one that ends connections after each request) must not lose the end of that response
 * because the downstream reads slowly. The others close here.
 *
 * <p>Goes on the connection's pipeline before the HTTP/2 codec when {@link #keepingFinished()}
 * (it looks at the streams' states before the codec closes them all, then closes the unfinished
 * ones once the codec and the multiplexer have seen the connection go), anywhere after the
 * codec otherwise; the multiplexer's stream initializer calls {@link #track} for each stream
 * channel.
 *
 * <h2>Threading</h2>
 * The connection's event loop, which its stream channels share: the set needs no locking.
 */
public final class ChildStreams extends ChannelInboundHandlerAdapter {
    private final Set<Channel> open = new HashSet<>();
    private final ChannelFutureListener forget = f -> open.remove(f.channel());
    private final boolean keepFinished;
    private boolean connectionClosed;

    /** Closes every stream channel still open when the connection goes away (an accepted connection). */
    public ChildStreams() {
        this(false);
    }

    private ChildStreams(boolean keepFinished) {
        this.keepFinished = keepFinished;
    }

    /**
     * Leaves a stream that had finished (END_STREAM both ways) to be read to its end; closes the
     * others. Goes before the HTTP/2 codec.
     */
    public static ChildStreams keepingFinished() {
        return new ChildStreams(true);
    }

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
        List<Channel> closing = new ArrayList<>(open.size());
        for (Channel stream : open) {
            if (!keepFinished || !peerFinished(stream)) {
                closing.add(stream);
            }
        }
        super.channelInactive(ctx); // (before the codec: the codec and the multiplexer close the streams)
        for (Channel stream : closing) {
            stream.close();
        }
    }

    /**
     * {@code stream} closed before its connection did: END_STREAM went both ways (a reset, the
     * other way a stream closes early, has told the channel already, which acts on it). One the
     * peer finished while ours was still open is not kept: nothing can end our side now, and the
     * next write to it fails and closes it anyway.
     */
    private static boolean peerFinished(Channel stream) {
        return stream instanceof Http2StreamChannel s && s.stream() != null
                && s.stream().state() == Http2Stream.State.CLOSED;
    }
}
