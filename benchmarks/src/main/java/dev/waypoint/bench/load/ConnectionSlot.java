package dev.waypoint.bench.load;

import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.ConnectException;
import java.util.concurrent.TimeUnit;

/**
 * One HBONE connection of the load (mTLS HTTP/2, as a source ztunnel opens it) and its tunnels.
 * Reconnects after a failure until the run stops. Everything here runs on {@link #loop}.
 */
final class ConnectionSlot {
    private static final long RETRY_MILLIS = 100;

    final LoadRunner run;
    final EventLoop loop;
    final Stats stats;
    final TunnelSlot[] tunnels;
    /** Requests in flight when the run closed this slot. */
    long incomplete;

    /** The live HBONE connection (TLS done), or null. */
    Channel channel;
    private boolean connecting;
    private ScheduledFuture<?> ticker;

    ConnectionSlot(LoadRunner run, EventLoop loop, int index, int tunnelCount) {
        this.run = run;
        this.loop = loop;
        this.stats = new Stats(run.timelineSeconds());
        this.tunnels = new TunnelSlot[tunnelCount];
        for (int t = 0; t < tunnelCount; t++) {
            // global index t * connections + index: consecutive due times alternate between connections
            tunnels[t] = new TunnelSlot(this, t * run.spec.connections() + index);
        }
    }

    void start() {
        loop.execute(this::connect);
        ticker = loop.scheduleAtFixedRate(this::tick, 100, 100, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        long now = System.nanoTime();
        for (TunnelSlot t : tunnels) {
            t.checkTimeout(now);
        }
    }

    void error(String kind) {
        stats.error(kind, run.inWindow(System.nanoTime()));
    }

    private void connect() {
        if (run.stopping || connecting || channel != null) {
            return;
        }
        connecting = true;
        new Bootstrap()
                .group(loop)
                .channel(EventLoops.clientChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(10_000, run.spec.requestTimeout().toMillis()))
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        init(ch);
                    }
                })
                .connect(run.spec.target())
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        connecting = false;
                        Throwable c = f.cause();
                        error(c instanceof ConnectTimeoutException ? "connect_timeout"
                                : c instanceof ConnectException ? "connect_refused" : "connect_error");
                        retryLater();
                    }
                });
    }

    private void init(SocketChannel ch) {
        SslHandler ssl = run.tls.newHandler(ch.alloc());
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings().initialWindowSize(run.spec.streamWindow()).pushEnabled(false))
                .gracefulShutdownTimeoutMillis(0)
                .build();
        ch.pipeline().addLast("tls", ssl);
        ch.pipeline().addLast("h2", codec);
        ch.pipeline().addLast("mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                ctx.close(); // no server-initiated streams
            }
        }));
        boolean[] tcpUp = new boolean[1];
        ch.pipeline().addLast("conn", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                tcpUp[0] = true;
                ctx.fireChannelActive();
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg); // SETTINGS, PING, GOAWAY
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                onClosed(ctx.channel());
                ctx.fireChannelInactive();
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close();
            }
        });
        ssl.handshakeFuture().addListener(f -> {
            if (!f.isSuccess()) {
                if (tcpUp[0]) { // (a failed TCP connect fails the handshake too: counted once, above)
                    error("tls");
                }
                ch.close();
                return;
            }
            int delta = run.spec.connectionWindow() - 65_535;
            if (delta > 0) {
                try {
                    codec.connection().local().flowController().incrementWindowSize(codec.connection().connectionStream(), delta);
                    ch.flush();
                } catch (Exception e) {
                    // the connection is going away; its close handles it
                }
            }
            connecting = false;
            channel = ch;
            for (TunnelSlot t : tunnels) {
                t.open();
            }
        });
    }

    private void onClosed(Channel ch) {
        if (channel == ch) {
            channel = null;
            for (TunnelSlot t : tunnels) {
                t.connectionLost();
            }
            if (!run.stopping) {
                error("connection_closed");
            }
        }
        connecting = false;
        retryLater();
    }

    private void retryLater() {
        if (!run.stopping) {
            loop.schedule(this::connect, RETRY_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    /** Stops: counts what is still in flight and closes the connection (its streams close with it). */
    void close() {
        if (ticker != null) {
            ticker.cancel(false);
        }
        for (TunnelSlot t : tunnels) {
            if (t.inFlight) {
                incomplete++;
            }
            t.close();
        }
        if (channel != null) {
            channel.close();
        }
    }
}
