package dev.waypoint.server;

import dev.waypoint.lb.Upstreams;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RetryPolicy;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.transport.ExchangeSink;
import dev.waypoint.wasm.HttpCallout;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.ThreadExecutorMap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * {@code proxy_http_call} over the upstream stage: the cluster {@code outbound|PORT||HOST} names
 * a Service port of the calling request's snapshot (HOST {@code name.namespace.svc.cluster.local});
 * the call is one request to it through the same machinery as forwarded requests (endpoint pick,
 * pooled outbound HBONE with the waypoint's identity), with the plugin's timeout and no retries,
 * on the calling request's event loop. The response is collected whole (at most 1 MiB).
 *
 * <h2>Threading</h2>
 * Called on an event loop (the plugin's callback); everything, completion included, happens there.
 */
final class WasmHttpCallout implements HttpCallout {
    private static final int MAX_BODY = 1 << 20;
    private final Supplier<Upstreams> upstreams;

    WasmHttpCallout(Supplier<Upstreams> upstreams) {
        this.upstreams = upstreams;
    }

    @Override
    public CompletionStage<Response> call(RequestContext origin, String cluster, List<Map.Entry<String, String>> headers,
                                          byte[] body, Duration timeout) {
        Upstreams up = upstreams.get();
        EventExecutor exec = ThreadExecutorMap.currentExecutor();
        if (up == null || !(exec instanceof EventLoop loop)) {
            throw new IllegalArgumentException("no upstream machinery on this thread");
        }
        String[] parts = cluster.split("\\|", -1);
        if (parts.length != 4 || !parts[0].equals("outbound")) {
            throw new IllegalArgumentException("cluster: " + cluster + " (expected: outbound|PORT||HOST)");
        }
        int port;
        try {
            port = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cluster: " + cluster + " (expected: outbound|PORT||HOST)");
        }
        ServiceSpec service = null;
        for (ServiceSpec s : origin.snapshot().resources().services()) {
            if (s.hostname("cluster.local").equals(parts[3])) {
                service = s;
                break;
            }
        }
        ServicePortSpec sp = service == null ? null : service.port(port);
        if (sp == null || service.clusterIps().isEmpty()) {
            throw new IllegalArgumentException("cluster " + cluster + ": no such Service port with a VIP");
        }
        String method = "GET";
        String path = "/";
        String authority = parts[3];
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/",
                Unpooled.wrappedBuffer(body));
        for (Map.Entry<String, String> h : headers) {
            switch (h.getKey()) {
                case ":method" -> method = h.getValue();
                case ":path" -> path = h.getValue();
                case ":authority" -> authority = h.getValue();
                default -> {
                    if (!h.getKey().startsWith(":")) {
                        req.headers().add(h.getKey(), h.getValue());
                    }
                }
            }
        }
        req.setMethod(HttpMethod.valueOf(method));
        req.setUri(path);
        req.headers().set(HttpHeaderNames.HOST, authority);
        req.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        Target target = new Target.ServiceTarget(new HostPort(service.clusterIps().get(0), port), service, sp);
        RequestContext rc = new RequestContext(origin.tunnel(), origin.snapshot(), target,
                attributes(req, origin, target), new Headers(req.headers()), new RequestOutcome(System.nanoTime()));
        rc.set(RouteSelection.KEY, new RouteSelection(cluster, new RouteSelection.ServiceBackend(service, sp), timeout,
                RetryPolicy.NONE));
        Collect sink = new Collect();
        up.httpStage().start(rc, req, false, loop, sink);
        return sink.result;
    }

    private static RequestAttributes attributes(FullHttpRequest req, RequestContext origin, Target target) {
        String method = req.method().name();
        String path = req.uri();
        String host = req.headers().get(HttpHeaderNames.HOST);
        Headers view = new Headers(req.headers());
        InetSocketAddress dst = new InetSocketAddress(target.authority().address(), target.authority().port());
        return new RequestAttributes() {
            public String method() { return method; }
            public String path() { return path; }
            public String host() { return host; }
            public String scheme() { return "http"; }
            public String protocol() { return "HTTP/1.1"; }
            public boolean grpc() { return false; }
            public HeadersView headers() { return view; }
            public SpiffeId sourcePrincipal() { return origin.attributes().sourcePrincipal(); }
            public InetSocketAddress sourceAddress() { return origin.attributes().sourceAddress(); }
            public InetSocketAddress destinationAddress() { return dst; }
        };
    }

    /** The response, collected; every message released here. */
    private static final class Collect implements ExchangeSink {
        final CompletableFuture<Response> result = new CompletableFuture<>();
        private int status;
        private final List<Map.Entry<String, String>> headers = new ArrayList<>();
        private final ByteArrayOutputStream body = new ByteArrayOutputStream();

        @Override
        public boolean isWritable() {
            return true;
        }

        @Override
        public void responseHead(HttpResponse head) {
            try {
                if (head.status().code() < 200) {
                    return; // informational
                }
                status = head.status().code();
                head.headers().forEach(e -> headers.add(Map.entry(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue())));
                if (head instanceof HttpContent c) {
                    content(c);
                }
            } finally {
                ReferenceCountUtil.release(head);
            }
        }

        @Override
        public void responseContent(HttpContent content) {
            try {
                content(content);
            } finally {
                content.release();
            }
        }

        private void content(HttpContent c) {
            if (result.isDone()) {
                return;
            }
            int n = c.content().readableBytes();
            if (body.size() + n > MAX_BODY) {
                result.completeExceptionally(new IOException("http call response body over " + MAX_BODY + " bytes"));
                return;
            }
            byte[] chunk = new byte[n];
            c.content().getBytes(c.content().readerIndex(), chunk);
            body.write(chunk, 0, n);
            if (c instanceof LastHttpContent last) {
                List<Map.Entry<String, String>> trailers = new ArrayList<>();
                last.trailingHeaders().forEach(e -> trailers.add(Map.entry(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue())));
                result.complete(new Response(status, headers, body.toByteArray(), trailers));
            }
        }

        @Override
        public void responseFlush() {}

        @Override
        public void requestWritable() {}

        @Override
        public void failed(Rejection rejection) {
            result.completeExceptionally(new IOException(rejection.toString()));
        }
    }

    /** {@link HeadersView} over the call's Netty headers. */
    private record Headers(HttpHeaders h) implements HeadersView {
        public String get(CharSequence name) { return h.get(name); }
        public List<String> getAll(CharSequence name) { return h.getAll(name); }
        public boolean contains(CharSequence name) { return h.contains(name); }
        public void set(CharSequence name, String value) { h.set(name, value); }
        public void add(CharSequence name, String value) { h.add(name, value); }
        public void remove(CharSequence name) { h.remove(name); }

        @Override
        public void forEach(BiConsumer<String, String> action) {
            h.forEach(e -> action.accept(e.getKey(), e.getValue()));
        }
    }
}
