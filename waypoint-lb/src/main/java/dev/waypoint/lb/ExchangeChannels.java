package dev.waypoint.lb;

import dev.waypoint.model.request.TunnelContext;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Where an attempt gets its exchange channel (a channel speaking Netty {@code HttpObject}s to one
 * endpoint, {@code AUTO_READ} off, whose reads go to the {@link HttpUpstreamPool.Owner}) and
 * gives it back. {@link HttpUpstreamPool} in production; tests hand out embedded channels.
 */
interface ExchangeChannels {
    /** An exchange channel to {@code endpoint} owned by {@code owner}; call on {@code loop}. */
    Future<Channel> acquire(Endpoint endpoint, boolean h2, TunnelContext tunnel, EventLoop loop, HttpUpstreamPool.Owner owner);

    /** As {@link #acquire(Endpoint, boolean, TunnelContext, EventLoop, HttpUpstreamPool.Owner)}, on a connection opened and reused per {@code options}. */
    default Future<Channel> acquire(Endpoint endpoint, boolean h2, TunnelContext tunnel, EventLoop loop,
                                    HttpUpstreamPool.Owner owner, ConnectionOptions options) {
        return acquire(endpoint, h2, tunnel, loop, owner);
    }

    /** Gives {@code ch} back: pooled, ended or closed as {@code how} says ({@link Release}). */
    void release(Channel ch, Endpoint endpoint, boolean h2, Release how);
}
