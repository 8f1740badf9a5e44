package dev.waypoint.testing;

import dev.waypoint.transport.HalfClose;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * Copies bytes between two channels on different event loops (test plumbing; the product's
 * {@code Relay} requires one loop). Writes are thread-safe in Netty; reads follow writability.
 */
final class Bridge extends ChannelInboundHandlerAdapter {
    private final Channel peer;

    private Bridge(Channel peer) {
        this.peer = peer;
    }

    static void link(Channel a, Channel b) {
        a.config().setOption(ChannelOption.AUTO_READ, true);
        b.config().setOption(ChannelOption.AUTO_READ, true);
        a.pipeline().addLast(new Bridge(b));
        b.pipeline().addLast(new Bridge(a));
        a.read();
        b.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        peer.writeAndFlush(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            HalfClose.shutdownOutput(peer);
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        peer.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
