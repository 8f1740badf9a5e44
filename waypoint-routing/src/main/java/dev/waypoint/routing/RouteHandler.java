package dev.waypoint.routing;

import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.RequestKeys;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;

/**
 * The {@code route} stage: for each request head, decides its route and hands it to the
 * {@code upstream} stage through {@link RequestKeys#ROUTE}. Today that is the default route of
 * the tunnel's target (computed once per tunnel); HTTPRoute matching plugs in here.
 */
public final class RouteHandler extends ChannelInboundHandlerAdapter {
    private final RouteSelection route;

    /** The stage for requests of {@code tunnel}. */
    public RouteHandler(TunnelContext tunnel) {
        this.route = DefaultRoutes.route(tunnel.target());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
            ctx.channel().attr(RequestKeys.ROUTE).set(route);
        }
        ctx.fireChannelRead(msg);
    }
}
