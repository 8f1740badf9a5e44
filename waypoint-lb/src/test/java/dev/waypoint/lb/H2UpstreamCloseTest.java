package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An h2c upstream (on loopback, 127.200.3.1) that closes its connection right after a response:
 * a response it finished (END_STREAM both ways) reaches the exchange whole however late the
 * exchange reads it — its stream channel holds it while reads are held back (the downstream is
 * slow) — and one it cut short ends the exchange as a closed upstream at once, with nothing read,
 * instead of waiting for a timeout.
 */
class H2UpstreamCloseTest {
    static final UpstreamSettings SETTINGS = UpstreamSettings.defaults(15008);
    static final int BODY = 32 * 1024;
    static EventLoopGroup group;
    static Channel server;

    final Upstreams upstreams = new Upstreams(SETTINGS, new dev.waypoint.lb.hbone.HbonePool(SETTINGS, () -> null));

    @BeforeAll
    static void start() throws InterruptedException {
        group = EventLoops.newGroup(1, "h2-close-test");
        server = new ServerBootstrap().group(group).channel(EventLoops.serverChannel())
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().gracefulShutdownTimeoutMillis(0).build());
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                            @Override
                            protected void initChannel(Http2StreamChannel s) {
                                s.pipeline().addLast(new AnswerThenClose());
                            }
                        }));
                    }
                })
                .bind(new InetSocketAddress("127.200.3.1", 0)).sync().channel();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        server.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /**
     * {@code /complete}: 200 with {@value #BODY} bytes and END_STREAM; {@code /cut}: 200 and half of
     * them, no END_STREAM. Then the connection is closed (GOAWAY, no grace).
     */
    private static final class AnswerThenClose extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame h && h.isEndStream()) {
                boolean complete = "/complete".contentEquals(h.headers().path());
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
                        .setInt("content-length", BODY)));
                byte[] body = new byte[complete ? BODY : BODY / 2];
                Arrays.fill(body, (byte) 'x');
                ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), complete))
                        .addListener(f -> ctx.channel().parent().close());
            }
            ReferenceCountUtil.release(msg);
        }
    }

    /** What the exchange saw: the status, the body bytes, whether it ended (LastHttpContent) or was told the upstream closed. */
    record Seen(int status, int bytes, boolean last, boolean closed) {}

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "/complete, 32768, true,  false",
            "/cut,      0,     false, true",
    })
    void aResponseTheUpstreamFinishedBeforeClosingIsReadWhole(String path, int bytes, boolean last, boolean closed)
            throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        EventLoop loop = group.next();
        CompletableFuture<Seen> seen = new CompletableFuture<>();
        int[] status = {0};
        int[] got = {0};
        Channel[] held = new Channel[1];
        HttpUpstreamPool.Owner owner = PoolExchange.owner(msg -> {
            if (msg instanceof HttpResponse r) {
                status[0] = r.status().code();
            }
            if (msg instanceof HttpContent c) {
                got[0] += c.content().readableBytes();
            }
            boolean end = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (end) {
                seen.complete(new Seen(status[0], got[0], true, false));
                pool.release(held[0], null, true, Release.END);
            } else {
                held[0].read();
            }
        }, () -> seen.complete(new Seen(status[0], got[0], false, true)));
        CompletableFuture<Channel> stream = new CompletableFuture<>();
        Endpoint endpoint = new Endpoint(new HostPort(((InetSocketAddress) server.localAddress()).getAddress(),
                ((InetSocketAddress) server.localAddress()).getPort()), null, null);
        loop.execute(() -> pool.acquire(endpoint, true, null, loop, owner, ConnectionOptions.defaults(SETTINGS))
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        stream.completeExceptionally(f.cause());
                        return;
                    }
                    Channel ch = (Channel) f.getNow();
                    held[0] = ch;
                    ch.writeAndFlush(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path));
                    stream.complete(ch); // not read: the downstream is slow
                }));
        Channel ch = stream.get(10, TimeUnit.SECONDS);
        // the upstream answered and closed its connection while nothing was read
        assertThat(ch.parent().closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
        // its channelInactive, queued at its close, has run once it is deregistered
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !ch.parent().isRegistered());
        if (last) {
            loop.execute(ch::read); // the slow downstream takes it now
        } // (else nothing is read: the stream must end on its own)
        Seen s = seen.get(10, TimeUnit.SECONDS);
        assertThat(s.last()).as("read to its end").isEqualTo(last);
        assertThat(s.closed()).as("told the upstream closed").isEqualTo(closed);
        if (last) {
            assertThat(s.status()).isEqualTo(200);
            assertThat(s.bytes()).isEqualTo(bytes);
        } else {
            assertThat(s.bytes()).isZero(); // never read: what it held went with it
        }
        assertThat(ch.closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    }
}
