package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Keeps the bytes (and the EOF) an end reads between the moment its HTTP/1.1 codec is removed
 * for an upgrade and the moment the {@link Relay} takes over, then hands them to the relay in
 * order ({@link #replay}, from the relay's {@code beforeFirstRead}). Sits last in the pipeline,
 * named {@link HandlerNames#HELD}; the relay is added behind it.
 *
 * <h2>Reference counting</h2>
 * Held buffers move to the relay on replay, or are released when the channel closes first;
 * anything that is not a {@link ByteBuf} is released at once.
 *
 * <h2>Threading</h2>
 * The channel's event loop.
 */
public final class HeldBytes extends ChannelInboundHandlerAdapter {
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>(2);
    private boolean eof;
    private ChannelHandlerContext ctx;

    /** Adds a holder at the end of {@code ch}'s pipeline and returns it. */
    public static HeldBytes install(Channel ch) {
        HeldBytes h = new HeldBytes();
        ch.pipeline().addLast(HandlerNames.HELD, h);
        return h;
    }

    /** Holds {@code buf} (ownership moves here), as if it had been read after the ones before. */
    public void hold(ByteBuf buf) {
        held.add(buf);
    }

    /** The end's input ended (EOF) before the relay started. */
    public void inputEnded() {
        eof = true;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf buf) {
            if (buf.isReadable()) {
                held.add(buf);
            } else {
                buf.release();
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // swallowed: the relay reads when it starts
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            eof = true;
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseHeld();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseHeld();
    }

    private void releaseHeld() {
        while (!held.isEmpty()) {
            held.poll().release();
        }
    }

    /**
     * Fires what {@code ch}'s holder kept into the handlers behind it (the relay), the EOF last,
     * and removes the holder. Nothing happens if {@code ch} has none.
     */
    public static void replay(Channel ch) {
        HeldBytes h = (HeldBytes) ch.pipeline().get(HandlerNames.HELD);
        if (h == null) {
            return;
        }
        boolean any = !h.held.isEmpty();
        while (!h.held.isEmpty()) {
            h.ctx.fireChannelRead(h.held.poll());
        }
        if (any) {
            h.ctx.fireChannelReadComplete();
        }
        if (h.eof) {
            h.ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
        ch.pipeline().remove(h);
    }
}
