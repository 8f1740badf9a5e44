package dev.waypoint.testing;

import dev.waypoint.identity.PeerIdentities;
import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.transport.EventLoops;
import dev.waypoint.transport.Relay;
import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * Plays a destination node's ztunnel: terminates HBONE (mTLS HTTP/2 CONNECT) on each pod IP,
 * presenting that pod's certificate, records what it saw (authority, headers, the client's
 * identity), connects to the CONNECT authority and relays bytes — ztunnel's inbound path.
 */
public final class DestinationZtunnel implements AutoCloseable {

    /** One CONNECT as received. */
    public record Seen(InetSocketAddress listener, String authority, Map<String, String> headers, SpiffeId peer) {}

    /**
     * How the client ended one CONNECT stream, recorded when the stream closed.
     *
     * @param endStream whether the client sent END_STREAM (on DATA or trailing HEADERS)
     * @param resetCode the error code of the client's RST_STREAM, or -1 if it sent none
     */
    public record Ended(String authority, boolean endStream, long resetCode) {
        /** Ended as a TCP close does: END_STREAM, no reset. */
        public boolean graceful() {
            return endStream && resetCode < 0;
        }
    }

    private final List<Channel> servers = new ArrayList<>();
    private final ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Ended> ended = new ConcurrentLinkedQueue<>();
    private final Function<HostPort, InetSocketAddress> dialer;
    private volatile int refuseWith;
    /** Pod IPs whose ztunnel has stopped answering ({@link #freeze}). */
    private final java.util.Set<InetAddress> frozen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final int maxStreams;
    /** Every HBONE connection accepted and still open. */
    private final java.util.Set<Channel> connections = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private DestinationZtunnel(Function<HostPort, InetSocketAddress> dialer, int maxStreams) {
        this.dialer = dialer;
        this.maxStreams = maxStreams;
    }

    /**
     * Listens on {@code ip:port} for each pod IP, presenting that pod's certificate. Port 0 picks a
     * free port on the first IP and reuses it on the others (ztunnel's HBONE port is one per mesh).
     *
     * @param dialer where to connect for a CONNECT authority (identity in a real mesh: the pod itself)
     */
    public static DestinationZtunnel start(EventLoopGroup group, Map<InetAddress, TlsMaterial> pods, int port,
                                           Function<HostPort, InetSocketAddress> dialer) throws InterruptedException {
        return start(group, pods, port, dialer, 200);
    }

    /** As above, advertising {@code maxStreams} as SETTINGS_MAX_CONCURRENT_STREAMS (ztunnel: 200). */
    public static DestinationZtunnel start(EventLoopGroup group, Map<InetAddress, TlsMaterial> pods, int port,
                                           Function<HostPort, InetSocketAddress> dialer, int maxStreams)
            throws InterruptedException {
        DestinationZtunnel z = new DestinationZtunnel(dialer, maxStreams);
        int p = port;
        for (Map.Entry<InetAddress, TlsMaterial> e : pods.entrySet()) {
            Channel ch = z.bind(group, new InetSocketAddress(e.getKey(), p), e.getValue());
            p = ((InetSocketAddress) ch.localAddress()).getPort();
        }
        return z;
    }

    /** The HBONE port in use. */
    public int port() {
        return ((InetSocketAddress) servers.get(0).localAddress()).getPort();
    }

    /** Every CONNECT received so far, oldest first. */
    public List<Seen> seen() {
        return List.copyOf(seen);
    }

    /** Every CONNECT stream closed so far, in the order they closed. */
    public List<Ended> ended() {
        return List.copyOf(ended);
    }

    /**
     * Answer every following CONNECT with {@code status} instead of connecting (0: behave;
     * {@link #SILENT}: accept the stream and never answer, like a wedged ztunnel).
     */
    public static final int SILENT = -1;

    public void refuseWith(int status) {
        this.refuseWith = status;
    }

    /**
     * The ztunnel on {@code pod} stops answering without closing anything (a frozen node, a dropped
     * path): its connections, open and new, are no longer read, so nothing it receives (CONNECTs,
     * requests, PINGs) gets an answer, and no FIN is sent.
     */
    public void freeze(InetAddress pod) {
        frozen.add(pod);
    }

    /**
     * The ztunnel on {@code pod} drops its HBONE connections (closed, as a restarted node's are);
     * it goes on accepting new ones. Returns once they are closed.
     */
    public void cut(InetAddress pod) {
        for (Channel c : connections) {
            if (((InetSocketAddress) c.localAddress()).getAddress().equals(pod)) {
                c.close().awaitUninterruptibly();
            }
        }
    }

    /** First on every accepted connection: once its pod is frozen, bytes in are dropped and bytes out never leave. */
    private final class Freezer extends io.netty.channel.ChannelDuplexHandler {
        private final InetAddress pod;

        Freezer(InetAddress pod) {
            this.pod = pod;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (frozen.contains(pod)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
            if (frozen.contains(pod)) {
                ReferenceCountUtil.release(msg);
                promise.trySuccess(); // as if sent: a dropped path loses it silently
                return;
            }
            ctx.write(msg, promise);
        }
    }

    private Channel bind(EventLoopGroup group, InetSocketAddress address, TlsMaterial tls) throws InterruptedException {
        Channel ch = new ServerBootstrap()
                .group(group)
                .channel(EventLoops.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        connections.add(c);
                        c.closeFuture().addListener(f -> connections.remove(c));
                        c.pipeline().addLast(new Freezer(address.getAddress()));
                        SslHandler ssl = tls.serverContext().newHandler(c.alloc());
                        c.pipeline().addLast(ssl);
                        c.pipeline().addLast(Http2FrameCodecBuilder.forServer()
                                .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(maxStreams)).build());
                        c.pipeline().addLast("ztunnel-mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                            @Override
                            protected void initChannel(Http2StreamChannel s) {
                                s.pipeline().addLast(new EndWatch(), new Inbound(address));
                            }
                        }));
                    }
                })
                .bind(address).sync().channel();
        servers.add(ch);
        return ch;
    }

    /** First on every stream: sees the client's END_STREAM and RST_STREAM, records them at the close ({@link Ended}). */
    private final class EndWatch extends ChannelInboundHandlerAdapter {
        private String authority;
        private boolean endStream;
        private long resetCode = -1;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame h) {
                if (authority == null) {
                    authority = String.valueOf(h.headers().authority());
                }
                endStream |= h.isEndStream();
            } else if (msg instanceof io.netty.handler.codec.http2.Http2DataFrame d) {
                endStream |= d.isEndStream();
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame rst) {
                resetCode = rst.errorCode();
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            ended.add(new Ended(authority, endStream, resetCode));
            super.channelInactive(ctx);
        }
    }

    private final class Inbound extends ChannelInboundHandlerAdapter {
        private final InetSocketAddress listener;

        Inbound(InetSocketAddress listener) {
            this.listener = listener;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof Http2HeadersFrame frame)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            Http2Headers h = frame.headers();
            Map<String, String> headers = new java.util.LinkedHashMap<>();
            h.forEach(e -> headers.put(e.getKey().toString(), e.getValue().toString()));
            String authority = String.valueOf(h.authority());
            seen.add(new Seen(listener, authority, headers, PeerIdentities.fromChannel(ctx.channel()).orElse(null)));
            Channel stream = ctx.channel();
            stream.config().setOption(ChannelOption.AUTO_READ, false);
            if (refuseWith == SILENT) {
                return; // the stream stays open, unanswered
            }
            if (refuseWith != 0 || !"CONNECT".contentEquals(String.valueOf(h.method()))) {
                answer(stream, refuseWith != 0 ? refuseWith : 400, true);
                return;
            }
            InetSocketAddress target;
            try {
                target = dialer.apply(HostPort.parseAuthority(authority));
            } catch (IllegalArgumentException e) {
                answer(stream, 400, true);
                return;
            }
            new Bootstrap().group(stream.eventLoop()).channel(EventLoops.clientChannel())
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(target).addListener(f -> {
                        if (!f.isSuccess()) {
                            answer(stream, 503, true); // ztunnel: application connect failure
                            return;
                        }
                        Channel app = ((io.netty.channel.ChannelFuture) f).channel();
                        app.pipeline().remove(ChannelInboundHandlerAdapter.class);
                        answer(stream, 200, false);
                        stream.pipeline().addLast(new TunnelFrameAdapter());
                        stream.pipeline().remove(this);
                        Relay.start(stream, app);
                    });
        }

        private void answer(Channel stream, int status, boolean end) {
            var f = stream.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status(Integer.toString(status)), end));
            if (end) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    @Override
    public void close() {
        for (Channel ch : servers) {
            ch.close().awaitUninterruptibly();
        }
    }
}
