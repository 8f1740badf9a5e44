package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.function.LongConsumer;

/**
 * Copies bytes both ways between two tunnel ends (sockets or HTTP/2 CONNECT streams, each
 * already speaking {@link ByteBuf}s), with backpressure, half-close and reset.
 *
 * <p><b>Backpressure, not buffering.</b> Both channels run with {@code AUTO_READ} off. After a
 * read burst, the next {@code read()} is issued only while the opposite channel is writable;
 * when it turns unwritable, reading stops until its {@code channelWritabilityChanged}. On an
 * HTTP/2 stream this also holds back WINDOW_UPDATEs, so a slow reader on one side slows the
 * writer on the other instead of filling memory.
 *
 * <p><b>Half-close.</b> EOF from one side (socket FIN or {@code END_STREAM}) is passed on as a
 * half-close of the other side ({@link HalfClose#shutdownOutput}), after the bytes before it. The
 * two directions end independently, in either order; once both have (each EOF passed on and
 * sent), both ends are closed at once. A stream end that Netty closes by itself after
 * {@code END_STREAM} went both ways counts as ended cleanly.
 *
 * <p><b>Reset.</b> An end that goes away before both of its directions ended — a TCP RST or
 * another I/O error, a {@code RST_STREAM}, its HTTP/2 connection closing, the idle timeout, or a
 * {@code close()} from elsewhere — resets the other end ({@link HalfClose#reset}: RST_STREAM
 * CONNECT_ERROR on a stream, TCP RST on a socket), as RFC 9113 §8.5 asks of a CONNECT proxy. A
 * reset is never turned into a clean {@code END_STREAM} or FIN.
 *
 * <p><b>Limits.</b> When the upstream end {@code b} carries {@link TunnelLimits} (a DestinationRule's
 * {@code tcp.idleTimeout} / {@code maxConnectionDuration}), they are applied to the tunnel end
 * {@code a} at the start: its idle timer replaced, and a close after the maximum duration (which
 * resets both ends, as the idle timeout does).
 *
 * <h2>Reference counting</h2>
 * Each {@link ByteBuf} read from one end is written to the other (ownership moves with it), or
 * released when that end is already gone. Anything else read, and every user event, is released
 * here: the relay is the last handler of both pipelines.
 *
 * <h2>Threading</h2>
 * Both channels must be on the same event loop (outbound HBONE streams are opened from the
 * inbound channel's loop), so the state below needs no synchronisation.
 */
public final class Relay {
    private final LongConsumer bytesAtoB;
    private final LongConsumer bytesBtoA;
    private final Side sideA;
    private final Side sideB;
    /** Both directions are done and both ends are being closed on purpose. */
    private boolean closing;

    private Relay(Channel a, Channel b, LongConsumer bytesAtoB, LongConsumer bytesBtoA) {
        this.bytesAtoB = bytesAtoB;
        this.bytesBtoA = bytesBtoA;
        this.sideA = new Side(a, b, true);
        this.sideB = new Side(b, a, false);
        sideA.other = sideB;
        sideB.other = sideA;
    }

    /**
     * Starts relaying between {@code a} and {@code b}: adds a handler named {@code "relay"} at the
     * end of both pipelines and starts reading.
     */
    public static void start(Channel a, Channel b) {
        start(a, b, n -> { }, n -> { }, () -> { });
    }

    /**
     * As {@link #start(Channel, Channel)}, running {@code beforeFirstRead} once both relay handlers
     * are in place and before anything is read: a handler in front of the relay that already read
     * ahead (bytes, or the EOF) fires what it holds into {@code a}'s pipeline there, so it reaches
     * the relay in order, before what {@code a} reads next.
     */
    public static void start(Channel a, Channel b, Runnable beforeFirstRead) {
        start(a, b, n -> { }, n -> { }, beforeFirstRead);
    }

    /** As {@link #start(Channel, Channel)}, reporting bytes copied each way. */
    public static void start(Channel a, Channel b, LongConsumer bytesAtoB, LongConsumer bytesBtoA) {
        start(a, b, bytesAtoB, bytesBtoA, () -> { });
    }

    /** As {@link #start(Channel, Channel, Runnable)}, reporting bytes copied each way. */
    public static void start(Channel a, Channel b, LongConsumer bytesAtoB, LongConsumer bytesBtoA,
                             Runnable beforeFirstRead) {
        if (a.eventLoop() != b.eventLoop()) {
            throw new IllegalArgumentException("relay ends must share an event loop");
        }
        Relay relay = new Relay(a, b, bytesAtoB, bytesBtoA);
        a.config().setOption(ChannelOption.AUTO_READ, false);
        b.config().setOption(ChannelOption.AUTO_READ, false);
        a.pipeline().addLast(HandlerNames.RELAY, relay.sideA);
        b.pipeline().addLast(HandlerNames.RELAY, relay.sideB);
        TunnelLimits limits = b.attr(TunnelLimits.KEY).get();
        if (limits != null && !limits.none()) {
            limits.apply(a, HandlerNames.RELAY);
        }
        beforeFirstRead.run();
        a.read();
        b.read();
    }

    /** One direction is done: its EOF was passed on (or that failed and the peer was closed). */
    private void directionDone() {
        if (sideA.halfClosedPeer && sideB.halfClosedPeer && !closing) {
            closing = true;
            sideA.self.close();
            sideB.self.close();
        }
    }

    private final class Side extends ChannelInboundHandlerAdapter {
        final Channel self;
        final Channel peer;
        private final boolean isA;
        Side other;
        /** EOF arrived from this end. */
        boolean inputEnded;
        /** This end's output was half-closed (the peer's EOF passed on), or is being. */
        boolean outputEnded;
        /** The half-close of the peer that this end's EOF asked for has completed. */
        boolean halfClosedPeer;

        Side(Channel self, Channel peer, boolean isA) {
            this.self = self;
            this.peer = peer;
            this.isA = isA;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf buf)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (!peer.isActive()) {
                buf.release();
                return;
            }
            (isA ? bytesAtoB : bytesBtoA).accept(buf.readableBytes());
            peer.write(buf, peer.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            peer.flush();
            if (peer.isWritable()) {
                self.read();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            // our own channel drained: the peer may read again
            if (self.isWritable()) {
                peer.read();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                if (!inputEnded) {
                    inputEnded = true;
                    other.outputEnded = true;
                    peer.flush();
                    // count this direction done only once END_STREAM/FIN has really left: closing
                    // earlier would turn a queued END_STREAM into a RST_STREAM
                    HalfClose.shutdownOutput(peer).addListener(f -> {
                        if (!f.isSuccess()) {
                            peer.close();
                        }
                        halfClosedPeer = true;
                        directionDone();
                    });
                }
            } else if (evt instanceof Http2ResetFrame) {
                // reset by its peer: close even with frames still queued in the stream (Netty keeps
                // a reset stream open until they are read). Later, not now: the codec closes the
                // stream right after this event, and closing before that would answer the
                // RST_STREAM with one ("MUST NOT", RFC 9113 §5.4.2). channelInactive resets the peer.
                ctx.executor().execute(() -> self.close());
            } else if (evt instanceof IdleStateEvent) {
                self.close(); // channelInactive resets the peer
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!closing) {
                closing = true;
                if (inputEnded && outputEnded) {
                    // both directions of this end finished (a stream closes itself once END_STREAM
                    // went both ways): the peer ends as cleanly, after what is queued for it
                    peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                } else {
                    HalfClose.reset(peer);
                }
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            self.close(); // an I/O error (TCP RST, broken pipe): channelInactive resets the peer
        }
    }
}
