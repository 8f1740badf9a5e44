package dev.waypoint.server.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.function.Supplier;
import dev.waypoint.transport.EventLoops;

/**
 * A small HTTP/1.1 server for health, stats and admin pages, on its own event-loop group so the
 * data path never waits for it (and it answers while the data path is busy).
 */
public final class AdminServer implements AutoCloseable {

    /** A page: status, content type, body. */
    public record Page(int status, String contentType, String body) {
        public static Page text(int status, String body) {
            return new Page(status, "text/plain; charset=utf-8", body);
        }

        public static Page json(String body) {
            return new Page(200, "application/json", body);
        }
    }

    private final Channel channel;

    private AdminServer(Channel channel) {
        this.channel = channel;
    }

    /** Serves {@code pages} (path → page supplier; GET only) on {@code bind}. */
    public static AdminServer start(EventLoopGroup group, InetSocketAddress bind, Map<String, Supplier<Page>> pages)
            throws InterruptedException {
        Channel ch = new ServerBootstrap()
                .group(group)
                .channel(EventLoops.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.pipeline().addLast(new HttpServerCodec(4096, 8192, 8192));
                        c.pipeline().addLast(new HttpObjectAggregator(64 << 10));
                        c.pipeline().addLast(new Handler(pages));
                    }
                })
                .bind(bind).sync().channel();
        return new AdminServer(ch);
    }

    /** The bound address. */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Map<String, Supplier<Page>> pages;

        Handler(Map<String, Supplier<Page>> pages) {
            this.pages = pages;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            Page page;
            if (!req.decoderResult().isSuccess()) {
                page = Page.text(400, "bad request\n");
            } else if (!HttpMethod.GET.equals(req.method()) && !HttpMethod.HEAD.equals(req.method())) {
                page = Page.text(405, "method not allowed\n");
            } else {
                Supplier<Page> s = pages.get(new QueryStringDecoder(req.uri()).path());
                page = s == null ? Page.text(404, "not found; try: " + String.join(" ", pages.keySet()) + "\n") : s.get();
            }
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(page.status()),
                    ByteBufUtil.writeUtf8(ctx.alloc(), page.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, page.contentType());
            HttpUtil.setContentLength(res, res.content().readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpUtil.setKeepAlive(res, keepAlive);
            var f = ctx.writeAndFlush(res);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
