package dev.waypoint.server;

import dev.waypoint.lb.Upstreams;
import dev.waypoint.listener.InnerProtocol;
import dev.waypoint.listener.RequestPipelineInstaller;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.routing.RouteHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;

/**
 * The data path on one screen. Runs for each inner request channel after {@code ConnectHandler}
 * accepted the tunnel (target checked, snapshot pinned in the {@link TunnelContext}) and the
 * sniffer installed the inner codec. In front of these stages, per tunnel:
 * {@code tls → h2 → mux → [stream] tunnel → idle → h1 | h2c (multiplex codec) → [inner stream] h2-http}.
 *
 * <p>Policy (authn, authz), wasm and telemetry stages go here, each as one named handler, in
 * Istio's order (STYLE.md): telemetry outermost, then authn, authz, wasm, route, upstream.
 */
final class InboundRequestPipeline implements RequestPipelineInstaller {
    private final Upstreams upstreams;

    InboundRequestPipeline(Upstreams upstreams) {
        this.upstreams = upstreams;
    }

    @Override
    public void install(Channel channel, TunnelContext tunnel, InnerProtocol protocol) {
        ChannelPipeline p = channel.pipeline();
        // route before upstream: upstream reads the RouteSelection that route writes per request
        p.addLast("route", new RouteHandler(tunnel));
        // last: endpoint pick, outbound HBONE, response relay; it owns reads on this channel
        p.addLast("upstream", upstreams.httpHandler(tunnel, protocol == InnerProtocol.HTTP2));
    }
}
