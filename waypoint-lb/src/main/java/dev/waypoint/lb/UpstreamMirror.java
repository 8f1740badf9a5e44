package dev.waypoint.lb;

import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RouteSelection;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fire-and-forget copy of a request (HTTPRoute {@code RequestMirror}), as Envoy's shadow
 * writer sends it: the request as forwarded (after the route's filters), with {@code -shadow}
 * appended to the host name, sent once the whole body is in, to an endpoint of the mirror's
 * Service in the protocol that Service port declares (or of its ServiceEntry: the endpoint is
 * picked as for a backendRef to the entry, {@link Upstreams#pick}); its response is read and dropped.
 *
 * <p><b>Never affects the response.</b> Nothing here calls back into the request: a mirror that
 * cannot pick an endpoint, connect, or finish simply ends; one whose body outgrows
 * {@link UpstreamRequest#REPLAY_LIMIT} is dropped before anything is sent (Envoy gives up on a
 * shadow past its buffer limit); one that takes longer than {@link #TIMEOUT_SECONDS} is cut.
 *
 * <h2>Reference counting</h2>
 * The head and body pieces held are retained duplicates of the request's, released when written
 * or when the mirror is dropped; response objects are released as they arrive.
 *
 * <h2>Threading</h2>
 * The request's event loop.
 */
final class UpstreamMirror implements HttpUpstreamPool.Owner {
    private static final Logger log = LoggerFactory.getLogger(UpstreamMirror.class);
    /** A mirror's exchange is cut after this long (it holds a pooled connection). */
    static final int TIMEOUT_SECONDS = 30;

    private final Upstreams upstreams;
    private final ExchangeChannels pool;
    private final RequestContext request;
    private final EventLoop loop;
    private final RouteSelection.Backend backend;
    private final boolean h2;
    private HttpRequest head;
    private List<HttpContent> body = new ArrayList<>(2);
    private int bytes;
    private boolean complete;
    private boolean over;
    private Endpoint endpoint;
    private Channel up;
    private boolean reusable;
    private ScheduledFuture<?> timer;

    /**
     * @param forwarded the request head as it goes upstream (copied here; not retained beyond a
     *        {@link FullHttpRequest}'s content, which is duplicated)
     */
    UpstreamMirror(Upstreams upstreams, ExchangeChannels pool, RequestContext request, EventLoop loop,
                   RouteSelection.Backend backend, HttpRequest forwarded, boolean h2Downstream) {
        this.upstreams = upstreams;
        this.pool = pool;
        this.request = request;
        this.loop = loop;
        this.backend = backend;
        this.h2 = UpstreamProtocol.h2(backend, request.target(), h2Downstream,
                Upstreams.poolOf(request.snapshot(), backend), false, request.snapshot().resources().meshConfig().h2Upgrade());
        HttpRequest copy;
        if (forwarded instanceof FullHttpRequest full) {
            copy = new DefaultFullHttpRequest(full.protocolVersion(), full.method(), full.uri(), full.content().retainedDuplicate(),
                    full.headers().copy(), full.trailingHeaders().copy());
            bytes = full.content().readableBytes();
            complete = true;
        } else {
            copy = new DefaultHttpRequest(forwarded.protocolVersion(), forwarded.method(), forwarded.uri(), forwarded.headers().copy());
        }
        String host = copy.headers().get(HttpHeaderNames.HOST);
        if (host != null && !host.isEmpty()) {
            copy.headers().set(HttpHeaderNames.HOST, shadowHost(host));
        }
        UpstreamRequest.sanitizeRequest(copy.headers(), h2);
        this.head = copy;
    }

    /** Envoy's {@code shadowAppendedHost}: {@code -shadow} after the host name, before any port. */
    static String shadowHost(String host) {
        int colon = host.startsWith("[") ? host.indexOf("]:") + 1 : host.indexOf(':') == host.lastIndexOf(':') ? host.indexOf(':') : -1;
        return colon > 0 ? host.substring(0, colon) + "-shadow" + host.substring(colon) : host + "-shadow";
    }

    /** The head carried the whole request: send at once. Otherwise wait for {@link #content}. */
    void start() {
        if (complete) {
            send();
        }
    }

    /** A piece of the request body (not retained by the caller for us: we keep a retained duplicate). */
    void content(HttpContent c) {
        if (over || complete) {
            return;
        }
        bytes += c.content().readableBytes();
        if (bytes > UpstreamRequest.REPLAY_LIMIT) {
            log.debug("mirror of {} to {} dropped: the body outgrew {} bytes", request, backend, UpstreamRequest.REPLAY_LIMIT);
            drop();
            return;
        }
        body.add(c.retainedDuplicate());
        if (c instanceof LastHttpContent) {
            complete = true;
            send();
        }
    }

    /** The request ended for the upstream stage: a mirror still waiting for body it will not get is dropped. */
    void requestEnded() {
        if (!complete) {
            drop();
        }
    }

    private void send() {
        UpstreamPick pick;
        try {
            pick = upstreams.pick(request.snapshot(), backend, request, null);
        } catch (RuntimeException e) {
            log.debug("mirror of {} to {}: no pick", request, backend, e);
            drop();
            return;
        }
        if (pick instanceof UpstreamPick.Unavailable u) {
            log.debug("mirror of {} to {}: {}", request, backend, u.rejection());
            drop();
            return;
        }
        endpoint = (Endpoint) pick;
        timer = loop.schedule(() -> {
            if (!over) {
                log.debug("mirror of {} to {} cut after {} s", request, endpoint, TIMEOUT_SECONDS);
                finish(Release.ABANDON);
            }
        }, TIMEOUT_SECONDS, TimeUnit.SECONDS);
        Future<Channel> f = pool.acquire(endpoint, h2, request.tunnel(), loop, this,
                // its DestinationRule's pool and TLS; auto SNI from the copy's Host, as Envoy's shadow request has it
                upstreams.connectionOptions(request.snapshot(), backend, head.headers().get(HttpHeaderNames.HOST)));
        if (f.isDone()) {
            onChannel(f);
        } else {
            f.addListener(done -> onChannel(f));
        }
    }

    private void onChannel(Future<Channel> f) {
        if (!f.isSuccess()) {
            log.debug("mirror of {} to {}: {}", request, endpoint, f.cause().getMessage());
            drop();
            return;
        }
        Channel ch = f.getNow();
        if (over) {
            pool.release(ch, endpoint, h2, Release.END); // unused: nothing was sent on it
            return;
        }
        up = ch;
        up.write(head, up.voidPromise());
        head = null;
        for (HttpContent c : body) {
            up.write(c, up.voidPromise());
        }
        body = null;
        up.flush();
        up.read();
    }

    /** Releases what was not sent; gives a held channel back unreusable. */
    private void drop() {
        finish(Release.ABANDON);
    }

    private void finish(Release how) {
        if (over) {
            return;
        }
        over = true;
        if (timer != null) {
            timer.cancel(false);
        }
        if (head != null) {
            ReferenceCountUtil.release(head);
            head = null;
        }
        if (body != null) {
            body.forEach(HttpContent::release);
            body = null;
        }
        Channel ch = up;
        up = null;
        if (ch != null) {
            pool.release(ch, endpoint, h2, how);
        }
    }

    // --- HttpUpstreamPool.Owner: the mirror's response is read and dropped ---

    @Override
    public void upstreamRead(Object msg) {
        if (msg instanceof HttpResponse res && !(res.status().code() >= 100 && res.status().code() < 200)) {
            reusable = HttpUtil.isKeepAlive(res);
        }
        boolean last = msg instanceof LastHttpContent && (!(msg instanceof HttpObject o) || !o.decoderResult().isFailure());
        boolean failed = msg instanceof HttpObject o && o.decoderResult().isFailure();
        ReferenceCountUtil.release(msg);
        if (failed) {
            finish(Release.ABANDON);
        } else if (last) {
            finish(Release.completed(reusable));
        }
    }

    @Override
    public void upstreamReadComplete() {
        if (!over && up != null) {
            up.read();
        }
    }

    @Override
    public void upstreamWritable() {}

    @Override
    public void upstreamClosed() {
        finish(Release.ABANDON);
    }
}
