package dev.waypoint.testing;

import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A backend pod for tests and the demo. Speaks whatever arrives: HTTP/1.1, HTTP/2 with prior
 * knowledge (h2c, gRPC), or raw TCP (echoed byte for byte).
 *
 * <p>HTTP answers 200 with {@code x-echo-server: <name>}, {@code x-echo-protocol} (the HTTP version it was spoken to with) and, per request: a request body is
 * streamed back as it arrives (so streaming gRPC works); without a body the response is a text
 * page listing name, method, path and request headers. {@code GET /bytes/N} answers N bytes;
 * {@code /status/N} answers status N; {@code /delay/MS} answers MS milliseconds late; {@code /abort/before} closes without answering and
 * {@code /abort/mid/N} promises 2N bytes, sends N and closes (upstreams that die). gRPC requests (content-type application/grpc) end with
 * trailers {@code grpc-status: 0}. An HTTP/1.1 {@code GET /ws...} with {@code Upgrade: websocket}
 * becomes a WebSocket echo ({@link WebSocketEcho}); {@code /ws-refuse} is answered as an ordinary request.
 * {@link #failWith} makes every answer a given status (an app that starts failing).
 */
public final class EchoServer implements AutoCloseable {
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private final Channel channel;
    private final java.util.concurrent.atomic.AtomicLong generated;
    private final io.netty.channel.group.ChannelGroup accepted;
    private final java.util.Queue<String> requests;

    private EchoServer(Channel channel, java.util.concurrent.atomic.AtomicLong generated,
                       io.netty.channel.group.ChannelGroup accepted, java.util.Queue<String> requests) {
        this.channel = channel;
        this.generated = generated;
        this.accepted = accepted;
        this.requests = requests;
    }

    /** Every HTTP request received so far, in arrival order: {@code METHOD uri host=<Host or :authority>}. */
    public java.util.List<String> requests() {
        return java.util.List.copyOf(requests);
    }

    /** The status every request is answered with, when set ({@link #failWith}); on the listening channel. */
    private static final io.netty.util.AttributeKey<Integer> FAIL_WITH = io.netty.util.AttributeKey.valueOf("echo.failWith");

    /**
     * From now on every HTTP request is answered {@code status} (still with {@code x-echo-server}),
     * on new and existing connections alike: an app that starts failing. 0 behaves again.
     */
    public void failWith(int status) {
        channel.attr(FAIL_WITH).set(status == 0 ? null : status);
    }

    /** The {@link #failWith} status of the server that accepted {@code ch} (a connection or an h2 stream), or 0. */
    private static int failStatus(Channel ch) {
        Channel c = ch;
        while (c.parent() != null) {
            c = c.parent();
        }
        Integer s = c.attr(FAIL_WITH).get();
        return s == null ? 0 : s;
    }

    /** Connections this backend accepted that are still open. */
    public int openConnections() {
        return accepted.size();
    }

    /**
     * From now on the backend reads nothing more, on the connections it has and those it accepts:
     * an app that stops reading (its socket buffers fill, and backpressure reaches the client).
     */
    public void stopReading() {
        channel.attr(STOPPED).set(Boolean.TRUE);
        for (Channel c : accepted) {
            c.config().setAutoRead(false);
        }
    }

    private static final io.netty.util.AttributeKey<Boolean> STOPPED = io.netty.util.AttributeKey.valueOf("echo.stopped");

    /** Body bytes produced so far for {@code /bytes/N} requests (to observe backpressure). */
    public long generatedBytes() {
        return generated.get();
    }

    /** Listens on {@code bind}; {@code name} identifies this backend in answers (a pod name). */
    public static EchoServer start(EventLoopGroup group, InetSocketAddress bind, String name) throws InterruptedException {
        java.util.concurrent.atomic.AtomicLong generated = new java.util.concurrent.atomic.AtomicLong();
        io.netty.channel.group.ChannelGroup accepted = new io.netty.channel.group.DefaultChannelGroup(
                io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);
        java.util.Queue<String> requests = new java.util.concurrent.ConcurrentLinkedQueue<>();
        Channel ch = new ServerBootstrap()
                .group(group)
                .channel(EventLoops.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        accepted.add(c);
                        if (Boolean.TRUE.equals(c.parent().attr(STOPPED).get())) {
                            c.config().setAutoRead(false);
                        }
                        c.pipeline().addLast(new Sniff(name, generated, requests));
                        c.pipeline().addLast(new CloseOnError()); // stays last as Sniff adds after itself
                    }
                })
                .bind(bind).sync().channel();
        return new EchoServer(ch, generated, accepted, requests);
    }

    /** The bound address. */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
    }

    /**
     * The pod dies: stops listening and cuts every connection it accepted (new connections are
     * refused from now on). Returns once all are closed.
     */
    public void kill() {
        channel.close().awaitUninterruptibly();
        accepted.close().awaitUninterruptibly();
    }

    private static final class Sniff extends ByteToMessageDecoder {
        private final String name;
        private final java.util.concurrent.atomic.AtomicLong generated;

        private final java.util.Queue<String> requests;

        Sniff(String name, java.util.concurrent.atomic.AtomicLong generated, java.util.Queue<String> requests) {
            this.requests = requests;
            this.name = name;
            this.generated = generated;
        }

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
                return; // wait for more
            }
            byte first = in.getByte(in.readerIndex());
            if (preface) {
                ctx.pipeline().addAfter(ctx.name(), "h2", Http2FrameCodecBuilder.forServer().build());
                ctx.pipeline().addAfter("h2", "mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel s) {
                        s.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true));
                        s.pipeline().addLast(new Echo(name, true, generated, requests));
                    }
                }));
            } else if (first >= 'A' && first <= 'Z') {
                ctx.pipeline().addAfter(ctx.name(), "h1", new HttpServerCodec());
                ctx.pipeline().addAfter("h1", "h1-eof", new CloseAtEof());
                ctx.pipeline().addAfter("h1-eof", "echo", new Echo(name, false, generated, requests));
            } else {
                ctx.pipeline().addAfter(ctx.name(), "tcp", new TcpEcho());
            }
            ctx.pipeline().remove(this);
        }
    }

    /**
     * A connection reset by its client (a tunnel reset upstream arrives as a TCP RST: RFC 9113
     * §8.5) is just closed, as a server does, instead of reaching the tail as a warning. An HTTP/2
     * connection whose client ended its side (FIN) is closed as servers do (GOAWAY; open streams
     * finish first); HTTP/1.1 has {@link CloseAtEof}, raw echo its own half-close.
     */
    private static final class CloseOnError extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent && ctx.pipeline().get(io.netty.handler.codec.http2.Http2FrameCodec.class) != null) {
                ctx.channel().close();
            }
            ReferenceCountUtil.release(evt);
        }
    }

    /**
     * HTTP/1.1: a client's FIN closes the connection once no response is owed (at once when idle,
     * else after the response in progress), as HTTP servers close a connection their client ended.
     */
    private static final class CloseAtEof extends io.netty.channel.ChannelDuplexHandler {
        private int owed;
        private boolean eof;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof io.netty.handler.codec.http.HttpRequest) {
                owed++;
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
            if (msg instanceof LastHttpContent) {
                promise = promise.unvoid();
                promise.addListener(f -> {
                    owed--;
                    if (eof && owed <= 0) {
                        ctx.channel().close();
                    }
                });
            }
            ctx.write(msg, promise);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                eof = true;
                if (owed <= 0) {
                    ctx.channel().close(); // every response has been written
                }
            }
            ctx.fireUserEventTriggered(evt);
        }
    }

    /** Raw echo, with half-close: EOF in, EOF out. */
    private static final class TcpEcho extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                // after what is still queued (a plain shutdownOutput() would drop it)
                dev.waypoint.transport.HalfClose.shutdownOutput(ctx.channel());
            }
            ReferenceCountUtil.release(evt);
        }
    }

    private static final class Echo extends ChannelInboundHandlerAdapter {
        /** Body bytes of /bytes/N: a b c … z a b …, one 64 KiB chunk's worth. */
        private static final byte[] BODY_PATTERN = new byte[64 << 10];
        private static final int CHUNKS_PER_TURN = 16;

        static {
            for (int i = 0; i < BODY_PATTERN.length; i++) {
                BODY_PATTERN[i] = (byte) ('a' + (i % 26));
            }
        }

        private final String name;
        private final boolean h2;
        private boolean streaming;
        private boolean grpc;
        private long remaining = -1;
        /** A /bytes response is under way; the request's own end must not end it again. */
        private boolean bytesMode;
        /** {@link #produce} is running (its own flush can fire channelWritabilityChanged). */
        private boolean producing;

        /**
         * Writes the rest of a /bytes/N body while the channel is writable, at most
         * {@link #CHUNKS_PER_TURN} chunks before giving the event loop back: other channels share
         * it (in tests, often the very client reading this body).
         */
        private void produce(ChannelHandlerContext ctx) {
            if (producing) {
                return; // re-entered from the flush below: that loop goes on by itself
            }
            producing = true;
            try {
                int chunks = 0;
                while (remaining > 0 && ctx.channel().isWritable() && chunks++ < CHUNKS_PER_TURN) {
                    int n = (int) Math.min(remaining, BODY_PATTERN.length);
                    // one bulk write, not n writeByte calls: under paranoid leak detection every
                    // access to a buffer records a stack trace
                    ByteBuf chunk = ctx.alloc().buffer(n).writeBytes(BODY_PATTERN, 0, n);
                    remaining -= n;
                    generated.addAndGet(n);
                    ctx.write(new DefaultHttpContent(chunk));
                    ctx.flush(); // may drain at once, and the channel is writable again
                }
                if (remaining == 0) {
                    remaining = -1;
                    ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
                } else if (remaining > 0 && ctx.channel().isWritable()) {
                    ctx.executor().execute(() -> produce(ctx)); // the next batch, after other work
                }
                // else: channelWritabilityChanged goes on
            } finally {
                producing = false;
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (remaining > 0 && ctx.channel().isWritable()) {
                produce(ctx);
            }
            ctx.fireChannelWritabilityChanged();
        }

        private final java.util.concurrent.atomic.AtomicLong generated;
        // a /delay/MS response waiting for its time (one request at a time on such a connection)
        private HttpResponse delayedRes;
        private ByteBuf delayedBody;
        private long delayMs;
        private io.netty.util.concurrent.ScheduledFuture<?> delayed;

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (delayed != null) {
                delayed.cancel(false);
                delayed = null;
            }
            if (delayedBody != null) {
                delayedBody.release();
                delayedBody = null;
            }
            super.channelInactive(ctx);
        }

        private final java.util.Queue<String> requests;

        Echo(String name, boolean h2, java.util.concurrent.atomic.AtomicLong generated, java.util.Queue<String> requests) {
            this.requests = requests;
            this.name = name;
            this.h2 = h2;
            this.generated = generated;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest req) {
                String authority = req.headers().get(HttpHeaderNames.HOST, req.headers().get("x-http2-authority", ""));
                requests.add(req.method() + " " + req.uri() + " host=" + authority);
                String ct = req.headers().get(HttpHeaderNames.CONTENT_TYPE, "");
                grpc = ct.startsWith("application/grpc");
                String path = new QueryStringDecoder(req.uri()).path();
                boolean hasBody = HttpUtil.isTransferEncodingChunked(req) || HttpUtil.getContentLength(req, 0L) > 0;
                HttpResponseStatus status = HttpResponseStatus.OK;
                if (!h2 && WebSocketEcho.accepts(req, path)) {
                    WebSocketEcho.upgrade(ctx, req, name, requests); // a WebSocket echo from here on
                    return;
                }
                if (path.equals("/abort/before")) {
                    // the app dies before answering: its ztunnel ends the CONNECT stream
                    ReferenceCountUtil.release(msg);
                    ctx.close();
                    return;
                }
                if (path.startsWith("/abort/mid/")) {
                    // promises twice the bytes it sends, then closes: a truncated response
                    int n = Integer.parseInt(path.substring(11));
                    HttpResponse partial = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
                    HttpUtil.setContentLength(partial, 2L * n);
                    ctx.write(partial);
                    ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[n])))
                            .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                    ReferenceCountUtil.release(msg);
                    return;
                }
                if (path.startsWith("/status/")) {
                    status = HttpResponseStatus.valueOf(Integer.parseInt(path.substring(8)));
                }
                if (failStatus(ctx.channel()) > 0) {
                    status = HttpResponseStatus.valueOf(failStatus(ctx.channel()));
                }
                HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
                res.headers().set("x-echo-server", name).set("x-echo-method", req.method().name())
                        .set("x-echo-path", req.uri()).set("x-echo-protocol", h2 ? "HTTP/2.0" : "HTTP/1.1");
                if (grpc) {
                    res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
                }
                if (hasBody) {
                    streaming = true;
                    if (!h2) {
                        HttpUtil.setTransferEncodingChunked(res, true);
                    }
                    ctx.writeAndFlush(res);
                } else {
                    ByteBuf body;
                    if (path.startsWith("/bytes/")) {
                        // large bodies are produced as the client drains them (backpressure), never all at once
                        long n = Long.parseLong(path.substring(7));
                        HttpUtil.setContentLength(res, n);
                        ctx.writeAndFlush(res);
                        remaining = n;
                        bytesMode = !(msg instanceof LastHttpContent);
                        produce(ctx);
                        streaming = false;
                        ReferenceCountUtil.release(msg);
                        return;
                    } else {
                        StringBuilder b = new StringBuilder("hello from ").append(name).append('\n')
                                .append("method=").append(req.method()).append('\n')
                                .append("path=").append(req.uri()).append('\n');
                        Map<String, String> sorted = new TreeMap<>();
                        req.headers().forEach(e -> { if (!e.getKey().toLowerCase().startsWith("x-http2-")) sorted.merge(e.getKey().toLowerCase(), e.getValue(), (a, c) -> a + "," + c); });
                        sorted.forEach((k, v) -> b.append("header ").append(k).append('=').append(v).append('\n'));
                        body = ByteBufUtil.writeUtf8(ctx.alloc(), b);
                    }
                    HttpUtil.setContentLength(res, body.readableBytes());
                    if (!h2 && !HttpUtil.isKeepAlive(req)) {
                        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    }
                    if (path.startsWith("/delay/")) {
                        // answered MS milliseconds after the request ended (a slow backend)
                        delayedRes = res;
                        delayedBody = body;
                        delayMs = Long.parseLong(path.substring(7));
                    } else {
                        ctx.write(res);
                        ctx.write(new DefaultHttpContent(body));
                    }
                    streaming = false;
                }
            }
            if (msg instanceof HttpContent content) {
                boolean last = msg instanceof LastHttpContent;
                if (streaming) {
                    if (content.content().isReadable()) {
                        ctx.write(new DefaultHttpContent(content.content().retain()));
                    }
                    if (last) {
                        LastHttpContent end = new DefaultLastHttpContent();
                        if (grpc) {
                            end.trailingHeaders().set("grpc-status", "0");
                        }
                        ctx.write(end);
                    }
                } else if (last && bytesMode) {
                    bytesMode = false;
                } else if (last) {
                    LastHttpContent end = new DefaultLastHttpContent();
                    if (grpc) {
                        end.trailingHeaders().set("grpc-status", "0");
                    }
                    if (delayedRes != null) {
                        HttpResponse res = delayedRes;
                        delayedRes = null;
                        // the body stays in delayedBody until sent: channelInactive releases it if the peer gives up first
                        delayed = ctx.executor().schedule(() -> {
                            ByteBuf body = delayedBody;
                            delayedBody = null;
                            delayed = null;
                            ctx.write(res);
                            ctx.write(new DefaultHttpContent(body));
                            ctx.writeAndFlush(end);
                        }, delayMs, java.util.concurrent.TimeUnit.MILLISECONDS);
                    } else {
                        ctx.write(end);
                    }
                }
                ctx.flush();
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }
}
