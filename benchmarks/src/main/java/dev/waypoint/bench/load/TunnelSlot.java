package dev.waypoint.bench.load;

import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One CONNECT tunnel of a connection: opens it, then carries requests one at a time (HTTP/1.1
 * keep-alive, or h2c streams on an HTTP/2 connection inside the tunnel), or the bulk byte stream.
 * A tunnel that fails is opened again (after a short pause) until the run stops. Runs on its
 * connection's event loop.
 */
final class TunnelSlot {
    private static final long RETRY_MILLIS = 50;
    private static final int BULK_CHUNK = 64 << 10;
    private static final byte[] ZEROS = new byte[BULK_CHUNK];

    private final ConnectionSlot conn;
    private final LoadRunner run;
    private final LoadSpec spec;
    private final int globalIndex;
    private final byte[] body;

    /** The tunnel stream being opened or open; null when there is none. */
    private Http2StreamChannel stream;
    private boolean opening;
    private boolean answered;
    private boolean open;
    private long openedAt;
    private boolean resetSeen;

    boolean inFlight;
    private long startNs;
    private long sentNs;
    private int status;
    private boolean keepAlive;
    private long requestIndex;
    private ScheduledFuture<?> pendingSend;

    TunnelSlot(ConnectionSlot conn, int globalIndex) {
        this.conn = conn;
        this.run = conn.run;
        this.spec = run.spec;
        this.globalIndex = globalIndex;
        this.body = new byte[spec.bodyBytes()];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
    }

    // --- the tunnel ---

    void open() {
        if (run.stopping || opening || stream != null || conn.channel == null) {
            return;
        }
        opening = true;
        resetSeen = false;
        answered = false;
        open = false;
        openedAt = System.nanoTime();
        new Http2StreamChannelBootstrap(conn.channel)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast("tunnel-slot", new Handler());
                    }
                })
                .open()
                .addListener(f -> {
                    opening = false;
                    if (!f.isSuccess()) {
                        conn.error("stream_open");
                        retryLater();
                        return;
                    }
                    Http2StreamChannel s = (Http2StreamChannel) f.getNow();
                    stream = s;
                    Http2Headers h = new DefaultHttp2Headers().method("CONNECT").authority(spec.authority());
                    s.writeAndFlush(new DefaultHttp2HeadersFrame(h, false));
                });
    }

    private void retryLater() {
        if (!run.stopping) {
            conn.loop.schedule(this::open, RETRY_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    /** The 200 arrived: install the inner protocol and start sending. */
    private void tunnelReady(ChannelHandlerContext ctx) {
        open = true;
        conn.stats.tunnelsOpened++;
        var p = ctx.pipeline();
        p.addBefore(ctx.name(), "tunnel", new TunnelFrameAdapter());
        if (spec.bulk() != null) {
            startBulk();
            return;
        }
        if (spec.h2c()) {
            p.addBefore(ctx.name(), "h2c", Http2FrameCodecBuilder.forClient()
                    .initialSettings(Http2Settings.defaultSettings().pushEnabled(false))
                    .gracefulShutdownTimeoutMillis(0)
                    .build());
            p.addBefore(ctx.name(), "h2c-mux", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void handlerAdded(ChannelHandlerContext c) {
                    c.close();
                }
            }));
        } else {
            p.addBefore(ctx.name(), "h1", new HttpClientCodec());
        }
        if (pendingSend == null) {
            scheduleNext();
        }
    }

    /** The tunnel stream closed (reset, END_STREAM both ways, connection gone). */
    private void streamClosed(Channel ch) {
        if (ch != stream) {
            return;
        }
        stream = null;
        boolean wasOpen = open;
        open = false;
        if (inFlight) {
            done();
            conn.error(resetSeen ? "reset" : "closed");
        } else if (!wasOpen && !answered && !run.stopping && conn.channel != null) {
            conn.error(resetSeen ? "connect_reset" : "connect_closed");
        }
        if (conn.channel != null) {
            retryLater();
        }
    }

    void connectionLost() {
        // the stream channels close with their connection; streamClosed does the accounting
    }

    void checkTimeout(long now) {
        long limit = spec.requestTimeout().toNanos();
        if (stream == null) {
            return;
        }
        if (inFlight && now - sentNs > limit) {
            done();
            conn.error("timeout");
            stream.close();
        } else if (!open && now - openedAt > limit) {
            conn.error("connect_timeout_answer");
            stream.close();
        }
    }

    void close() {
        if (pendingSend != null) {
            pendingSend.cancel(false);
            pendingSend = null;
        }
        if (inFlight) {
            done();
        }
        if (stream != null) {
            stream.close();
        }
    }

    // --- requests ---

    private void scheduleNext() {
        if (run.stopping || !open) {
            return;
        }
        if (spec.rate() == 0) {
            send(System.nanoTime());
            return;
        }
        long due = run.dueTime(globalIndex, requestIndex++);
        long delay = due - System.nanoTime();
        if (delay <= 0) {
            send(due);
        } else {
            pendingSend = conn.loop.schedule(() -> {
                pendingSend = null;
                send(due);
            }, delay, TimeUnit.NANOSECONDS);
        }
    }

    private void send(long start) {
        if (run.stopping || !open || inFlight) {
            return;
        }
        inFlight = true;
        run.inFlight.increment();
        startNs = start;
        sentNs = System.nanoTime();
        status = 0;
        keepAlive = true;
        if (spec.h2c()) {
            sendH2c();
            return;
        }
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                body.length > 0 ? HttpMethod.POST : HttpMethod.GET, spec.path(),
                body.length > 0 ? Unpooled.wrappedBuffer(body) : Unpooled.EMPTY_BUFFER);
        req.headers().set(HttpHeaderNames.HOST, spec.host());
        if (body.length > 0) {
            req.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM);
            HttpUtil.setContentLength(req, body.length);
        }
        stream.writeAndFlush(req, stream.voidPromise());
    }

    private void sendH2c() {
        Channel tunnel = stream;
        new Http2StreamChannelBootstrap(tunnel)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast(new H2cExchange());
                    }
                })
                .open()
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        if (inFlight) {
                            done();
                            conn.error("h2c_stream");
                            tunnel.close();
                        }
                        return;
                    }
                    Http2StreamChannel s = (Http2StreamChannel) f.getNow();
                    Http2Headers h = new DefaultHttp2Headers()
                            .method(body.length > 0 ? "POST" : "GET").scheme("http").path(spec.path()).authority(spec.host());
                    if (body.length > 0) {
                        h.set("content-type", "application/octet-stream").setInt("content-length", body.length);
                        s.write(new DefaultHttp2HeadersFrame(h, false));
                        s.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true));
                    } else {
                        s.writeAndFlush(new DefaultHttp2HeadersFrame(h, true));
                    }
                });
    }

    private void done() {
        inFlight = false;
        run.inFlight.decrement();
    }

    private void complete() {
        if (!inFlight) {
            return;
        }
        done();
        long now = System.nanoTime();
        boolean window = run.inWindow(now);
        if (status >= 200 && status < 300) {
            conn.stats.timeline(run.second(now), now - startNs);
            if (window) {
                conn.stats.ok++;
                conn.stats.record(now - startNs);
                run.recorded.increment();
            }
        } else {
            conn.stats.error("http_" + status, window);
        }
        if (!keepAlive && stream != null) {
            stream.close(); // a new tunnel opens
            return;
        }
        scheduleNext();
    }

    private void countBytes(int n) {
        long now = System.nanoTime();
        if (run.inWindow(now)) {
            conn.stats.bytes += n;
        }
        if (spec.bulk() != null) {
            conn.stats.timeline(run.second(now), 0); // bulk: the timeline counts reads
        }
    }

    // --- bulk ---

    private void startBulk() {
        if (spec.bulk() == LoadSpec.BulkMode.DOWNLOAD) {
            stream.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        } else {
            pump();
        }
    }

    private void pump() {
        Channel s = stream;
        if (s == null || run.stopping) {
            return;
        }
        while (s.isWritable()) {
            s.write(Unpooled.wrappedBuffer(ZEROS), s.voidPromise());
        }
        s.flush();
    }

    /** Tail handler of the tunnel stream: the CONNECT answer, then HTTP/1.1 responses or bulk bytes. */
    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (!open) {
                    if (msg instanceof Http2HeadersFrame h) {
                        answered = true;
                        CharSequence st = h.headers().status();
                        if (st != null && "200".contentEquals(st)) {
                            tunnelReady(ctx);
                        } else {
                            conn.error("connect_status_" + st);
                            ctx.close();
                        }
                    }
                    return; // (a refusal's body is dropped)
                }
                if (msg instanceof HttpResponse r) {
                    status = r.status().code();
                    keepAlive = HttpUtil.isKeepAlive(r);
                }
                if (msg instanceof HttpContent c) {
                    countBytes(c.content().readableBytes());
                    if (msg instanceof LastHttpContent) {
                        complete();
                    }
                } else if (msg instanceof ByteBuf b) {
                    countBytes(b.readableBytes()); // bulk
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (spec.bulk() == LoadSpec.BulkMode.ECHO && ctx.channel().isWritable()) {
                pump();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame) {
                resetSeen = true;
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            streamClosed(ctx.channel());
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** One h2c request stream inside the tunnel. */
    private final class H2cExchange extends ChannelInboundHandlerAdapter {
        private boolean ended;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    CharSequence st = h.headers().status();
                    if (st != null && status == 0) {
                        status = Integer.parseInt(st.toString());
                    }
                    if (h.isEndStream()) {
                        end();
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    countBytes(d.content().readableBytes());
                    if (d.isEndStream()) {
                        end();
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void end() {
            if (!ended) {
                ended = true;
                complete();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame && !ended) {
                ended = true;
                if (inFlight) {
                    done();
                    conn.error("reset");
                    scheduleNext();
                }
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!ended) {
                ended = true;
                if (inFlight) {
                    done();
                    conn.error("closed");
                    scheduleNext();
                }
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
