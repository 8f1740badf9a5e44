package dev.waypoint.lb;

import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.ServiceCalls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * {@link ServiceCalls} over the upstream machinery: the Service port's endpoint is picked as for
 * any request ({@link Upstreams#pick}), and the exchange channel comes from the same
 * {@link HttpUpstreamPool} (an outbound HBONE stream for mesh endpoints, plaintext otherwise;
 * HTTP/1.1 connections reused, one h2c connection per endpoint). One attempt, no retries: the
 * caller (ext_authz) has its own answer for a failure ({@code failOpen}, {@code statusOnError}).
 *
 * <h2>Reference counting</h2>
 * The request is written whole (ownership moves to the channel); response objects are copied into
 * the buffered {@link ServiceCalls.Response} and released as they arrive.
 *
 * <h2>Threading</h2>
 * {@link #call} runs on one of the data-plane event loops (the request's); everything happens on
 * that loop, and the result completes there.
 */
final class ServiceCallClient implements ServiceCalls {
    private final Upstreams upstreams;
    private final ExchangeChannels pool;
    private final EventLoopGroup loops;

    ServiceCallClient(Upstreams upstreams, ExchangeChannels pool, EventLoopGroup loops) {
        this.upstreams = upstreams;
        this.pool = pool;
        this.loops = Objects.requireNonNull(loops, "loops");
    }

    @Override
    public CompletionStage<Response> call(RequestContext request, Call call) {
        EventLoop loop = currentLoop();
        if (loop == null) {
            throw new IllegalStateException("ServiceCalls.call must run on a data-plane event loop");
        }
        ServiceSpec service = null;
        for (ServiceSpec s : request.snapshot().resources().services()) {
            if (s.name().equals(call.service())) {
                service = s;
                break;
            }
        }
        ServicePortSpec port = service == null ? null : service.port(call.port());
        if (port == null) {
            return CompletableFuture.failedFuture(new RejectedException(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM,
                    "service " + call.service() + " port " + call.port() + " is not in the config")));
        }
        RouteSelection.ServiceBackend backend = new RouteSelection.ServiceBackend(service, port);
        UpstreamPick pick = upstreams.pick(request.snapshot(), backend, null, null);
        if (pick instanceof UpstreamPick.Unavailable u) {
            return CompletableFuture.failedFuture(new RejectedException(u.rejection()));
        }
        Exchange ex = new Exchange((Endpoint) pick, call, loop, upstreams.connectionOptions(request.snapshot(), backend,
                call.authority()));
        ex.start(request);
        return ex.result;
    }

    private EventLoop currentLoop() {
        for (EventExecutor e : loops) {
            if (e.inEventLoop()) {
                return (EventLoop) e;
            }
        }
        return null;
    }

    /** One call: acquire, write, buffer the response, give the channel back. Confined to its loop. */
    private final class Exchange implements HttpUpstreamPool.Owner {
        final CompletableFuture<Response> result = new CompletableFuture<>();
        private final Endpoint endpoint;
        private final Call call;
        private final EventLoop loop;
        private ScheduledFuture<?> timer;
        private Channel ch;
        private boolean done;
        private int status;
        private boolean keepAlive;
        private List<Map.Entry<String, String>> headers;
        private ByteBuf body;
        private final List<Map.Entry<String, String>> trailers = new ArrayList<>();

        /** The Service port's DestinationRule connection options (pool, TLS). */
        private final ConnectionOptions options;

        Exchange(Endpoint endpoint, Call call, EventLoop loop, ConnectionOptions options) {
            this.endpoint = endpoint;
            this.options = options;
            this.call = call;
            this.loop = loop;
        }

        void start(RequestContext request) {
            timer = loop.schedule(() -> fail(new Rejection(Rejection.Reason.REQUEST_TIMEOUT, "no response from "
                    + call.service() + ":" + call.port() + " within " + call.timeout().toMillis() + " ms")),
                    call.timeout().toNanos(), TimeUnit.NANOSECONDS);
            Future<Channel> f = pool.acquire(endpoint, call.h2(), request.tunnel(), loop, this, options);
            if (f.isDone()) {
                onChannel(f);
            } else {
                f.addListener(x -> onChannel(f));
            }
        }

        private void onChannel(Future<Channel> f) {
            if (!f.isSuccess()) {
                fail(RejectedException.of(f.cause(), Rejection.Reason.UPSTREAM_REFUSED));
                return;
            }
            Channel c = f.getNow();
            if (done) {
                pool.release(c, endpoint, call.h2(), Release.END); // unused: nothing was sent on it
                return;
            }
            ch = c;
            FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(call.method()),
                    call.path(), Unpooled.wrappedBuffer(call.body()));
            for (Map.Entry<String, String> h : call.headers()) {
                req.headers().add(h.getKey(), h.getValue());
            }
            req.headers().set(HttpHeaderNames.HOST, call.authority());
            HttpUtil.setContentLength(req, call.body().length);
            if (call.h2()) {
                req.headers().set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "http");
            }
            ch.writeAndFlush(req).addListener(w -> {
                if (!w.isSuccess()) {
                    fail(RejectedException.of(w.cause(), Rejection.Reason.UPSTREAM_RESET));
                }
            });
            ch.read();
        }

        @Override
        public void upstreamRead(Object msg) {
            try {
                if (done) {
                    return;
                }
                if (msg instanceof HttpObject o && o.decoderResult().isFailure()) {
                    fail(new Rejection(Rejection.Reason.UPSTREAM_RESET, "malformed response from " + endpoint + ": "
                            + o.decoderResult().cause().getMessage()));
                    return;
                }
                if (msg instanceof HttpResponse res) {
                    if (res.status().code() < 200) {
                        return; // 100 Continue and friends
                    }
                    status = res.status().code();
                    keepAlive = HttpUtil.isKeepAlive(res);
                    headers = new ArrayList<>(res.headers().size());
                    res.headers().forEach(e -> {
                        String name = e.getKey().toLowerCase(Locale.ROOT);
                        if (!name.startsWith("x-http2-")) {
                            headers.add(new AbstractMap.SimpleImmutableEntry<>(name, e.getValue()));
                        }
                    });
                    body = Unpooled.buffer(0);
                }
                if (msg instanceof HttpContent c && headers != null) {
                    if (body.readableBytes() + c.content().readableBytes() > call.maxResponseBytes()) {
                        fail(new Rejection(Rejection.Reason.UPSTREAM_RESET, "response from " + call.service()
                                + " larger than " + call.maxResponseBytes() + " bytes"));
                        return;
                    }
                    body.writeBytes(c.content(), c.content().readerIndex(), c.content().readableBytes());
                    if (c instanceof LastHttpContent last) {
                        last.trailingHeaders().forEach(e -> trailers.add(new AbstractMap.SimpleImmutableEntry<>(
                                e.getKey().toLowerCase(Locale.ROOT), e.getValue())));
                        complete();
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void upstreamReadComplete() {
            if (!done && ch != null) {
                ch.read();
            }
        }

        @Override
        public void upstreamWritable() {}

        @Override
        public void upstreamClosed() {
            fail(new Rejection(Rejection.Reason.UPSTREAM_RESET, call.service() + ":" + call.port()
                    + " closed before a complete response"));
        }

        private void complete() {
            done = true;
            timer.cancel(false);
            byte[] bytes = new byte[body.readableBytes()];
            body.readBytes(bytes);
            body.release();
            body = null;
            Channel c = ch;
            ch = null;
            pool.release(c, endpoint, call.h2(), Release.completed(keepAlive));
            result.complete(new Response(status, headers, bytes, trailers));
        }

        private void fail(Rejection r) {
            if (done) {
                return;
            }
            done = true;
            if (timer != null) {
                timer.cancel(false);
            }
            if (body != null) {
                body.release();
                body = null;
            }
            Channel c = ch;
            ch = null;
            if (c != null) {
                pool.release(c, endpoint, call.h2(), Release.ABANDON);
            }
            result.completeExceptionally(new RejectedException(r));
        }
    }
}
