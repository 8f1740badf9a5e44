package dev.waypoint.server;

import dev.waypoint.lb.Upstreams;
import dev.waypoint.listener.UpstreamTcp;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.TcpOutcome;
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
        return connect(snapshot, tunnel, loop, null);
    }

    @Override
    public Future<Channel> connect(ConfigSnapshot snapshot, TunnelContext tunnel, EventLoop loop, TcpOutcome outcome) {
        return connect(snapshot, tunnel, snapshot.part(L4RouteTable.PART).tcp(tunnel.target(), caller(tunnel), picker), loop,
                outcome);
    }

    @Override
    public boolean routesBySni(ConfigSnapshot snapshot, TunnelContext tunnel) {
        return snapshot.part(L4RouteTable.PART).hasTls(tunnel.target(), caller(tunnel));
    }

    @Override
    public Future<Channel> connectBySni(ConfigSnapshot snapshot, TunnelContext tunnel, String sni, EventLoop loop) {
        return connect(snapshot, tunnel, snapshot.part(L4RouteTable.PART).tls(tunnel.target(), caller(tunnel), sni, picker),
                loop, null);
    }

    /** The caller's namespace, from its SPIFFE identity (consumer routes apply to it); null for a plaintext peer. */
    private static String caller(TunnelContext tunnel) {
        return tunnel.peer() == null ? null : tunnel.peer().namespace();
    }

    /** Carries out an L4 decision: the default backend, the route's backend, or a refusal. */
    Future<Channel> connect(ConfigSnapshot snapshot, TunnelContext tunnel, L4Decision decision, EventLoop loop,
                            TcpOutcome outcome) {
        if (decision instanceof L4Decision.Forward f) {
            return upstreams.connectTcp(snapshot, tunnel, f.backend(), loop, outcome);
        }
        if (decision instanceof L4Decision.Reject r) {
            return loop.newFailedFuture(new RejectedException(r.rejection()));
        }
        return upstreams.connectTcp(snapshot, tunnel, loop, outcome);
    }
}
