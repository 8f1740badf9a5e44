package dev.waypoint.lb;

import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.IdleTimeout;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Set;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Upstream HTTP connections per event loop and endpoint, each riding on an outbound HBONE stream
 * (or a plaintext socket): HTTP/1.1 connections are kept alive and reused one request at a time;
 * h2c connections carry concurrent requests as streams, each up to its peer's stream limit (a request
 * finding them all full opens one more, and a full one takes streams again as soon as one ends).
 *
 * <p>An exchange channel handed out speaks Netty {@code HttpObject}s, has {@code AUTO_READ} off
 * and ends with an {@link UpstreamTail} handler that forwards what it reads to the current owner.
 *
 * <p><b>Ends.</b> An upstream that ends its side (FIN from a plaintext pod, END_STREAM on the
 * outbound CONNECT stream, as ztunnel sends when the pod closes) is as good as closed: the owner
 * hears {@link Owner#upstreamClosed()} at once (after any response the codec could still
 * complete) and the connection is never reused. Idle connections close after the HTTP idle
 * timeout; closed ones leave the pool at once; {@link #prune} drops those to addresses that left
 * the config. A connection the pool is done with after a complete exchange ends as closing a TCP
 * socket does ({@link #end}: END_STREAM on an HBONE tunnel, not RST_STREAM); one abandoned in
 * the middle of an exchange ({@link Release#ABANDON}) is closed at once.
 *
 * <h2>Threading</h2>
 * Per-loop state, touched only from its loop (the loop of the request that asks).
 */
final class HttpUpstreamPool implements ExchangeChannels {
    /** Name of the {@link UpstreamTail} handler in every exchange channel. */
    static final String UPSTREAM_TAIL = "upstream-tail";
    /** Name of the HTTP/1.1 client codec of an HTTP/1.1 exchange channel. */
    static final String H1 = "h1";
    /** Name of the idle timer of an HTTP/1.1 exchange channel (the pool's HTTP idle timeout). */
    static final String IDLE = "idle";
    private final Upstreams upstreams;
    /** Options of connections acquired without any (the waypoint's defaults). */
    private final ConnectionOptions defaults;
    private final Map<EventLoop, LoopState> loops = new ConcurrentHashMap<>();

    HttpUpstreamPool(Upstreams upstreams, ConnectionOptions defaults) {
        this.upstreams = upstreams;
        this.defaults = defaults;
    }

    /** Receives what an exchange channel reads. All calls on the event loop. */
    interface Owner {
        void upstreamRead(Object msg);

        void upstreamReadComplete();

        void upstreamWritable();

        void upstreamClosed();

        /**
         * The HTTP/2 upstream refused the stream ({@code RST_STREAM REFUSED_STREAM}: the request
         * was not processed, RFC 9113 §8.7); otherwise as {@link #upstreamClosed()}.
         */
        default void upstreamRefused() {
            upstreamClosed();
        }
    }

    /** Tail handler of an exchange channel: forwards to the owner, or closes an idle connection that speaks. */
    static final class UpstreamTail extends ChannelInboundHandlerAdapter {
        Owner owner;
        /** How the connection was opened (HTTP/1.1: its pool key), and the requests it carried so far. */
        ConnectionOptions options;
        /** The HTTP/1.1 pool the connection goes back to (null for an HTTP/2 stream). */
        Key key;
        int uses;
        /** Its {@code maxConnectionDuration} passed: closed when its request ends, never pooled again. */
        boolean expired;
        /** Being ended ({@link #end}): still open until its peer has ended its side, never handed out again. */
        boolean ending;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (owner == null) {
                ReferenceCountUtil.release(msg); // an idle connection must not send anything
                ctx.close();
                return;
            }
            owner.upstreamRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (owner != null) {
                owner.upstreamReadComplete();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (owner != null && ctx.channel().isWritable()) {
                owner.upstreamWritable();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Owner o = owner;
            owner = null;
            if (o != null) {
                o.upstreamClosed();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent || evt instanceof io.netty.handler.codec.http2.Http2ResetFrame) {
                // (a reset stream with unread frames stays open while reads are held back: end it now)
                // the upstream ended its side: whatever response the codec could finish came before
                // this event; an unfinished one ends now instead of waiting for a timeout
                Owner o = owner;
                owner = null;
                if (o != null && evt instanceof io.netty.handler.codec.http2.Http2ResetFrame rst
                        && rst.errorCode() == io.netty.handler.codec.http2.Http2Error.REFUSED_STREAM.code()) {
                    o.upstreamRefused();
                } else if (o != null) {
                    o.upstreamClosed(); // the owner closes the channel, never pools it again
                } else {
                    ending = true;
                    ctx.close(); // an idle connection's peer ended its side: END_STREAM back (TunnelFrameAdapter)
                }
            } else if (evt instanceof IdleStateEvent && owner == null) {
                end(ctx.channel());
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * Pool key: where and as whom, not the whole endpoint record. Made once per request and kept
     * by the connection for its release; the hash (over the connection options too) is taken once.
     */
    private static final class Key {
        private final dev.waypoint.model.mesh.HostPort address;
        private final dev.waypoint.model.mesh.SpiffeId identity;
        private final boolean h2;
        private final ConnectionOptions options;
        /** The source identity of the requests (the tunnel's TLS peer): connections are not shared across clients (HboneKey). */
        private final dev.waypoint.model.mesh.SpiffeId tenant;
        private final int hash;

        Key(Endpoint e, boolean h2, ConnectionOptions options, TunnelContext tunnel) {
            this.address = e.address();
            this.identity = e.identity();
            this.h2 = h2;
            this.options = options;
            this.tenant = tunnel == null ? null : tunnel.peer();
            this.hash = java.util.Objects.hash(address, identity, h2, options, tenant);
        }

        dev.waypoint.model.mesh.HostPort address() {
            return address;
        }

        @Override
        public boolean equals(Object o) {
            return o == this || o instanceof Key k && hash == k.hash && h2 == k.h2 && address.equals(k.address)
                    && java.util.Objects.equals(identity, k.identity) && options.equals(k.options)
                    && java.util.Objects.equals(tenant, k.tenant);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /**
     * An h2c connection's streams. It takes new streams while fewer than {@link #limit} are open
     * (a request finding every connection of its key at the limit opens another, as Envoy's
     * HTTP/2 pool does); once it has opened {@code maxRequestsPerConnection} streams, outlived its
     * {@code maxConnectionDuration} or received a GOAWAY it is retired (no new stream) and closed
     * when its last stream ends.
     */
    private static final class H2Uses {
        /** The connection's codec (its streams, the peer's SETTINGS, GOAWAY). */
        final Http2FrameCodec codec;
        /**
         * Its idle timer. Stream frames never cross it (the multiplexer routes them to the stream
         * channels), so a stream opening or ending is counted as activity here: the connection is
         * idle once no stream opened or ended for the idle timeout and none is open (Envoy's
         * {@code idle_timeout}: no active requests), PINGs or not.
         */
        final IdleTimeout idle;
        /**
         * The connection's stream channels, closed with it (one whose reading is held back would
         * outlive it) unless it had finished both ways (a whole response): that is still read to its end.
         */
        final dev.waypoint.transport.ChildStreams children = dev.waypoint.transport.ChildStreams.keepingFinished();
        int opened;
        int open;
        boolean retired;
        /** The peer's first SETTINGS arrived (until then its limit is not known). */
        boolean settingsSeen;

        H2Uses(Http2FrameCodec codec, IdleTimeout idle) {
            this.codec = codec;
            this.idle = idle;
        }

        /**
         * Streams the peer allows at once: its SETTINGS_MAX_CONCURRENT_STREAMS once known; before
         * its SETTINGS arrive, 100 (RFC 9113 §6.5.2: "SHOULD NOT be smaller than 100"), so a burst
         * of requests on a new connection cannot overrun a limit it has not heard yet.
         */
        int peerMaxStreams() {
            // (Netty keeps the peer's SETTINGS_MAX_CONCURRENT_STREAMS on the local endpoint: the streams we may open)
            int max = codec.connection().local().maxActiveStreams();
            return settingsSeen ? max : Math.min(max, 100);
        }

        /**
         * Streams it carries at once: the peer's SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2;
         * beyond it Netty would fail a stream's HEADERS and the request would end 503), or the
         * DestinationRule's {@code http.maxConcurrentStreams} below it.
         */
        int limit(ConnectionOptions options) {
            int limit = peerMaxStreams();
            return options.maxConcurrentStreams() > 0 ? Math.min(limit, options.maxConcurrentStreams()) : limit;
        }

        /** Whether it may open another stream now. */
        boolean hasRoom(Channel parent, ConnectionOptions options) {
            if (retired || !parent.isActive()) {
                return false;
            }
            if (codec.connection().goAwayReceived() || codec.connection().goAwaySent()) {
                // the peer takes no new stream on it (RFC 9113 §6.8), or it is closing (its idle
                // timer, its keepalive, its tunnel ended): no new stream either way
                retired = true;
                if (open == 0) {
                    parent.eventLoop().execute(parent::close); // not while the caller walks the pool's list
                }
                return false;
            }
            return open < limit(options);
        }
    }

    private static final class LoopState {
        final Map<Key, ArrayDeque<Channel>> idleH1 = new HashMap<>();
        /** h2c connections per key, oldest first: dialing ones and open ones not retired. */
        final Map<Key, List<Future<Channel>>> h2 = new HashMap<>();
        /** Channels whose close already takes them out of {@link #idleH1}. */
        final Map<Channel, Boolean> watched = new java.util.IdentityHashMap<>();
    }

    private LoopState state(EventLoop loop) {
        return loops.computeIfAbsent(loop, l -> new LoopState());
    }

    /** An exchange channel to {@code endpoint} owned by {@code owner}. Call on {@code loop}. */
    @Override
    public Future<Channel> acquire(Endpoint endpoint, boolean h2, TunnelContext tunnel, EventLoop loop, Owner owner) {
        return acquire(endpoint, h2, tunnel, loop, owner, defaults);
    }

    /**
     * An exchange channel to {@code endpoint} owned by {@code owner}, on a connection opened and
     * reused per {@code options} (a DestinationRule's connectionPool). Call on {@code loop}.
     */
    @Override
    public Future<Channel> acquire(Endpoint endpoint, boolean h2, TunnelContext tunnel, EventLoop loop, Owner owner,
                                   ConnectionOptions options) {
        LoopState st = state(loop);
        Key key = new Key(endpoint, h2, options, tunnel);
        Promise<Channel> result = loop.newPromise();
        if (!h2) {
            // (an emptied queue stays for the connection's release: a close of one of its
            // connections, or a prune, removes it)
            ArrayDeque<Channel> idle = st.idleH1.get(key);
            while (idle != null && !idle.isEmpty()) {
                Channel ch = idle.pollFirst();
                UpstreamTail tail = ch.pipeline().get(UpstreamTail.class);
                if (ch.isActive() && tail != null && !tail.ending) {
                    tail.owner = owner;
                    tail.uses++;
                    return result.setSuccess(ch);
                }
            }
            upstreams.connect(endpoint, tunnel, loop, options).addListener(f -> {
                if (!f.isSuccess()) {
                    result.setFailure(f.cause());
                    return;
                }
                Channel ch = (Channel) f.getNow();
                ch.pipeline().addLast(H1, new HttpClientCodec());
                ch.pipeline().addLast(IDLE, new IdleTimeout(options.idleMillis(), TimeUnit.MILLISECONDS));
                UpstreamTail ex = new UpstreamTail();
                ex.owner = owner;
                ex.options = options;
                ex.key = key;
                ex.uses = 1;
                ch.pipeline().addLast(UPSTREAM_TAIL, ex);
                if (options.maxConnectionMillis() > 0) {
                    // tcp.maxConnectionDuration (Envoy's max_connection_duration): drained then, i.e. an
                    // idle connection closes at once and a busy one when its exchange ends (release)
                    ScheduledFuture<?> drain = ch.eventLoop().schedule(() -> {
                        ex.expired = true;
                        if (ex.owner == null) {
                            end(ch);
                        }
                    }, options.maxConnectionMillis(), TimeUnit.MILLISECONDS);
                    ch.closeFuture().addListener(c -> drain.cancel(false));
                }
                result.setSuccess(ch);
            });
            return result;
        }
        List<Future<Channel>> conns = st.h2.get(key);
        Future<Channel> picked = conns == null ? null : pickH2(conns, options);
        Future<Channel> conn = picked != null ? picked : dialH2(st, key, endpoint, tunnel, loop, options);
        conn.addListener(f -> {
            if (!f.isSuccess()) {
                result.tryFailure(f.cause());
                return;
            }
            Channel parent = (Channel) f.getNow();
            H2Uses uses = parent.attr(H2_USES).get();
            if (!uses.hasRoom(parent, options)) {
                // it filled up (or was retired) while this request waited for it: another connection
                if (uses.retired) {
                    removeH2(st, key, conn);
                }
                acquire(endpoint, true, tunnel, loop, owner, options).addListener(g -> {
                    if (g.isSuccess()) {
                        result.trySuccess((Channel) g.getNow());
                    } else {
                        result.tryFailure(g.cause());
                    }
                });
                return;
            }
            uses.opened++;
            uses.open++;
            uses.idle.activity();
            if (options.maxRequestsPerConnection() > 0 && uses.opened >= options.maxRequestsPerConnection()) {
                // maxRequestsPerConnection: this connection takes no stream after this one
                uses.retired = true;
                removeH2(st, key, conn);
            }
            new Http2StreamChannelBootstrap(parent)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel ch) {
                            uses.children.track(ch);
                            ch.pipeline().addLast("h2-http", new Http2StreamFrameToHttpObjectCodec(false, true));
                            UpstreamTail ex = new UpstreamTail();
                            ex.owner = owner;
                            ch.pipeline().addLast(UPSTREAM_TAIL, ex);
                        }
                    })
                    .open().addListener(s -> {
                        if (s.isSuccess()) {
                            ((Channel) s.getNow()).closeFuture().addListener(c -> streamEnded(parent, uses));
                            result.trySuccess((Channel) s.getNow());
                        } else {
                            streamEnded(parent, uses);
                            result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                                    "no stream to " + endpoint.address() + ": " + s.cause().getMessage())));
                        }
                    });
        });
        return result;
    }

    private static final io.netty.util.AttributeKey<H2Uses> H2_USES = io.netty.util.AttributeKey.valueOf("waypoint.h2uses");

    /**
     * The connection a new stream of {@code conns}' key goes on: the oldest open one with room
     * (streams gather on few connections; the others go idle and close), else one still dialing
     * (its limit is not known yet: the request checks again when it is up), else null. Drops
     * failed, closed and retired ones on the way.
     */
    private static Future<Channel> pickH2(List<Future<Channel>> conns, ConnectionOptions options) {
        Future<Channel> dialing = null;
        for (java.util.Iterator<Future<Channel>> it = conns.iterator(); it.hasNext(); ) {
            Future<Channel> f = it.next();
            if (!f.isDone()) {
                if (dialing == null) {
                    dialing = f;
                }
                continue;
            }
            Channel parent = f.isSuccess() ? f.getNow() : null;
            H2Uses uses = parent == null ? null : parent.attr(H2_USES).get();
            if (uses == null || !parent.isActive() || uses.retired) {
                it.remove();
                continue;
            }
            if (uses.hasRoom(parent, options)) {
                return f;
            }
            if (uses.retired) {
                it.remove(); // a GOAWAY came
            }
        }
        return dialing;
    }

    /** Opens another h2c connection for {@code key}, pooled until it closes or is retired. */
    private Future<Channel> dialH2(LoopState st, Key key, Endpoint endpoint, TunnelContext tunnel, EventLoop loop,
                                   ConnectionOptions options) {
        Future<Channel> conn = openH2(endpoint, tunnel, loop, options);
        st.h2.computeIfAbsent(key, k -> new ArrayList<>(2)).add(conn);
        conn.addListener(f -> {
            if (!f.isSuccess()) {
                removeH2(st, key, conn);
                return;
            }
            Channel parent = (Channel) f.getNow();
            parent.closeFuture().addListener(c -> removeH2(st, key, conn));
            if (options.maxConnectionMillis() > 0) {
                // tcp.maxConnectionDuration: no new stream after it; closed (GOAWAY) with its last one
                ScheduledFuture<?> drain = parent.eventLoop().schedule(() -> {
                    H2Uses uses = parent.attr(H2_USES).get();
                    uses.retired = true;
                    removeH2(st, key, conn);
                    if (uses.open == 0) {
                        parent.close();
                    }
                }, options.maxConnectionMillis(), TimeUnit.MILLISECONDS);
                parent.closeFuture().addListener(c -> drain.cancel(false));
            }
        });
        return conn;
    }

    /** Takes {@code conn} out of {@code key}'s connections (and an emptied entry with it). */
    private static void removeH2(LoopState st, Key key, Future<Channel> conn) {
        List<Future<Channel>> conns = st.h2.get(key);
        if (conns != null && conns.remove(conn) && conns.isEmpty()) {
            st.h2.remove(key);
        }
    }

    /** A stream of {@code parent} ended: a retired connection closes with its last stream. */
    private static void streamEnded(Channel parent, H2Uses uses) {
        uses.open--;
        uses.idle.activity();
        if (uses.retired && uses.open == 0) {
            parent.close();
        }
    }

    private Future<Channel> openH2(Endpoint endpoint, TunnelContext tunnel, EventLoop loop, ConnectionOptions options) {
        Promise<Channel> result = loop.newPromise();
        upstreams.connect(endpoint, tunnel, loop, options).addListener(f -> {
            if (!f.isSuccess()) {
                result.setFailure(f.cause());
                return;
            }
            Channel ch = (Channel) f.getNow();
            // an h2c connection reads continuously: its own stream windows bound what it buffers
            ch.config().setOption(ChannelOption.AUTO_READ, true);
            Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                    .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(1 << 20))
                    .validateHeaders(true)
                    .build();
            if (ch instanceof Http2StreamChannel) {
                // the h2c connection closing (after its GOAWAY) ends the HBONE tunnel with END_STREAM, no reset
                ch.pipeline().addLast("h2c-finish", dev.waypoint.transport.HalfClose.FinishOnClose.INSTANCE);
            }
            IdleTimeout idle = new IdleTimeout(options.idleMillis(), TimeUnit.MILLISECONDS);
            H2Uses uses = new H2Uses(codec, idle);
            ch.attr(H2_USES).set(uses);
            ch.pipeline().addLast("h2c-streams", uses.children); // before the codec (ChildStreams.keepingFinished)
            ch.pipeline().addLast("h2c", codec);
            ch.pipeline().addLast("h2c-mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void handlerAdded(ChannelHandlerContext c) {
                    c.close(); // no pushed or server-initiated streams
                }
            }));
            if (options.http2Keepalive() != null) {
                // http.http2KeepAlive (Envoy's connection_keepalive): PING every interval, closed when one is unanswered for timeout
                ch.pipeline().addLast("h2c-keepalive", new dev.waypoint.transport.Http2Keepalive(
                        options.http2Keepalive().interval(), options.http2Keepalive().timeout()));
            }
            ch.pipeline().addLast("idle", idle);
            ch.pipeline().addLast("idle-close", new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext c, Object msg) {
                    if (msg instanceof io.netty.handler.codec.http2.Http2SettingsFrame) {
                        c.channel().attr(H2_USES).get().settingsSeen = true; // Netty applied them already
                    }
                    ReferenceCountUtil.release(msg); // connection-level frames (SETTINGS, PING acks, GOAWAY)
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext c, Object evt) {
                    if (evt instanceof ChannelInputShutdownEvent || evt instanceof io.netty.handler.codec.http2.Http2ResetFrame) {
                        // the tunnel under this h2c connection ended (END_STREAM / FIN) or was reset:
                        // its streams cannot complete; closing at once (GOAWAY, no grace) fails them now
                        uses.retired = true;
                        codec.gracefulShutdownTimeoutMillis(0);
                        c.close();
                    } else if (evt instanceof IdleStateEvent && uses.open == 0) {
                        // no stream open, none opened or ended for the idle timeout (a stream channel
                        // still holding an unread response counts as open)
                        uses.retired = true;
                        c.close();
                    }
                    ReferenceCountUtil.release(evt);
                }
            });
            ch.read();
            result.setSuccess(ch);
        });
        return result;
    }

    /**
     * Gives an exchange channel back. An HTTP/1.1 connection after a complete exchange is pooled
     * ({@link Release#REUSE}) unless it carried its {@code maxRequestsPerConnection} or outlived
     * its {@code maxConnectionDuration}; one not pooled after a complete exchange is ended
     * ({@link #end}); one abandoned mid-exchange is closed at once (a reset on an HBONE tunnel).
     * HTTP/2 stream channels are simply closed: the stream is done, or reset when abandoned.
     */
    @Override
    public void release(Channel ch, Endpoint endpoint, boolean h2, Release how) {
        UpstreamTail ex = ch.pipeline().get(UpstreamTail.class);
        if (ex != null) {
            ex.owner = null;
        }
        if (h2 || how == Release.ABANDON || !ch.isActive()) {
            ch.close();
            return;
        }
        ConnectionOptions options = ex != null && ex.options != null ? ex.options : defaults;
        int max = options.maxRequestsPerConnection();
        if (how == Release.END || (max > 0 && ex != null && ex.uses >= max) || (ex != null && ex.expired)) {
            // (maxRequestsPerConnection: a connection that carried its share is not pooled;
            // maxConnectionDuration: one past its duration neither)
            end(ch);
            return;
        }
        LoopState st = state(ch.eventLoop());
        Key key = ex != null && ex.key != null ? ex.key : new Key(endpoint, false, options, null);
        ArrayDeque<Channel> idle = st.idleH1.get(key);
        if (idle == null) {
            idle = new ArrayDeque<>();
            st.idleH1.put(key, idle);
        }
        idle.addFirst(ch); // most recently used first: keeps few connections warm
        if (st.watched.put(ch, Boolean.TRUE) == null) {
            // a pooled connection that closes leaves the pool at once, idle or in use, and an emptied
            // entry goes with it (else a key whose connections all closed in use would keep one)
            ch.closeFuture().addListener(f -> {
                st.watched.remove(ch);
                ArrayDeque<Channel> q = st.idleH1.get(key);
                if (q != null) {
                    q.remove(ch);
                    if (q.isEmpty()) {
                        st.idleH1.remove(key);
                    }
                }
            });
        }
        ch.read(); // watch for a close (or stray bytes) while idle
    }

    /**
     * Ends an HTTP/1.1 connection the pool is done with, as a client closing a TCP connection
     * does: FIN after what was written, or on an HBONE tunnel {@code END_STREAM} and the close once
     * the destination ztunnel has ended its side too ({@link dev.waypoint.transport.HalfClose#finish}:
     * reset if it has not within a second). ztunnel passes the END_STREAM to the pod as a FIN
     * instead of a reset. A connection with TLS to the pod (a DestinationRule's) sends its
     * {@code close_notify} first. Never handed out again meanwhile.
     */
    private static void end(Channel ch) {
        UpstreamTail tail = ch.pipeline().get(UpstreamTail.class);
        if (tail != null) {
            tail.ending = true;
            tail.owner = null;
        }
        io.netty.handler.ssl.SslHandler tls = ch.pipeline().get(io.netty.handler.ssl.SslHandler.class);
        if (tls != null) {
            // close_notify is written now, so it leaves before the END_STREAM; the linger bounds
            // both if the peer takes neither
            tls.closeOutbound();
        }
        dev.waypoint.transport.HalfClose.finish(ch);
    }

    /**
     * Closes pooled connections to addresses not in {@code live} (pods that left the config):
     * idle HTTP/1.1 ones at once, HTTP/2 ones gracefully (GOAWAY; open streams finish). Requests
     * never pick such endpoints again, so these would only wait for their idle timeout. Call
     * from any thread; each loop prunes its own state.
     */
    void prune(Set<java.net.InetAddress> live) {
        loops.forEach((loop, st) -> loop.execute(() -> {
            st.idleH1.entrySet().removeIf(e -> {
                if (live.contains(e.getKey().address().address())) {
                    return false;
                }
                new ArrayList<>(e.getValue()).forEach(HttpUpstreamPool::end);
                return true;
            });
            st.h2.entrySet().removeIf(e -> {
                if (live.contains(e.getKey().address().address())) {
                    return false;
                }
                for (Future<Channel> f : e.getValue()) {
                    f.addListener(done -> {
                        if (done.isSuccess()) {
                            ((Channel) done.getNow()).close(); // Http2ConnectionHandler: GOAWAY, streams finish
                        }
                    });
                }
                return true;
            });
        }));
    }

    /** Pool keys with an HTTP/1.1 idle queue, empty or not, on every loop (tests). */
    int idleKeys() {
        int[] n = {0};
        loops.values().forEach(st -> n[0] += st.idleH1.size());
        return n[0];
    }

    /** Connections pooled on every loop (tests, the config dump): idle HTTP/1.1 plus HTTP/2. */
    int pooled() {
        int[] n = {0};
        loops.values().forEach(st -> {
            st.idleH1.values().forEach(q -> n[0] += q.size());
            st.h2.values().forEach(l -> n[0] += l.size());
        });
        return n[0];
    }
}
