package dev.waypoint.lb.hbone;

import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.transport.EventLoops;
import dev.waypoint.transport.IdleTimeout;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.ConnectException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Outbound HBONE connections, pooled per event loop and per {@link HboneKey} and multiplexed:
 * a new {@code CONNECT} goes on an existing connection with room (below 100 streams and the
 * peer's SETTINGS_MAX_CONCURRENT_STREAMS); otherwise a new connection is dialed. Only one dial
 * per key and loop is in flight at a time; requests wait for it (ztunnel's per-key lock, without
 * the lock).
 *
 * <h2>Threading</h2>
 * Each event loop has its own pool, touched only from that loop, so there are no locks and an
 * outbound stream always lives on the same loop as the inbound tunnel that asked for it (a relay
 * between them needs no hand-off). The price: up to one connection per loop per destination.
 */
public final class HbonePool implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HbonePool.class);

    private final UpstreamSettings settings;
    private final Supplier<SslContext> tls;
    private final Map<EventLoop, LoopPool> pools = new ConcurrentHashMap<>();

    /**
     * @param tls the client TLS context in force (the waypoint's certificate), read per dial so
     *        a rotated certificate is used by new connections
     */
    public HbonePool(UpstreamSettings settings, Supplier<SslContext> tls) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.tls = Objects.requireNonNull(tls, "tls");
    }

    /**
     * Opens a CONNECT stream to {@code key}'s destination with {@code :authority = authority}.
     * The stream comes back answered (200), with {@code AUTO_READ} off and a tunnel frame adapter
     * installed; failures carry a {@link RejectedException}.
     */
    public Future<Channel> connect(EventLoop loop, HboneKey key, CharSequence authority, Http2Headers extra) {
        return connect(loop, key, authority, extra, settings.connectTimeout());
    }

    /**
     * As {@link #connect(EventLoop, HboneKey, CharSequence, Http2Headers)} with another connect
     * timeout than the settings' (MeshConfig {@code connectTimeout}); a connection being dialled
     * for another stream keeps the timeout it was dialled with.
     */
    public Future<Channel> connect(EventLoop loop, HboneKey key, CharSequence authority, Http2Headers extra,
                                   java.time.Duration connectTimeout) {
        Promise<Channel> result = loop.newPromise();
        // "connect timeout: TCP + TLS + CONNECT": a ztunnel that accepts but never answers the
        // CONNECT (or never sends SETTINGS) must not hold the request; a late answer is closed
        long timeout = connectTimeout.toMillis();
        io.netty.util.concurrent.ScheduledFuture<?> timer = loop.schedule(() -> result.tryFailure(new RejectedException(
                new Rejection(Rejection.Reason.CONNECT_TIMEOUT, "HBONE CONNECT " + authority + " via " + key.destination()
                        + " not answered within " + timeout + " ms"))), timeout, TimeUnit.MILLISECONDS);
        result.addListener(f -> timer.cancel(false));
        if (loop.inEventLoop()) {
            pool(loop).connect(key, authority, extra, result, 0, timeout);
        } else {
            loop.execute(() -> pool(loop).connect(key, authority, extra, result, 0, timeout));
        }
        return result;
    }

    /** Open CONNECT streams over all outbound HBONE connections (with {@link #connectionCount}: streams per connection). */
    public int streamCount() {
        return streams.get();
    }

    private final java.util.concurrent.atomic.AtomicInteger streams = new java.util.concurrent.atomic.AtomicInteger();

    /** Open connections across all loops (for tests and the admin page). */
    public int connectionCount() {
        int n = 0;
        for (LoopPool p : pools.values()) {
            n += p.size;
        }
        return n;
    }

    private LoopPool pool(EventLoop loop) {
        return pools.computeIfAbsent(loop, LoopPool::new);
    }

    @Override
    public void close() {
        for (LoopPool p : pools.values()) {
            p.loop.execute(p::closeAll);
        }
    }

    /** One loop's pool; every method runs on {@link #loop}. */
    private final class LoopPool {
        final EventLoop loop;
        final Map<HboneKey, List<HboneConnection>> connections = new HashMap<>();
        final Map<HboneKey, Future<HboneConnection>> dialing = new HashMap<>();
        volatile int size;

        LoopPool(EventLoop loop) {
            this.loop = loop;
        }

        void connect(HboneKey key, CharSequence authority, Http2Headers extra, Promise<Channel> result, int attempt,
                     long timeout) {
            List<HboneConnection> list = connections.get(key);
            if (list != null) {
                for (HboneConnection c : list) {
                    if (c.hasCapacity()) {
                        c.connect(authority, extra, result);
                        return;
                    }
                }
            }
            Future<HboneConnection> pending = dialing.get(key);
            if (pending == null) {
                pending = dial(key, timeout);
            }
            pending.addListener(f -> {
                if (!f.isSuccess()) {
                    result.tryFailure(f.cause());
                } else if (attempt < 3) {
                    connect(key, authority, extra, result, attempt + 1, timeout);
                } else {
                    result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                            "no HBONE connection to " + key.destination() + " has room for another stream")));
                }
            });
        }

        Future<HboneConnection> dial(HboneKey key, long timeout) {
            Promise<HboneConnection> ready = loop.newPromise();
            dialing.put(key, ready);
            ready.addListener(f -> dialing.remove(key, ready));
            // TCP and TLS have their own timeouts; this one also covers a peer that never sends SETTINGS
            io.netty.util.concurrent.ScheduledFuture<?> timer = loop.schedule(() -> ready.tryFailure(new RejectedException(
                    new Rejection(Rejection.Reason.CONNECT_TIMEOUT, "HBONE to " + key.destination()
                            + " not ready within " + timeout + " ms"))), timeout, TimeUnit.MILLISECONDS);
            ready.addListener(f -> timer.cancel(false));
            Bootstrap b = new Bootstrap()
                    .group(loop)
                    .channel(EventLoops.clientChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.SO_KEEPALIVE, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout))
                    .handler(new ChannelInboundHandlerAdapter());
            var connect = b.connect(new java.net.InetSocketAddress(key.destination().address(), key.destination().port()));
            Channel ch = connect.channel();
            HboneConnection conn = new HboneConnection(ch, key, settings, streams);
            // no SNI (ztunnel does not send one); the identity is checked after the handshake
            SslHandler ssl = tls.get().newHandler(ch.alloc());
            ssl.setHandshakeTimeoutMillis(timeout);
            dev.waypoint.transport.HboneTls.batchRecords(ssl);
            ch.pipeline().addLast("idle", new IdleTimeout(settings.poolIdleTimeout().toMillis(), TimeUnit.MILLISECONDS));
            ch.pipeline().addLast("idle-close", new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                    if (evt instanceof IdleStateEvent) {
                        if (conn.isIdle()) {
                            ctx.close();
                        }
                        return;
                    }
                    super.userEventTriggered(ctx, evt);
                }
            });
            conn.init(ssl, ready);
            connect.addListener(f -> {
                if (!f.isSuccess()) {
                    Throwable c = f.cause();
                    Rejection.Reason reason = c instanceof ConnectTimeoutException ? Rejection.Reason.CONNECT_TIMEOUT
                            : Rejection.Reason.UPSTREAM_REFUSED;
                    String what = c instanceof ConnectException || c instanceof ConnectTimeoutException ? c.getMessage()
                            : c.toString();
                    ready.tryFailure(new RejectedException(new Rejection(reason, "HBONE to " + key.destination() + ": " + what)));
                }
            });
            ready.addListener(f -> {
                if (f.isSuccess()) {
                    connections.computeIfAbsent(key, k -> new ArrayList<>(2)).add(conn);
                    size++;
                    ch.closeFuture().addListener(c -> {
                        List<HboneConnection> l = connections.get(key);
                        if (l != null && l.remove(conn)) {
                            size--;
                            if (l.isEmpty()) {
                                connections.remove(key);
                            }
                        }
                    });
                    log.debug("HBONE connection to {} ({}) ready", key.destination(), key.expectedIdentity());
                } else {
                    ch.close();
                }
            });
            return ready;
        }

        void closeAll() {
            // copy first: each close removes its connection from the map (closeFuture listener)
            List<HboneConnection> all = new ArrayList<>();
            connections.values().forEach(all::addAll);
            for (HboneConnection c : all) {
                c.channel().close();
            }
        }
    }
}
