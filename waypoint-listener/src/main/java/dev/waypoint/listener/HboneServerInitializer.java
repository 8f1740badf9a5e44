package dev.waypoint.listener;

import dev.waypoint.transport.FlushBatching;
import dev.waypoint.transport.HandlerNames;
import dev.waypoint.transport.IdleTimeout;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parent pipeline of one HBONE connection:
 * {@code tls → alpn} and, once ALPN says {@code h2}, {@code idle → h2 (Http2FrameCodec) → mux
 * (Http2MultiplexHandler) → streams (ChildStreams)}; every stream gets {@link ConnectHandler} as its
 * only handler.
 * Anything that is not TLS with a verified client certificate and ALPN {@code h2} is closed.
 */
final class HboneServerInitializer extends ChannelInitializer<SocketChannel> {
    private static final Logger log = LoggerFactory.getLogger(HboneServerInitializer.class);

    /** Every HBONE frame at DEBUG under this logger ({@link dev.waypoint.transport.ControlFrameFloods}'s frame logger). */
    private static final Logger FRAMES = LoggerFactory.getLogger("hbone.frames");

    private final ListenerSettings settings;
    private final Supplier<SslContext> tls;
    private final ChannelGroup connections;
    private final ConnectHandler.Deps deps;

    HboneServerInitializer(ListenerSettings settings, Supplier<SslContext> tls, ChannelGroup connections,
                           ConnectHandler.Deps deps) {
        this.settings = settings;
        this.tls = tls;
        this.connections = connections;
        this.deps = deps;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        connections.add(ch);
        SslHandler ssl = tls.get().newHandler(ch.alloc());
        // "sockets that never handshake": closed after the handshake timeout
        ssl.setHandshakeTimeoutMillis(settings.handshakeTimeout().toMillis());
        dev.waypoint.transport.HboneTls.batchRecords(ssl);
        ch.pipeline().addLast(HandlerNames.TLS, ssl);
        ch.pipeline().addLast(HandlerNames.FLUSH, FlushBatching.newHandler());
        ch.pipeline().addLast(HandlerNames.ALPN, new Alpn());
    }

    private final class Alpn extends ApplicationProtocolNegotiationHandler {
        Alpn() {
            super("none");
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) throws Exception {
            log.debug("HBONE connection from {}: TLS done, ALPN {}", ctx.channel().remoteAddress(), protocol);
            if (!ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                log.debug("closing {}: ALPN {} (expected: h2)", ctx.channel().remoteAddress(), protocol);
                ctx.close();
                return;
            }
            ChannelPipeline p = ctx.pipeline();
            // PRIORITY and WINDOW_UPDATE floods end the connection, as Envoy's limits do (Netty bounds the
            // others); its frame logger counts the DATA frames sent, and logs every frame under hbone.frames
            Http2FrameCodecBuilder builder = dev.waypoint.transport.ControlFrameFloods.serverCodec(FRAMES.getName());
            Http2FrameCodec codec = builder
                    .initialSettings(Http2Settings.defaultSettings()
                            .maxConcurrentStreams(settings.maxConcurrentStreams())
                            .initialWindowSize(settings.streamWindow())
                            .maxFrameSize(settings.maxFrameSize())
                            .maxHeaderListSize(settings.maxHeaderListSize()))
                    // (a server must not send SETTINGS_ENABLE_PUSH: RFC 9113 §6.5.2)
                    .gracefulShutdownTimeoutMillis(settings.drainTimeout().toMillis())
                    .validateHeaders(true)
                    // Netty's limit on the RST_STREAMs written counts the wrong ones: StreamErrorLimit instead
                    .encoderEnforceMaxRstFramesPerWindow(0, 0)
                    .build();
            // idle first so it sees every frame; the connection idle check needs the codec
            p.addLast(HandlerNames.IDLE, new IdleTimeout(settings.connectionIdleTimeout().toMillis(), TimeUnit.MILLISECONDS));
            p.addLast(HandlerNames.IDLE_CLOSE, new CloseWhenNoStreams(codec));
            p.addLast(HandlerNames.H2, codec);
            p.addLast(HandlerNames.STREAM_ERRORS, new dev.waypoint.transport.StreamErrorLimit());
            ConcurrentStreams limit = new ConcurrentStreams(codec, settings.maxConcurrentStreams());
            p.addLast("concurrent-streams", limit);
            dev.waypoint.transport.ChildStreams streams = new dev.waypoint.transport.ChildStreams();
            p.addLast(HandlerNames.MUX, new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel stream) {
                    streams.track(stream);
                    dev.waypoint.transport.TunnelFrameAdapter.returnsWindow(stream);
                    if (limit.admit(stream)) {
                        stream.pipeline().addLast(HandlerNames.CONNECT, new ConnectHandler(deps));
                    }
                }
            }));
            // a tunnel whose reading is held back outlives its connection unless closed with it
            p.addLast(HandlerNames.STREAMS, streams);
            // ztunnel's keepalive (PING 10 s, closed after 20 s unanswered): a client gone without a FIN is found
            p.addLast("keepalive", new dev.waypoint.transport.Http2Keepalive(dev.waypoint.transport.Http2Keepalive.INTERVAL,
                    dev.waypoint.transport.Http2Keepalive.TIMEOUT));
            // last: connection errors the codec already answered (GOAWAY) and resets, logged in one line
            // instead of Netty's tail WARN with a stack trace for each (PeerFaults)
            p.addLast("errors", dev.waypoint.transport.PeerFaults.connectionSink(log));
            // the connection window is not a SETTINGS value: raise it with a WINDOW_UPDATE
            int delta = settings.connectionWindow() - Http2CodecUtilDefaults.DEFAULT_WINDOW;
            if (delta > 0) {
                codec.connection().local().flowController()
                        .incrementWindowSize(codec.connection().connectionStream(), delta);
            }
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** Closes (GOAWAY) a connection that stayed idle with no open stream. */
    private static final class CloseWhenNoStreams extends ChannelInboundHandlerAdapter {
        private final Http2FrameCodec codec;

        CloseWhenNoStreams(Http2FrameCodec codec) {
            this.codec = codec;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                if (codec.connection().numActiveStreams() == 0) {
                    ctx.close();
                }
                return;
            }
            super.userEventTriggered(ctx, evt);
        }
    }

    private static final class Http2CodecUtilDefaults {
        static final int DEFAULT_WINDOW = 65_535;
    }
}
