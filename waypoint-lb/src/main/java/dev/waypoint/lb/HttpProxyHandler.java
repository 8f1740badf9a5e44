package dev.waypoint.lb;

import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.HalfClose;
import dev.waypoint.transport.RequestKeys;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.util.ArrayDeque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code upstream} stage: forwards each inner HTTP request to an endpoint of its backend and
 * streams the response back, body chunk by body chunk (no aggregation).
 *
 * <p><b>Per request:</b> route (set by the {@code route} stage, else the tunnel's own target) →
 * endpoint pick → exchange channel from {@link HttpUpstreamPool} → request head and body out →
 * response in. Failures before the response starts become a local reply (503 no healthy
 * upstream, 502 refused/reset, 504 connect timeout; gRPC clients get {@code grpc-status} 14); after
 * it started, the downstream is reset (nothing else is honest).
 *
 * <p><b>Backpressure:</b> both channels have {@code AUTO_READ} off; the request side reads only
 * while the upstream is writable, the response side only while the downstream is writable.
 *
 * <p><b>HTTP/1.1 keep-alive:</b> requests on one tunnel are served one at a time; pipelined
 * requests wait in a queue (what was already decoded) or in the socket. {@code Connection: close}
 * from the client, or the tunnel's END_STREAM, ends the tunnel after the current response.
 *
 * <h2>Reference counting</h2>
 * Request objects are written upstream (ownership moves) or released when the request is
 * answered locally; response objects are written downstream.
 *
 * <h2>Threading</h2>
 * The downstream channel's event loop; the exchange channel is on the same loop.
 */
final class HttpProxyHandler extends ChannelInboundHandlerAdapter implements HttpUpstreamPool.Owner {
    private static final Logger log = LoggerFactory.getLogger(HttpProxyHandler.class);
    private static final List<CharSequence> HOP_BY_HOP = List.of(HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
            HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.UPGRADE, HttpHeaderNames.PROXY_AUTHENTICATE,
            HttpHeaderNames.PROXY_AUTHORIZATION);
    private static final CharSequence STREAM_ID = HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text();
    private static final CharSequence SCHEME = HttpConversionUtil.ExtensionHeaderNames.SCHEME.text();
    private static final CharSequence PATH = HttpConversionUtil.ExtensionHeaderNames.PATH.text();

    private final Upstreams upstreams;
    private final HttpUpstreamPool pool;
    private final TunnelContext tunnel;
    private final boolean h2;

    private ChannelHandlerContext ctx;
    /** Decoded objects of requests after the current one (HTTP/1.1 pipelining). */
    private final ArrayDeque<Object> backlog = new ArrayDeque<>();
    /** Request objects waiting for the exchange channel. */
    private final ArrayDeque<Object> pending = new ArrayDeque<>();
    private boolean drainingBacklog;

    // --- state of the request in flight; all reset by finish() ---
    private boolean inFlight;
    private Endpoint endpoint;
    private Channel up;
    private boolean requestDone;
    private boolean responseStarted;
    private boolean responseDone;
    private boolean keepAlive;
    private boolean upstreamReusable;
    private boolean grpc;
    private boolean discarding;
    private boolean inputClosed;
    private boolean draining;
    private boolean upstreamH2;
    private boolean syncExchange;

    HttpProxyHandler(Upstreams upstreams, HttpUpstreamPool pool, TunnelContext tunnel, boolean h2) {
        this.upstreams = upstreams;
        this.pool = pool;
        this.tunnel = tunnel;
        this.h2 = h2;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.channel().config().setOption(ChannelOption.AUTO_READ, false);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!backlog.isEmpty() || (inFlight && msg instanceof HttpRequest)) {
            backlog.add(msg); // a pipelined request waits for the one in flight
            return;
        }
        onRequestObject(msg);
    }

    /** Feeds queued pipelined objects in order, up to the next request head while one is in flight. */
    private void drainBacklog() {
        if (drainingBacklog) {
            return; // re-entered from a request that finished synchronously (local reply)
        }
        drainingBacklog = true;
        try {
            while (!backlog.isEmpty() && !(inFlight && backlog.peek() instanceof HttpRequest)) {
                onRequestObject(backlog.poll());
            }
        } finally {
            drainingBacklog = false;
        }
    }

    private void onRequestObject(Object msg) {
        if (msg instanceof HttpRequest req) {
            startRequest(req);
            if (msg instanceof LastHttpContent) { // a FullHttpRequest: head and body in one
                requestDone = true;
                maybeFinish();
            }
            return;
        }
        if (msg instanceof HttpContent content) {
            if (!inFlight) {
                content.release(); // content with no request (after a local reply mid-body)
                return;
            }
            boolean last = msg instanceof LastHttpContent;
            if (discarding) {
                content.release();
            } else if (up == null) {
                pending.add(content);
            } else {
                up.write(content, up.voidPromise());
                if (last) {
                    up.flush();
                }
            }
            if (last) {
                requestDone = true;
                maybeFinish();
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void startRequest(HttpRequest req) {
        inFlight = true;
        requestDone = false;
        responseStarted = false;
        responseDone = false;
        discarding = false;
        upstreamReusable = false;
        keepAlive = h2 || HttpUtil.isKeepAlive(req);
        String ct = req.headers().get(HttpHeaderNames.CONTENT_TYPE);
        grpc = ct != null && ct.startsWith("application/grpc");

        RouteSelection route = ctx.channel().attr(RequestKeys.ROUTE).getAndSet(null);
        RouteSelection.Backend backend = route != null ? route.backend() : Upstreams.defaultBackend(tunnel.target());
        Object pick = upstreams.pick(tunnel, backend);
        if (pick instanceof Rejection r) {
            ReferenceCountUtil.release(req);
            localReply(r);
            return;
        }
        endpoint = (Endpoint) pick;
        boolean h2Up = h2 || tunnel.target().protocol().isH2();
        // remembered: an HTTP/1.1 exchange over HBONE is itself an Http2StreamChannel (the tunnel),
        // so the channel's type cannot tell how to give it back
        upstreamH2 = h2Up;
        sanitizeRequest(req.headers(), h2Up);
        if (!h2Up) {
            req.setProtocolVersion(HttpVersion.HTTP_1_1);
        }
        pending.add(req);
        Future<Channel> f = pool.acquire(endpoint, h2Up, tunnel, ctx.channel().eventLoop(), this);
        if (f.isDone()) {
            // a pooled connection: we are inside a read burst, whose channelReadComplete flushes head
            // and body together (one write, one TLS record, instead of two)
            syncExchange = true;
            onExchange(f);
            syncExchange = false;
        } else {
            f.addListener(this::onExchange);
        }
    }

    private void onExchange(Future<? super Channel> f) {
        if (!f.isSuccess()) {
            Rejection r = RejectedException.of(f.cause(), Rejection.Reason.UPSTREAM_REFUSED);
            log.info("request to {} via {} failed: {}", tunnel.target().authority(), endpoint, r);
            releasePending();
            if (ctx.channel().isActive()) {
                localReply(r);
            }
            return;
        }
        Channel ch = (Channel) f.getNow();
        if (!ctx.channel().isActive() || !inFlight) {
            pool.release(ch, endpoint, upstreamH2, false);
            releasePending();
            return;
        }
        up = ch;
        while (!pending.isEmpty()) {
            up.write(pending.poll(), up.voidPromise());
        }
        if (!syncExchange) {
            up.flush();
        }
        up.read();
        if (!requestDone && up.isWritable()) {
            ctx.read();
        }
    }

    private void releasePending() {
        while (!pending.isEmpty()) {
            ReferenceCountUtil.release(pending.poll());
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (up != null) {
            up.flush();
        }
        if (!inFlight) {
            ctx.read(); // between requests: wait for the next one
        } else if (!requestDone && (discarding || (up != null && up.isWritable()))) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && up != null && !responseDone) {
            up.read();
        }
        ctx.fireChannelWritabilityChanged();
    }

    // --- the upstream side (HttpUpstreamPool.Owner) ---

    @Override
    public void upstreamRead(Object msg) {
        if (!inFlight || responseDone) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpResponse res) {
            HttpResponseStatus status = res.status();
            if (status.codeClass() == HttpStatusClass.INFORMATIONAL && status.code() != 101) {
                // 100 Continue and friends pass through; the final response follows
                sanitizeResponse(res.headers());
                ctx.writeAndFlush(msg);
                return;
            }
            responseStarted = true;
            upstreamReusable = HttpUtil.isKeepAlive(res);
            sanitizeResponse(res.headers());
            if (!h2) {
                res.setProtocolVersion(HttpVersion.HTTP_1_1);
                if (!HttpUtil.isContentLengthSet(res) && !HttpUtil.isTransferEncodingChunked(res)
                        && mayHaveBody(status)) {
                    HttpUtil.setTransferEncodingChunked(res, true);
                }
                if (!keepAlive || draining) {
                    res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                }
            }
        }
        boolean last = msg instanceof LastHttpContent;
        ctx.write(msg);
        if (last) {
            responseDone = true;
            ctx.flush();
            maybeFinish();
        }
    }

    @Override
    public void upstreamReadComplete() {
        ctx.flush();
        if (up != null && !responseDone && ctx.channel().isWritable()) {
            up.read();
        }
    }

    @Override
    public void upstreamWritable() {
        if (inFlight && !requestDone) {
            ctx.read();
        }
    }

    @Override
    public void upstreamClosed() {
        if (!inFlight || responseDone) {
            return;
        }
        up = null;
        if (!responseStarted) {
            localReply(new Rejection(Rejection.Reason.UPSTREAM_RESET,
                    "upstream " + endpoint + " closed the connection before responding"));
        } else {
            log.info("upstream {} closed mid-response; resetting the client stream", endpoint);
            ctx.close();
        }
    }

    private static boolean mayHaveBody(HttpResponseStatus status) {
        int c = status.code();
        return c >= 200 && c != 204 && c != 304;
    }

    // --- completion ---

    private void maybeFinish() {
        if (!requestDone || !responseDone) {
            return;
        }
        Channel exchange = up;
        up = null;
        inFlight = false;
        if (exchange != null) {
            pool.release(exchange, endpoint, upstreamH2, upstreamReusable && !discarding);
        }
        endpoint = null;
        if (h2) {
            return; // the inner stream ended with the response's END_STREAM
        }
        if (!keepAlive || inputClosed || draining) {
            endTunnel();
            return;
        }
        // next pipelined request, if one was already decoded
        drainBacklog();
        if (!inFlight && !drainingBacklog) {
            ctx.read();
        }
    }

    private void endTunnel() {
        Channel ch = ctx.channel();
        ch.flush();
        HalfClose.shutdownOutput(ch).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * Answers the request in flight from here. The rest of its body (if any) is read and dropped
     * so that the next keep-alive request can be parsed.
     */
    private void localReply(Rejection r) {
        if (responseStarted) {
            ctx.close();
            return;
        }
        responseStarted = true;
        responseDone = true;
        discarding = true;
        releasePending();
        HttpResponse res;
        if (grpc) {
            // gRPC "trailers-only" response: HTTP 200 with the status in the headers
            FullHttpResponse full = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            full.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")
                    .set("grpc-status", r.reason().status() == 504 ? "4" : "14")
                    .set("grpc-message", r.reason().code() + ": " + r.message());
            HttpUtil.setContentLength(full, 0);
            res = full;
        } else {
            FullHttpResponse full = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.valueOf(r.reason().status()), ByteBufUtil.writeUtf8(ctx.alloc(), r.body()));
            full.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                    .set("x-waypoint-reason", r.reason().code());
            HttpUtil.setContentLength(full, full.content().readableBytes());
            res = full;
        }
        if (!h2 && !keepAlive) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        log.debug("local reply to {}: {}", tunnel.target().authority(), r);
        ctx.writeAndFlush(res);
        maybeFinish();
        if (inFlight && !requestDone) {
            ctx.read(); // drain the rest of the body
        }
    }

    /** Hop-by-hop headers are per connection (RFC 9110 §7.6.1); codec bookkeeping headers too. */
    private static void sanitizeRequest(HttpHeaders h, boolean h2Up) {
        stripConnectionHeaders(h);
        h.remove(STREAM_ID);
        h.remove(PATH);
        if (!h2Up) {
            h.remove(SCHEME);
            String te = h.get(HttpHeaderNames.TE);
            if (te != null && !te.equalsIgnoreCase("trailers")) {
                h.remove(HttpHeaderNames.TE);
            }
        }
    }

    private static void sanitizeResponse(HttpHeaders h) {
        stripConnectionHeaders(h);
        h.remove(STREAM_ID);
        h.remove(SCHEME);
        h.remove(PATH);
    }

    private static void stripConnectionHeaders(HttpHeaders h) {
        for (String listed : h.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : listed.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !t.equalsIgnoreCase("close") && !t.equalsIgnoreCase("keep-alive")) {
                    h.remove(t);
                }
            }
        }
        for (CharSequence name : HOP_BY_HOP) {
            h.remove(name);
        }
    }

    // --- the downstream side ending ---

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof ChannelInputShutdownEvent) {
            inputClosed = true;
            if (!inFlight) {
                endTunnel();
            }
            return;
        }
        if (evt instanceof dev.waypoint.transport.DrainEvent) {
            // finish the request in flight, then end the tunnel; an idle tunnel ends now
            draining = true;
            if (!inFlight && !h2) {
                endTunnel();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releasePending();
        while (!backlog.isEmpty()) {
            ReferenceCountUtil.release(backlog.poll());
        }
        if (up != null) {
            Channel exchange = up;
            up = null;
            // the client went away mid-exchange: the connection's state is unknown, do not reuse it
            pool.release(exchange, endpoint, upstreamH2, false);
        }
        inFlight = false;
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("request channel failed", cause);
        ctx.close();
    }
}
