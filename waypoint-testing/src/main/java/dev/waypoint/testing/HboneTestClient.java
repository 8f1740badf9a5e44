package dev.waypoint.testing;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.transport.ChildStreams;
import dev.waypoint.transport.EventLoops;
import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Plays a source node's ztunnel: one mTLS HTTP/2 connection to a waypoint (or any HBONE server),
 * presenting a workload certificate, on which it opens {@code CONNECT} tunnels.
 */
public final class HboneTestClient implements AutoCloseable {
    private final Channel connection;

    private HboneTestClient(Channel connection) {
        this.connection = connection;
    }

    /** Connects and completes the TLS handshake (ALPN h2), presenting {@code identity}. */
    public static HboneTestClient connect(EventLoopGroup group, InetSocketAddress server, TlsMaterial identity)
            throws Exception {
        return connect(group, server, identity.clientContext(), 4 << 20);
    }

    /** As {@link #connect(EventLoopGroup, InetSocketAddress, TlsMaterial)} with an explicit context and window. */
    public static HboneTestClient connect(EventLoopGroup group, InetSocketAddress server, SslContext tls, int streamWindow)
            throws Exception {
        Promise<Void> ready = group.next().newPromise();
        Channel ch = new Bootstrap()
                .group(group)
                .channel(EventLoops.clientChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        SslHandler ssl = tls.newHandler(c.alloc());
                        c.pipeline().addLast(ssl);
                        Http2FrameCodecBuilder codec = Http2FrameCodecBuilder.forClient()
                                .initialSettings(Http2Settings.defaultSettings().initialWindowSize(streamWindow))
                                // a test client may break the server's limits (hostile-client tests): sending an
                                // oversized header block must reach the server instead of failing here, whether or
                                // not the server's SETTINGS arrived first
                                .encoderIgnoreMaxHeaderListSize(true);
                        if (Boolean.getBoolean("waypoint.test.frames")) { // -Dwaypoint.test.frames=true: log every frame
                            codec.frameLogger(new io.netty.handler.codec.http2.Http2FrameLogger(
                                    io.netty.handler.logging.LogLevel.WARN, "hbone-client"));
                        }
                        c.pipeline().addLast(codec.build());
                        c.pipeline().addLast("client-mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        // a test that fails with a tunnel's reading held back must not leave its frames behind
                        c.pipeline().addLast("client-streams", new ChildStreams());
                        c.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ReferenceCountUtil.release(msg); // SETTINGS, PING, GOAWAY
                            }
                        });
                        ssl.handshakeFuture().addListener(f -> {
                            if (f.isSuccess()) {
                                ready.trySuccess(null);
                            } else {
                                ready.tryFailure(f.cause());
                            }
                        });
                        c.closeFuture().addListener(f -> ready.tryFailure(new IllegalStateException("connection closed")));
                    }
                })
                .connect(server).sync().channel();
        if (!ready.await(10, TimeUnit.SECONDS)) {
            ch.close();
            throw new IllegalStateException("TLS handshake with " + server + " timed out");
        }
        if (!ready.isSuccess()) {
            ch.close();
            throw new IllegalStateException("TLS handshake with " + server + " failed", ready.cause());
        }
        return new HboneTestClient(ch);
    }

    /** The HBONE connection. */
    public Channel channel() {
        return connection;
    }

    /** The answer to a CONNECT: status, body (for non-200), and the tunnel when 200. */
    public record Answer(int status, Http2Headers headers, String body, Channel tunnel) {}

    /**
     * Sends {@code CONNECT authority} with {@code extra} headers and waits for the answer. On 200
     * the tunnel channel speaks {@link ByteBuf}s (a {@link TunnelFrameAdapter} is installed),
     * with {@code AUTO_READ} on; add your handlers with {@code tunnel.pipeline().addLast}.
     */
    public Future<Answer> connect(String authority, Map<String, String> extra) {
        Http2Headers h = new DefaultHttp2Headers().method("CONNECT").authority(authority);
        extra.forEach(h::add);
        return send(h, false);
    }

    /** Sends arbitrary request headers (for negative tests: GET, extended CONNECT, ...). */
    public Future<Answer> send(Http2Headers headers, boolean endStream) {
        Promise<Answer> answer = connection.eventLoop().newPromise();
        new Http2StreamChannelBootstrap(connection)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ChildStreams streams = connection.pipeline().get(ChildStreams.class);
                        if (streams != null) {
                            streams.track(ch);
                        }
                        ch.pipeline().addLast("answer", new AnswerHandler(answer));
                    }
                })
                .open().addListener(f -> {
                    if (!f.isSuccess()) {
                        answer.tryFailure(f.cause());
                        return;
                    }
                    ((Http2StreamChannel) f.getNow()).writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream))
                            .addListener(w -> {
                                if (!w.isSuccess()) {
                                    answer.tryFailure(w.cause());
                                }
                            });
                });
        return answer;
    }

    private static final class AnswerHandler extends ChannelInboundHandlerAdapter {
        private final Promise<Answer> answer;
        private Http2Headers headers;
        private final StringBuilder body = new StringBuilder();

        AnswerHandler(Promise<Answer> answer) {
            this.answer = answer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h && headers == null) {
                    headers = h.headers();
                    int status = Integer.parseInt(headers.status().toString());
                    if (status == 200) {
                        ctx.pipeline().addAfter(ctx.name(), "tunnel", new TunnelFrameAdapter());
                        ctx.pipeline().remove(this);
                        answer.trySuccess(new Answer(200, headers, "", ctx.channel()));
                        return;
                    }
                    if (h.isEndStream()) {
                        answer.trySuccess(new Answer(status, headers, "", null));
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    body.append(d.content().toString(StandardCharsets.UTF_8));
                    if (d.isEndStream()) {
                        answer.trySuccess(new Answer(Integer.parseInt(headers.status().toString()), headers, body.toString(), null));
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame r) {
                answer.tryFailure(new IllegalStateException("stream reset: " + r.errorCode()));
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            answer.tryFailure(cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answer.tryFailure(new IllegalStateException("stream closed without an answer"));
            ctx.fireChannelInactive();
        }
    }

    @Override
    public void close() {
        connection.close().awaitUninterruptibly();
    }
}
