package dev.waypoint.testing;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.transport.EventLoops;
import dev.waypoint.transport.Relay;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays a client pod's ztunnel for plain programs (curl): listens on the addresses a client would
 * dial (Service VIP:port) and wraps each accepted connection in an HBONE {@code CONNECT} to the
 * waypoint with {@code :authority} = the address it was dialled on — the original destination,
 * as ztunnel's redirection preserves it — presenting the client workload's certificate.
 */
public final class SourceZtunnel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SourceZtunnel.class);
    private final List<Channel> listeners = new ArrayList<>();
    private final EventLoopGroup group;
    private final InetSocketAddress waypoint;
    private final TlsMaterial client;
    private HboneTestClient connection;
    private final java.util.concurrent.ExecutorService dialer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "source-ztunnel-dialer");
        t.setDaemon(true);
        return t;
    });

    private SourceZtunnel(EventLoopGroup group, InetSocketAddress waypoint, TlsMaterial client) {
        this.group = group;
        this.waypoint = waypoint;
        this.client = client;
    }

    /** Listens on each of {@code addresses}; tunnels go to {@code waypoint} as {@code client}. */
    public static SourceZtunnel start(EventLoopGroup group, InetSocketAddress waypoint, TlsMaterial client,
                                      List<InetSocketAddress> addresses) throws InterruptedException {
        SourceZtunnel z = new SourceZtunnel(group, waypoint, client);
        for (InetSocketAddress a : addresses) {
            z.listeners.add(new ServerBootstrap()
                    .group(group)
                    .channel(EventLoops.serverChannel())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(new Accept(z));
                        }
                    })
                    .bind(a).sync().channel());
        }
        return z;
    }

    private synchronized HboneTestClient connection() throws Exception {
        if (connection == null || !connection.channel().isActive()) {
            connection = HboneTestClient.connect(group, waypoint, client);
        }
        return connection;
    }

    private static final class Accept extends ChannelInboundHandlerAdapter {
        private final SourceZtunnel z;

        Accept(SourceZtunnel z) {
            this.z = z;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.pipeline().remove(this);
            Channel down = ctx.channel();
            // dialing the waypoint blocks (TLS handshake wait): never on an event loop
            z.dialer.execute(() -> tunnel(down));
        }

        private void tunnel(Channel down) {
            InetSocketAddress dst = (InetSocketAddress) down.localAddress();
            InetSocketAddress src = (InetSocketAddress) down.remoteAddress();
            String authority = new HostPort(dst.getAddress(), dst.getPort()).authority();
            HboneTestClient hbone;
            try {
                hbone = z.connection();
            } catch (Exception e) {
                log.warn("cannot reach the waypoint at {}: {}", z.waypoint, e.getMessage());
                down.close();
                return;
            }
            hbone.connect(authority, Map.of("forwarded", "for=\"" + new HostPort(src.getAddress(), src.getPort()) + "\""))
                    .addListener(f -> {
                        if (!f.isSuccess()) {
                            log.warn("CONNECT {} failed: {}", authority, f.cause().getMessage());
                            down.close();
                            return;
                        }
                        HboneTestClient.Answer a = (HboneTestClient.Answer) f.getNow();
                        if (a.status() != 200) {
                            log.warn("waypoint refused CONNECT {}: {} {}", authority, a.status(), a.body().trim());
                            down.close();
                            return;
                        }
                        Channel tunnel = a.tunnel();
                        down.eventLoop().execute(() -> {
                            if (tunnel.eventLoop() == down.eventLoop()) {
                                Relay.start(down, tunnel);
                            } else {
                                // different loops: hop bytes across with a plain bridge
                                Bridge.link(down, tunnel);
                            }
                        });
                    });
        }
    }

    @Override
    public void close() {
        listeners.forEach(c -> c.close().awaitUninterruptibly());
        dialer.shutdownNow();
        if (connection != null) {
            connection.close();
        }
    }
}
