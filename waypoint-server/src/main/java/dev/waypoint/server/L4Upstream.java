package dev.waypoint.server;

import dev.waypoint.lb.Upstreams;
import dev.waypoint.listener.UpstreamTcp;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.routing.BackendPicker;
import dev.waypoint.routing.L4Decision;
import dev.waypoint.routing.L4RouteTable;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * The upstream of a TCP tunnel: the TCPRoute or TLSRoute (by SNI) decision of the routing stage
 * (a backend drawn by weight, per connection), then the load-balancing stage's pick and connect. Composed here
 * because the two stages do not know each other.
 */
final class L4Upstream implements UpstreamTcp {
    private final Upstreams upstreams;
    private final BackendPicker picker;

    L4Upstream(Upstreams upstreams, BackendPicker picker) {
        this.upstreams = upstreams;
        this.picker = picker;
    }

    @Override
    public Future<Channel> connect(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop) {
        return connect(snapshot, tunnel, snapshot.part(L4RouteTable.PART).tcp(tunnel.target(), picker), loop);
    }

    @Override
    public boolean routesBySni(ConfigSnapshot snapshot, TunnelContext tunnel) {
        return snapshot.part(L4RouteTable.PART).hasTls(tunnel.target());
    }

    @Override
    public Future<Channel> connectBySni(ConfigSnapshot snapshot, TunnelContext tunnel, String sni, EventLoop loop) {
        return connect(snapshot, tunnel, snapshot.part(L4RouteTable.PART).tls(tunnel.target(), sni, picker), loop);
    }

    /** Carries out an L4 decision: the default backend, the route's backend, or a refusal. */
    Future<Channel> connect(ConfigSnapshot snapshot, TunnelContext tunnel, L4Decision decision, EventLoop loop) {
        if (decision instanceof L4Decision.Forward f) {
            return upstreams.connectTcp(snapshot, tunnel, f.backend(), loop);
        }
        if (decision instanceof L4Decision.Reject r) {
            return loop.newFailedFuture(new RejectedException(r.rejection()));
        }
        return upstreams.connectTcp(snapshot, tunnel, loop);
    }
}
