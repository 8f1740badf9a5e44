package dev.waypoint.bench.e2e;

import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The application behind the destination terminator in the end-to-end runs: lean on purpose, so
 * the proxies, not the backend, are what the numbers show.
 *
 * <ul>
 *   <li>HTTP port: HTTP/1.1 keep-alive or h2c (prior knowledge). {@code POST} answers 200 with
 *       the request body echoed (fortio's "1 KB payload" echo); {@code GET /bytes/N} answers N
 *       bytes; any other {@code GET} answers {@code ok\n}. One write per response, Content-Length
 *       framed.</li>
 *   <li>Bulk port: a first byte {@code 0x01} makes it stream 64 KiB chunks as fast as the
 *       connection takes them (reads are dropped); anything else is echoed back (TCP echo).</li>
 * </ul>
 */
public final class BenchBackend implements AutoCloseable {
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OK = "ok\n".getBytes(StandardCharsets.US_ASCII);
    private static final int CHUNK = 64 << 10;

    private final List<Channel> servers;

    private BenchBackend(List<Channel> servers) {
        this.servers = servers;
    }

    /** Binds the HTTP port and, unless null, the bulk port. */
    public static BenchBackend start(EventLoopGroup group, InetSocketAddress http, InetSocketAddress bulk)
            throws InterruptedException {
        Channel h = bind(group, http, false, new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
                c.pipeline().addLast(new Sniff());
            }
        });
        if (bulk == null) {
            return new BenchBackend(List.of(h));
        }
        Channel b = bind(group, bulk, true, new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
                c.config().setWriteBufferWaterMark(new WriteBufferWaterMark(256 << 10, 1 << 20));
                c.pipeline().addLast(new Bulk());
            }
        });
        return new BenchBackend(List.of(h, b));
    }

    /** {@code halfClose}: the bulk echo sends what it still has after the client's FIN; HTTP just closes. */
    private static Channel bind(EventLoopGroup group, InetSocketAddress at, boolean halfClose, ChannelHandler init)
            throws InterruptedException {
        return new ServerBootstrap()
                .group(group)
                .channel(EventLoops.serverChannel())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, halfClose)
                .childHandler(init)
                .bind(at).sync().channel();
    }

    /** The HTTP port's bound address. */
    public InetSocketAddress httpAddress() {
        return (InetSocketAddress) servers.get(0).localAddress();
    }

    /** The bulk port's bound address (null if none). */
    public InetSocketAddress bulkAddress() {
        return servers.size() > 1 ? (InetSocketAddress) servers.get(1).localAddress() : null;
    }

    @Override
    public void close() {
        for (Channel ch : servers) {
            ch.close().awaitUninterruptibly();
        }
    }

    /** HTTP/1.1 or the h2c preface. */
    private static final class Sniff extends ByteToMessageDecoder {
        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int n = Math.min(in.readableBytes(), PREFACE.length);
            boolean preface = true;
            for (int i = 0; i < n; i++) {
                if (in.getByte(in.readerIndex() + i) != PREFACE[i]) {
                    preface = false;
                    break;
                }
            }
            if (preface && n < PREFACE.length) {
                return;
            }
            if (preface) {
                ctx.pipeline().addAfter(ctx.name(), "h2", Http2FrameCodecBuilder.forServer().build());
                ctx.pipeline().addAfter("h2", "mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel s) {
                        s.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true));
                        s.pipeline().addLast(new HttpObjectAggregator(1 << 20));
                        s.pipeline().addLast(new Answer(true));
                    }
                }));
            } else {
                ctx.pipeline().addAfter(ctx.name(), "h1", new HttpServerCodec());
                ctx.pipeline().addAfter("h1", "agg", new HttpObjectAggregator(1 << 20));
                ctx.pipeline().addAfter("agg", "answer", new Answer(false));
            }
            ctx.pipeline().remove(this);
        }
    }

    private static final class Answer extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final boolean h2;

        Answer(boolean h2) {
            this.h2 = h2;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            ByteBuf body;
            String uri = req.uri();
            if (req.content().isReadable()) {
                body = req.content().retain();
            } else if (uri.startsWith("/bytes/")) {
                int n = Integer.parseInt(uri.substring(7));
                body = ctx.alloc().buffer(n).writeZero(n);
            } else {
                body = Unpooled.wrappedBuffer(OK);
            }
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
            HttpUtil.setContentLength(res, body.readableBytes());
            boolean keepAlive = h2 || HttpUtil.isKeepAlive(req);
            if (!keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            var f = ctx.writeAndFlush(res);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    /** Bulk port: source (first byte 0x01) or echo. */
    private static final class Bulk extends ChannelInboundHandlerAdapter {
        private int mode; // 0 undecided, 1 source, 2 echo

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            if (mode == 0 && buf.isReadable()) {
                mode = buf.getByte(buf.readerIndex()) == 1 ? 1 : 2;
                if (mode == 1) {
                    buf.release();
                    pump(ctx);
                    return;
                }
            }
            if (mode == 2) {
                ctx.write(buf);
                if (!ctx.channel().isWritable()) {
                    // stop reading first: the flush can make the channel writable again at once,
                    // and channelWritabilityChanged then turns reading back on
                    ctx.channel().config().setAutoRead(false);
                    ctx.flush();
                }
            } else {
                buf.release();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                if (mode == 1) {
                    pump(ctx);
                } else {
                    ctx.channel().config().setAutoRead(true);
                }
            }
        }

        private static void pump(ChannelHandlerContext ctx) {
            while (ctx.channel().isActive() && ctx.channel().isWritable()) {
                ctx.write(ctx.alloc().directBuffer(CHUNK).writeZero(CHUNK), ctx.voidPromise());
            }
            ctx.flush();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                ctx.flush();
                ctx.close();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
