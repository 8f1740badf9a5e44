package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2LocalFlowController;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2WindowUpdateFrame;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link TunnelFrameAdapter} returning a stream's receive window itself ({@link
 * TunnelFrameAdapter#returnsWindow}), over a real HTTP/2 connection (Netty's codec and multiplexer
 * on both ends of an in-process channel): the window comes back when the tunnel asks to read, not
 * before, as with Netty's own stream flow control, and no WINDOW_UPDATE frame object is written
 * through the connection's pipeline for it.
 */
class TunnelWindowTest {
    /** The stream window the server grants (the HTTP/2 default). */
    private static final int WINDOW = 65_535;
    /** One DATA frame (under the 16 KiB frame size limit): a tunnel delivers one frame per read. */
    private static final int SENT = 16_000;
    private static final float RATIO = 0.99f;

    private EventLoopGroup group;
    private Channel server;
    private Channel client;
    /** The server's tunnel ends, as they are accepted. */
    private final BlockingQueue<Http2StreamChannel> tunnels = new LinkedBlockingQueue<>();
    /** Bytes the server's tunnels passed on after the adapter. */
    private final AtomicInteger delivered = new AtomicInteger();
    /** WINDOW_UPDATE frame objects written through the server connection's pipeline by its streams. */
    private final AtomicInteger windowUpdateFrames = new AtomicInteger();
    private Http2FrameCodec clientCodec;

    @BeforeEach
    void setUp() {
        group = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
    }

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close().syncUninterruptibly();
        }
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private void start(boolean adapterReturnsWindow) throws Exception {
        LocalAddress address = new LocalAddress(TunnelWindowTest.class.getSimpleName() + adapterReturnsWindow);
        server = new ServerBootstrap().group(group).channel(LocalServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        Http2FrameCodec codec = Http2FrameCodecBuilder.forServer().build();
                        // a WINDOW_UPDATE for any bytes given back, so the client sees each return
                        DefaultHttp2LocalFlowController window =
                                (DefaultHttp2LocalFlowController) codec.connection().local().flowController();
                        window.windowUpdateRatio(RATIO);
                        ch.pipeline().addLast(codec);
                        ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
                            @Override
                            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                                if (msg instanceof Http2WindowUpdateFrame) {
                                    windowUpdateFrames.incrementAndGet();
                                }
                                ctx.write(msg, promise);
                            }
                        });
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                            @Override
                            protected void initChannel(Http2StreamChannel stream) throws Exception {
                                Http2FrameCodec codec = stream.parent().pipeline().get(Http2FrameCodec.class);
                                ((DefaultHttp2LocalFlowController) codec.connection().local().flowController())
                                        .windowUpdateRatio(codec.connection().connectionStream(), RATIO);
                                if (adapterReturnsWindow) {
                                    TunnelFrameAdapter.returnsWindow(stream);
                                }
                                stream.config().setOption(ChannelOption.AUTO_READ, false);
                                stream.pipeline().addLast(new AcceptThenHold());
                                stream.read();
                            }
                        }));
                    }
                })
                .bind(address).sync().channel();
        clientCodec = Http2FrameCodecBuilder.forClient().build();
        client = new Bootstrap().group(group).channel(LocalChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(clientCodec, new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                })
                .connect(address).sync().channel();
    }

    /** The server end: answers the CONNECT, puts the adapter in front and reads no more until told. */
    private final class AcceptThenHold extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame) {
                ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
                ctx.pipeline().addFirst(new TunnelFrameAdapter());
                tunnels.add((Http2StreamChannel) ctx.channel());
                return;
            }
            ByteBuf bytes = (ByteBuf) msg;
            delivered.addAndGet(bytes.readableBytes());
            bytes.release();
        }
    }

    /** Opens a tunnel and sends {@code bytes} of DATA on it; returns the client's stream. */
    private Http2StreamChannel openAndSend(int bytes) throws Exception {
        Http2StreamChannel stream = new Http2StreamChannelBootstrap(client)
                .handler(new ChannelInboundHandlerAdapter()).open().sync().getNow();
        stream.writeAndFlush(new DefaultHttp2HeadersFrame(
                new DefaultHttp2Headers().method("CONNECT").authority("10.0.0.1:80"), false)).sync();
        stream.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[bytes]), false));
        return stream;
    }

    /** The client's send window on {@code stream} (what the server has not given back yet is missing). */
    private int clientSendWindow(Http2StreamChannel stream) throws Exception {
        return onLoop(() -> {
            Http2Stream s = clientCodec.connection().stream(stream.stream().id());
            return clientCodec.connection().remote().flowController().windowSize(s);
        });
    }

    private <T> T onLoop(Callable<T> c) throws Exception {
        return group.next().submit(c).get(5, TimeUnit.SECONDS);
    }

    private static void eventually(Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.call()) {
            assertThat(System.nanoTime()).as("condition not met within 5 s").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    @ParameterizedTest(name = "adapter returns the window: {0}")
    @ValueSource(booleans = {true, false})
    void theWindowComesBackWhenTheTunnelReadsAgainNotBefore(boolean adapterReturnsWindow) throws Exception {
        start(adapterReturnsWindow);
        int sent = SENT;
        Http2StreamChannel stream = openAndSend(sent);
        Http2StreamChannel tunnel = tunnels.poll(5, TimeUnit.SECONDS);
        assertThat(tunnel).isNotNull();

        // the CONNECT's read may have brought the DATA too; if not, one more read does (decided on the
        // loop, so no delivery slips in between); then the tunnel holds its reading
        tunnel.eventLoop().submit(() -> {
            if (delivered.get() < sent) {
                tunnel.read();
            }
        }).sync();
        eventually(() -> delivered.get() == sent);
        Thread.sleep(50); // a WINDOW_UPDATE would have reached the client by now
        assertThat(clientSendWindow(stream)).as("held back: no window given back").isEqualTo(WINDOW - sent);

        tunnel.eventLoop().submit(() -> tunnel.read()).sync();
        eventually(() -> clientSendWindow(stream) == WINDOW);
        assertThat(windowUpdateFrames.get())
                .as("WINDOW_UPDATE frames written through the connection's pipeline by the stream")
                .isEqualTo(adapterReturnsWindow ? 0 : 1);
    }

    @Test
    void aStreamThatClosesGivesItsUnreadBytesBackToTheConnection() throws Exception {
        start(true);
        int sent = SENT;
        Http2StreamChannel stream = openAndSend(sent);
        Http2StreamChannel tunnel = tunnels.poll(5, TimeUnit.SECONDS);
        assertThat(tunnel).isNotNull();
        eventually(() -> onLoop(() -> clientCodec.connection().remote().flowController()
                .windowSize(clientCodec.connection().connectionStream())) == WINDOW - sent);

        tunnel.close().sync(); // never read again: the adapter gave nothing back
        eventually(() -> onLoop(() -> clientCodec.connection().remote().flowController()
                .windowSize(clientCodec.connection().connectionStream())) == WINDOW);
        assertThat(stream.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
    }
}
