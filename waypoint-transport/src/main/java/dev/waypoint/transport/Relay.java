package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.function.LongConsumer;

/**
 * Copies bytes both ways between two tunnel ends (sockets or HTTP/2 CONNECT streams, each
 * already speaking {@link ByteBuf}s), with backpressure and half-close.
 *
 * <p><b>Backpressure, not buffering.</b> Both channels run with {@code AUTO_READ} off. After a
 * read burst, the next {@code read()} is issued only while the opposite channel is writable;
 * when it turns unwritable, reading stops until its {@code channelWritabilityChanged}. On an
 * HTTP/2 stream this also holds back WINDOW_UPDATEs, so a slow reader on one side slows the
 * writer on the other instead of filling memory.
 *
 * <p><b>Half-close.</b> EOF from one side (socket FIN or {@code END_STREAM}) is passed on as a
 * half-close of the other side; the relay closes both once both directions are done, or at once
 * when either side closes or errors.
 *
 * <h2>Threading</h2>
 * Both channels must be on the same event loop (outbound HBONE streams are opened from the
 * inbound channel's loop), so the state below needs no synchronisation.
 */
public final class Relay {
    private final Channel a;
    private final Channel b;
    private final LongConsumer bytesAtoB;
    private final LongConsumer bytesBtoA;
    private boolean aDone;
    private boolean bDone;

    private Relay(Channel a, Channel b, LongConsumer bytesAtoB, LongConsumer bytesBtoA) {
        this.a = a;
        this.b = b;
        this.bytesAtoB = bytesAtoB;
        this.bytesBtoA = bytesBtoA;
    }

    /**
     * Starts relaying between {@code a} and {@code b}: adds a handler named {@code "relay"} at the
     * end of both pipelines and starts reading.
     */
    public static void start(Channel a, Channel b) {
        start(a, b, n -> { }, n -> { });
    }

    /** As {@link #start(Channel, Channel)}, reporting bytes copied each way. */
    public static void start(Channel a, Channel b, LongConsumer bytesAtoB, LongConsumer bytesBtoA) {
        if (a.eventLoop() != b.eventLoop()) {
            throw new IllegalArgumentException("relay ends must share an event loop");
        }
        Relay relay = new Relay(a, b, bytesAtoB, bytesBtoA);
        a.config().setOption(ChannelOption.AUTO_READ, false);
        b.config().setOption(ChannelOption.AUTO_READ, false);
        a.pipeline().addLast("relay", relay.new Side(a, b, true));
        b.pipeline().addLast("relay", relay.new Side(b, a, false));
        a.read();
        b.read();
    }

    private void done(boolean fromA) {
        if (fromA) {
            aDone = true;
        } else {
            bDone = true;
        }
        if (aDone && bDone) {
            a.close();
            b.close();
        }
    }

    private final class Side extends ChannelInboundHandlerAdapter {
        private final Channel self;
        private final Channel peer;
        private final boolean isA;

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
                peer.flush();
                // count this direction done only once END_STREAM/FIN has really left: closing
                // earlier would turn a queued END_STREAM into a RST_STREAM
                HalfClose.shutdownOutput(peer).addListener(f -> {
                    if (!f.isSuccess()) {
                        peer.close();
                    }
                    done(isA);
                });
            } else if (evt instanceof IdleStateEvent) {
                self.close();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            peer.flush();
            // give what we already wrote a chance to leave, then close
            peer.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            self.close();
        }
    }
}
