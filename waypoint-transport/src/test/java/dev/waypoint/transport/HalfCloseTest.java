package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class HalfCloseTest {

    @Test
    void onAStreamTheEndIsAnEmptyDataFrameWithEndStream() {
        TestEnds.Stream stream = new TestEnds.Stream(null);
        assertThat(HalfClose.shutdownOutput(stream).isSuccess()).isTrue();
        Http2DataFrame end = stream.readOutbound();
        assertThat(end.isEndStream()).isTrue();
        assertThat(end.content().readableBytes()).isZero();
        assertThat(stream.isActive()).as("a half-close is not a close").isTrue();
        stream.finishAndReleaseAll();
    }

    @Test
    void onASocketTheFinWaitsForWhatWasWrittenBeforeIt() {
        TestEnds.Socket socket = new TestEnds.Socket(null);
        socket.stalled = true;
        ByteBuf data = Unpooled.copiedBuffer("the last bytes", StandardCharsets.UTF_8);
        socket.writeAndFlush(data);
        ChannelFuture fin = HalfClose.shutdownOutput(socket);
        assertThat(socket.outputShutdown).isFalse();
        assertThat(fin.isDone()).isFalse();
        socket.unstall();
        assertThat(fin.isSuccess()).isTrue();
        assertThat((Object) socket.readOutbound()).isSameAs(data);
        assertThat((Object) socket.readOutbound()).isEqualTo(Unpooled.EMPTY_BUFFER); // the barrier
        assertThat((Object) socket.readOutbound()).isEqualTo(TestEnds.FIN);
        assertThat(data.release()).isTrue();
        socket.finishAndReleaseAll();
    }

    /** The same over a real loopback socket whose reader is slow: every byte, then the FIN. */
    @Test
    void aRealSocketDeliversEveryByteBeforeTheFin() throws Exception {
        EventLoopGroup group = EventLoops.newGroup(1, "halfclose-test");
        try {
            BlockingQueue<Channel> accepted = new LinkedBlockingQueue<>();
            AtomicLong received = new AtomicLong();
            CompletableFuture<Long> eof = new CompletableFuture<>();
            Channel server = new ServerBootstrap().group(group).channel(EventLoops.serverChannel())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.SO_RCVBUF, 16 << 10)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    received.addAndGet(((ByteBuf) msg).readableBytes());
                                    ReferenceCountUtil.release(msg);
                                }

                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                    if (evt instanceof ChannelInputShutdownEvent) {
                                        eof.complete(received.get());
                                    }
                                }
                            });
                            accepted.add(c);
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            Channel client = new Bootstrap().group(group).channel(EventLoops.clientChannel())
                    .option(ChannelOption.SO_SNDBUF, 16 << 10)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(server.localAddress()).sync().channel();
            Channel reader = accepted.poll(5, TimeUnit.SECONDS);
            int total = 4 << 20; // far more than both socket buffers: most of it waits in Netty's outbound buffer
            client.eventLoop().submit(() -> {
                for (int i = 0; i < total / (64 << 10); i++) {
                    client.write(Unpooled.wrappedBuffer(new byte[64 << 10]));
                }
                client.flush();
                HalfClose.shutdownOutput(client);
            }).sync();
            reader.config().setAutoRead(true); // the slow reader starts reading
            assertThat(eof.get(10, TimeUnit.SECONDS)).isEqualTo(total);
            client.close().sync();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void resettingAStreamSendsConnectErrorAndCloses() {
        TestEnds.Stream stream = new TestEnds.Stream(null);
        HalfClose.reset(stream);
        stream.runPendingTasks();
        Http2ResetFrame rst = stream.readOutbound();
        assertThat(rst.errorCode()).isEqualTo(Http2Error.CONNECT_ERROR.code());
        assertThat(stream.isActive()).isFalse();
        stream.finishAndReleaseAll();
    }

    @Test
    void resettingASocketClosesWithLingerZero() {
        TestEnds.Socket socket = new TestEnds.Socket(null);
        HalfClose.reset(socket);
        assertThat(socket.linger()).as("SO_LINGER 0: the close is a RST").isZero();
        assertThat(socket.isActive()).isFalse();
        // and again, on a closed socket: nothing to set, no exception
        assertThat(HalfClose.reset(socket).isSuccess()).isTrue();
        socket.finishAndReleaseAll();
    }
}
