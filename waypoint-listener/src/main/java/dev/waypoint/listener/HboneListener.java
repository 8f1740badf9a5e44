package dev.waypoint.listener;

import dev.waypoint.model.SnapshotSource;
import dev.waypoint.transport.EventLoops;
import dev.waypoint.transport.HandlerNames;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HBONE listener: mTLS HTTP/2 on port 15008, one child channel per {@code CONNECT} stream.
 * The module's public entry point.
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} binds; {@link #drain()} stops accepting, sends GOAWAY on every connection and
 * waits (up to the drain timeout) for in-flight tunnels to finish; {@link #close()} closes what is
 * left. The event-loop group is owned by the caller.
 */
public final class HboneListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HboneListener.class);

    private final ListenerSettings settings;
    private final EventLoopGroup group;
    private final HboneServerInitializer initializer;
    private final ChannelGroup connections = new DefaultChannelGroup("hbone", GlobalEventExecutor.INSTANCE);
    private final ChannelGroup tunnels = new DefaultChannelGroup("tunnels", GlobalEventExecutor.INSTANCE);
    private Channel server;

    /**
     * @param tls the server TLS context in force; read once per new connection, so a certificate
     *        rotation applies to new connections and leaves existing ones alone
     */
    public HboneListener(ListenerSettings settings, EventLoopGroup group, Supplier<SslContext> tls,
                         SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestChain requests) {
        this(settings, group, tls, snapshots, upstreamTcp, requests, TunnelAuthorizer.ALLOW_ALL);
    }

    /**
     * @param authorizer the L4 AuthorizationPolicy check of TCP tunnels (at CONNECT, after sniffing,
     *        and on each new generation)
     */
    public HboneListener(ListenerSettings settings, EventLoopGroup group, Supplier<SslContext> tls,
                         SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestChain requests,
                         TunnelAuthorizer authorizer) {
        this(settings, group, tls, snapshots, upstreamTcp, requests, authorizer,
                dev.waypoint.model.request.TunnelObserver.NONE);
    }

    /**
     * @param observer told when each TCP tunnel opens and ends (telemetry: TCP tunnels run no
     *        filter list)
     */
    public HboneListener(ListenerSettings settings, EventLoopGroup group, Supplier<SslContext> tls,
                         SnapshotSource snapshots, UpstreamTcp upstreamTcp, RequestChain requests,
                         TunnelAuthorizer authorizer, dev.waypoint.model.request.TunnelObserver observer) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.group = Objects.requireNonNull(group, "group");
        this.initializer = new HboneServerInitializer(settings, Objects.requireNonNull(tls, "tls"), connections,
                new ConnectHandler.Deps(Objects.requireNonNull(snapshots, "snapshots"),
                        Objects.requireNonNull(upstreamTcp, "upstreamTcp"), Objects.requireNonNull(requests, "requests"),
                        settings, tunnels, Objects.requireNonNull(authorizer, "authorizer"),
                        Objects.requireNonNull(observer, "observer")));
        // "Long-lived connections are re-checked when the generation changes": a tunnel whose
        // target the new config no longer binds ends (TunnelLifecycle says how, per protocol)
        snapshots.subscribe(this::recheckTunnels);
    }

    private void recheckTunnels(dev.waypoint.model.ConfigSnapshot snapshot) {
        for (Channel t : tunnels) {
            t.eventLoop().execute(() -> {
                if (t.pipeline().get(HandlerNames.LIFECYCLE) instanceof TunnelLifecycle lifecycle) {
                    lifecycle.recheck(snapshot);
                }
            });
        }
    }

    /** Binds and returns the bound address (port 0 resolves to the real one). */
    public InetSocketAddress start() throws InterruptedException {
        server = new ServerBootstrap()
                .group(group)
                .channel(EventLoops.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(initializer)
                .bind(settings.bind()).sync().channel();
        InetSocketAddress bound = (InetSocketAddress) server.localAddress();
        log.info("HBONE listening on {}", bound);
        return bound;
    }

    /** Number of open tunnels (accepted CONNECT streams). */
    public int tunnelCount() {
        return tunnels.size();
    }

    /** Number of open HBONE connections. */
    public int connectionCount() {
        return connections.size();
    }

    /**
     * Graceful drain: stop accepting, GOAWAY everyone, let open tunnels finish. Blocks up to the
     * drain timeout; call it off the event loops (from the shutdown hook).
     */
    public void drain() {
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
        log.info("draining {} HBONE connections, {} tunnels (up to {})", connections.size(), tunnels.size(),
                settings.drainTimeout());
        // every tunnel finishes what is in flight and then ends (HTTP/1.1 after the current
        // response, inner HTTP/2 with GOAWAY)
        for (Channel t : tunnels) {
            t.eventLoop().execute(() -> t.pipeline().fireUserEventTriggered(dev.waypoint.transport.DrainEvent.INSTANCE));
        }
        // Http2ConnectionHandler.close(): GOAWAY(last stream id), then close once active streams end
        // or the graceful shutdown timeout (= drain timeout) passes.
        io.netty.channel.group.ChannelGroupFuture closing = connections.close();
        long timeout = settings.drainTimeout().toMillis();
        if (!closing.awaitUninterruptibly(timeout, TimeUnit.MILLISECONDS)) {
            // the drain timeout: Netty closes the connections still open, and the tunnels on them are cut
            // (their requests get no response); say how many, rather than only "drained"
            log.warn("drain timeout {} reached: closing {} HBONE connections with {} tunnels still open",
                    settings.drainTimeout(), connections.size(), tunnels.size());
            closing.awaitUninterruptibly(1000, TimeUnit.MILLISECONDS);
        }
        log.info("drained; {} connections left", connections.size());
    }

    @Override
    public void close() {
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
        connections.close().awaitUninterruptibly();
    }
}
