package dev.waypoint.lb.hbone;

import dev.waypoint.identity.PeerIdentities;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.transport.FlushBatching;
import dev.waypoint.transport.HandlerNames;
import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

/**
 * One outbound HBONE connection: TLS (the waypoint's certificate, the destination's identity
 * checked) and HTTP/2, carrying many {@code CONNECT} streams.
 *
 * <h2>Threading</h2>
 * Confined to its channel's event loop, which is the loop of every inbound tunnel that uses it
 * (pools are per loop), so the counters need no synchronisation.
 */
final class HboneConnection {
    private final Channel channel;
    private final HboneKey key;
    private final UpstreamSettings settings;
    private Http2FrameCodec codec;
    private int streams;
    /**
     * The CONNECT stream channels, closed with the connection (a held-back one would outlive it),
     * unless it had finished both ways: what the destination sent before is still relayed.
     */
    private final dev.waypoint.transport.ChildStreams children = dev.waypoint.transport.ChildStreams.keepingFinished();
    private boolean goingAway;

    /** Open CONNECT streams of every connection of the pool (read by the stats page from another thread). */
    private final java.util.concurrent.atomic.AtomicInteger poolStreams;

    HboneConnection(Channel channel, HboneKey key, UpstreamSettings settings) {
        this(channel, key, settings, new java.util.concurrent.atomic.AtomicInteger());
    }

    HboneConnection(Channel channel, HboneKey key, UpstreamSettings settings,
                    java.util.concurrent.atomic.AtomicInteger poolStreams) {
        this.channel = channel;
        this.key = key;
        this.settings = settings;
        this.poolStreams = poolStreams;
    }

    Channel channel() {
        return channel;
    }

    /** Installs the pipeline; {@code ready} completes once TLS is verified and the peer's SETTINGS arrived. */
    void init(SslHandler ssl, Promise<HboneConnection> ready) {
        channel.pipeline().addLast("tls", ssl);
        channel.pipeline().addLast(HandlerNames.FLUSH, FlushBatching.newHandler());
        channel.pipeline().addLast("verify", new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                if (evt instanceof SslHandshakeCompletionEvent hs) {
                    if (!hs.isSuccess()) {
                        Rejection.Reason reason = hs.cause() instanceof io.netty.handler.ssl.SslHandshakeTimeoutException
                                ? Rejection.Reason.CONNECT_TIMEOUT : Rejection.Reason.UPSTREAM_REFUSED;
                        ready.tryFailure(new RejectedException(new Rejection(reason,
                                "TLS handshake with " + key.destination() + " failed: " + hs.cause().getMessage())));
                        ctx.close();
                        return;
                    }
                    String alpn = ssl.applicationProtocol();
                    SpiffeId peer = PeerIdentities.fromSession(ssl.engine().getSession()).orElse(null);
                    if (!ApplicationProtocolNames.HTTP_2.equals(alpn)) {
                        fail(ctx, "ALPN " + alpn + " (expected: h2)");
                        return;
                    }
                    if (!key.expectedIdentity().equals(peer)) {
                        // the destination ztunnel presents the destination workload's certificate
                        fail(ctx, "peer identity " + peer + " (expected: " + key.expectedIdentity() + ")");
                        return;
                    }
                    installHttp2(ctx, ready);
                    ctx.pipeline().remove(this);
                    return;
                }
                super.userEventTriggered(ctx, evt);
            }

            private void fail(ChannelHandlerContext ctx, String why) {
                ready.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                        "HBONE to " + key.destination() + ": " + why)));
                ctx.close();
            }
        });
        channel.closeFuture().addListener(f -> ready.tryFailure(new RejectedException(new Rejection(
                Rejection.Reason.UPSTREAM_REFUSED, "HBONE connection to " + key.destination() + " closed"))));
    }

    private void installHttp2(ChannelHandlerContext ctx, Promise<HboneConnection> ready) throws Exception {
        codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings()
                        .initialWindowSize(settings.streamWindow())
                        .maxFrameSize(1 << 20)
                        .pushEnabled(false))
                .validateHeaders(true)
                .build();
        // a stream whose reading is held back (its client not reading) outlives the connection unless
        // closed with it; before the codec, to see which streams had finished
        ctx.pipeline().addLast("streams", children);
        ctx.pipeline().addLast("h2", codec);
        ctx.pipeline().addLast("mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext c) {
                c.close(); // the destination must not open streams toward us
            }
        }));
        // ztunnel's keepalive: a destination that stops answering (no FIN) is closed, which fails its streams
        ctx.pipeline().addLast("keepalive", new dev.waypoint.transport.Http2Keepalive(settings.keepaliveInterval(),
                settings.keepaliveTimeout()));
        ctx.pipeline().addLast("conn-events", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                if (msg instanceof Http2SettingsFrame) {
                    ready.trySuccess(HboneConnection.this);
                } else if (msg instanceof Http2GoAwayFrame) {
                    goingAway = true;
                }
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
                c.close();
            }
        });
        int delta = settings.connectionWindow() - 65_535;
        if (delta > 0) {
            codec.connection().local().flowController().incrementWindowSize(codec.connection().connectionStream(), delta);
        }
    }

    /**
     * Whether one more CONNECT fits: the connection is open, not going away, and below both our
     * limit and the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
     */
    boolean hasCapacity() {
        if (!channel.isActive() || goingAway || codec == null || codec.connection().goAwayReceived()) {
            return false;
        }
        int peerLimit = codec.connection().local().maxActiveStreams();
        return streams < Math.min(settings.maxStreamsPerConnection(), peerLimit);
    }

    boolean isIdle() {
        return streams == 0;
    }

    /**
     * Opens a stream and sends {@code CONNECT authority} with {@code headers}; the future
     * completes with the stream, {@code AUTO_READ} off and a {@link TunnelFrameAdapter} in place,
     * once the destination answered 200.
     */
    Future<Channel> connect(CharSequence authority, Http2Headers extra, Promise<Channel> result) {
        streams++;
        boolean[] counted = {false}; // whether the stream's close will give the count back
        new Http2StreamChannelBootstrap(channel)
                .option(ChannelOption.AUTO_READ, false)
                // the tunnel's adapter returns the stream's window (TunnelFrameAdapter, "The stream's window")
                .option(io.netty.handler.codec.http2.Http2StreamChannelOption.AUTO_STREAM_FLOW_CONTROL, false)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        counted[0] = true;
                        children.track(ch);
                        poolStreams.incrementAndGet();
                        ch.closeFuture().addListener(f -> {
                            streams--;
                            poolStreams.decrementAndGet();
                        });
                        ch.pipeline().addLast("connect-response", new ConnectResponse(result, authority));
                    }
                })
                .open()
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        if (!counted[0]) {
                            streams--; // no stream channel came to life: nothing else gives it back
                        }
                        result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                                "could not open a stream to " + key.destination() + ": " + f.cause().getMessage())));
                        return;
                    }
                    Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
                    Http2Headers h = new DefaultHttp2Headers().method("CONNECT").authority(authority);
                    h.add(extra);
                    stream.writeAndFlush(new DefaultHttp2HeadersFrame(h, false)).addListener(w -> {
                        if (!w.isSuccess()) {
                            result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                                    "CONNECT to " + key.destination() + " not sent: " + w.cause().getMessage())));
                            stream.close();
                        }
                    });
                    stream.read();
                });
        return result;
    }

    /** Waits for the CONNECT response on a new stream. */
    private final class ConnectResponse extends ChannelInboundHandlerAdapter {
        private final Promise<Channel> result;
        private final CharSequence authority;

        ConnectResponse(Promise<Channel> result, CharSequence authority) {
            this.result = result;
            this.authority = authority;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame frame) {
                CharSequence status = frame.headers().status();
                if (status != null && "200".contentEquals(status) && !frame.isEndStream()) {
                    ctx.pipeline().addBefore(ctx.name(), "tunnel", new TunnelFrameAdapter());
                    ctx.pipeline().remove(this);
                    if (!result.trySuccess(ctx.channel())) {
                        ctx.close();
                    }
                    return;
                }
                // ztunnel inbound: 400 bad destination, 401 policy, 503 no workload / app refused
                result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                        "destination ztunnel " + key.destination() + " answered CONNECT " + authority + " with " + status)));
                ctx.close();
                return;
            }
            ReferenceCountUtil.release(msg);
            ctx.read();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof Http2ResetFrame reset) {
                result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                        "destination ztunnel " + key.destination() + " reset CONNECT " + authority + " ("
                                + reset.errorCode() + ")")));
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            result.tryFailure(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                    "CONNECT stream to " + key.destination() + " closed before a response")));
            ctx.fireChannelInactive();
        }
    }
}
