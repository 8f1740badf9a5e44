package dev.waypoint.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Speaks HTTP/1.1 or h2c inside an accepted test tunnel. Responses are retained: release them. */
final class Tunnels {
    private Tunnels() {}

    /** Installs an HTTP/1.1 client on {@code tunnel}; responses arrive in the returned queue. */
    static BlockingQueue<FullHttpResponse> http1(Channel tunnel) {
        BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
        tunnel.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 26),
                new SimpleChannelInboundHandler<FullHttpResponse>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
                        q.add(msg.retain());
                    }
                });
        return q;
    }

    /** Installs an h2c (prior knowledge) client connection on {@code tunnel}. */
    static void h2c(Channel tunnel) {
        tunnel.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                new Http2MultiplexHandler(new io.netty.channel.ChannelInboundHandlerAdapter()));
    }

    /** Opens a stream on an h2c tunnel; write HttpObjects to it, the aggregated response arrives in {@code q}. */
    static Http2StreamChannel h2cStream(Channel tunnel, BlockingQueue<FullHttpResponse> q) throws Exception {
        return new Http2StreamChannelBootstrap(tunnel).handler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel ch) {
                ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false), new HttpObjectAggregator(1 << 24),
                        new SimpleChannelInboundHandler<FullHttpResponse>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse msg) {
                                q.add(msg.retain());
                            }
                        });
            }
        }).open().get(5, TimeUnit.SECONDS);
    }

    /** Waits for one response. */
    static FullHttpResponse take(BlockingQueue<FullHttpResponse> q) throws InterruptedException {
        FullHttpResponse r = q.poll(10, TimeUnit.SECONDS);
        if (r == null) {
            throw new AssertionError("no response within 10 s");
        }
        return r;
    }
}
