package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2LocalFlowController;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamChannelOption;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The linger of {@link HalfClose#finish} against a peer that drains slowly, over a real HTTP/2
 * connection (Netty's codec and multiplexer on both ends of an in-process channel): what was
 * written before the END_STREAM waits for the peer's window, and the linger starts again at each
 * bit of progress, so a slow reader gets everything and the END_STREAM; one that stops taking is
 * reset one linger later (Envoy's {@code delayed_close_timeout}).
 */
class TunnelLingerTest {
    /** Bytes the tunnel writes before it is finished: more than the peer's 64 KiB window. */
    private static final int PIECES = 24;
    private static final int PIECE = 4000;
    /** What the slow reader gives back per step, and how often: progress well inside each linger. */
    private static final int STEP = 8000;
    private static final long STEP_MILLIS = 250;

    private EventLoopGroup group;
    private Channel server;
    private Channel client;
    private Http2FrameCodec clientCodec;
    private final BlockingQueue<Http2StreamChannel> tunnels = new LinkedBlockingQueue<>();

    @BeforeEach
    void setUp() throws Exception {
        group = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        LocalAddress address = new LocalAddress(TunnelLingerTest.class.getSimpleName() + System.nanoTime());
        server = new ServerBootstrap().group(group).channel(LocalServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build());
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                            @Override
                            protected void initChannel(Http2StreamChannel stream) {
                                stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof Http2HeadersFrame) {
                                            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(
                                                    new DefaultHttp2Headers().status("200"), false));
                                            ctx.pipeline().addFirst(new TunnelFrameAdapter());
                                            tunnels.add((Http2StreamChannel) ctx.channel());
                                        }
                                        ReferenceCountUtil.release(msg);
                                    }
                                });
                            }
                        }));
                    }
                })
                .bind(address).sync().channel();
        clientCodec = Http2FrameCodecBuilder.forClient().build();
        // every byte given back is announced at once (a WINDOW_UPDATE per step)
        DefaultHttp2LocalFlowController window =
                (DefaultHttp2LocalFlowController) clientCodec.connection().local().flowController();
        window.windowUpdateRatio(0.99f);
        client = new Bootstrap().group(group).channel(LocalChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(clientCodec, new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                })
                .connect(address).sync().channel();
        client.eventLoop().submit(() -> {
            window.windowUpdateRatio(clientCodec.connection().connectionStream(), 0.99f);
            return null;
        }).get(5, TimeUnit.SECONDS);
    }

    @AfterEach
    void tearDown() {
        client.close().syncUninterruptibly();
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The client's end: counts what arrives, gives no window back unless told ({@link #giveBack}). */
    private static final class Reader extends ChannelInboundHandlerAdapter {
        volatile int received;
        volatile int unreturned;
        volatile boolean endStream;
        volatile long resetCode = -1;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2DataFrame d) {
                received += d.content().readableBytes();
                unreturned += d.initialFlowControlledBytes();
                if (d.isEndStream()) {
                    endStream = true;
                    // the client ends its side too, as a TCP peer closes after the FIN
                    ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
                }
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame rst) {
                resetCode = rst.errorCode();
            }
            ReferenceCountUtil.release(evt);
        }
    }

    /** Opens a tunnel whose reader returns no window by itself; the server's end is finished after a big write. */
    private Http2StreamChannel openAndFinish(Reader reader) throws Exception {
        Http2StreamChannel stream = new Http2StreamChannelBootstrap(client)
                .option(Http2StreamChannelOption.AUTO_STREAM_FLOW_CONTROL, false)
                .handler(reader).open().sync().getNow();
        stream.writeAndFlush(new DefaultHttp2HeadersFrame(
                new DefaultHttp2Headers().method("CONNECT").authority("10.0.0.1:80"), false)).sync();
        Http2StreamChannel tunnel = tunnels.poll(5, TimeUnit.SECONDS);
        assertThat(tunnel).isNotNull();
        tunnel.eventLoop().submit(() -> {
            for (int i = 0; i < PIECES; i++) {
                tunnel.writeAndFlush(Unpooled.wrappedBuffer(new byte[PIECE]));
            }
            HalfClose.finish(tunnel);
        }).sync();
        return stream;
    }

    /** Gives up to {@code bytes} of what {@code reader} received back to the server's window. */
    private void giveBack(Http2StreamChannel stream, Reader reader, int bytes) throws Exception {
        client.eventLoop().submit(() -> {
            int n = Math.min(bytes, reader.unreturned);
            var s = clientCodec.connection().stream(stream.stream().id());
            if (n > 0 && s != null) {
                reader.unreturned -= n;
                clientCodec.connection().local().flowController().consumeBytes(s, n);
                client.flush();
            }
            return null;
        }).get(5, TimeUnit.SECONDS);
    }

    @Test
    void aSlowReaderGetsEverythingAndTheEndStreamWhileItKeepsTaking() throws Exception {
        Reader reader = new Reader();
        Http2StreamChannel stream = openAndFinish(reader);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        // 96,000 bytes through a 65,535-byte window, 8,000 more every 250 ms: ~1 s past one linger
        while (!reader.endStream && reader.resetCode < 0 && System.nanoTime() < deadline) {
            Thread.sleep(STEP_MILLIS);
            giveBack(stream, reader, STEP);
        }
        assertThat(reader.resetCode).as("not reset while it kept taking").isEqualTo(-1);
        assertThat(reader.received).isEqualTo(PIECES * PIECE);
        assertThat(reader.endStream).isTrue();
        assertThat(stream.closeFuture().await(5, TimeUnit.SECONDS)).as("closed by both END_STREAMs").isTrue();
        assertThat(reader.resetCode).isEqualTo(-1);
    }

    @Test
    void aReaderThatStopsTakingIsResetOneLingerLater() throws Exception {
        Reader reader = new Reader();
        Http2StreamChannel stream = openAndFinish(reader);
        giveBack(stream, reader, STEP); // some progress, then none
        assertThat(stream.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(reader.endStream).isFalse();
        assertThat(reader.resetCode).as("reset (CANCEL) after the linger").isEqualTo(
                io.netty.handler.codec.http2.Http2Error.CANCEL.code());
        assertThat(reader.received).isLessThan(PIECES * PIECE);
    }
}
