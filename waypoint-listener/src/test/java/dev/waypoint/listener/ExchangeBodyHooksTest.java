package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.request.BodyChunk;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.ExchangeSink;
import dev.waypoint.transport.UpstreamCall;
import dev.waypoint.transport.UpstreamStage;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The body hooks of {@link HttpFilter} in the exchange handler, on an {@link EmbeddedChannel} with
 * a scripted upstream: a request no filter wants the body of is relayed untouched (the same
 * objects, its content-length kept); a filter that holds the body until its end and rewrites it
 * (content-length dropped, chunked upstream); trailers; a local reply from a body hook; the
 * response body rewritten (also of a full response), and a reset when a response body hook
 * refuses. The filter's behaviour is chosen by the request path.
 */
class ExchangeBodyHooksTest {
    final AtomicReference<ConfigSnapshot> current = new AtomicReference<>(ExchangeHandlerTest.snapshot(0, true));
    final List<Call> calls = new ArrayList<>();
    final List<String> seen = new ArrayList<>();
    EmbeddedChannel ch;

    /** {@code /none}: no body wanted; {@code /hold}: holds the request body, then upper-cases it;
     *  {@code /deny}: answers once the body says "stop"; {@code /resp}: holds the response body and wraps it;
     *  {@code /reset}: refuses the response body. */
    final HttpFilter bodies = new HttpFilter() {
        final ByteArrayOutputStream held = new ByteArrayOutputStream();

        @Override
        public String name() {
            return "bodies";
        }

        @Override
        public FilterResult onRequest(RequestContext request) {
            return FilterResult.CONTINUE;
        }

        private String path(RequestContext r) {
            return r.attributes().path();
        }

        @Override
        public boolean wantsRequestBody(RequestContext request) {
            return path(request).equals("/hold") || path(request).equals("/deny");
        }

        @Override
        public FilterResult onRequestBody(RequestContext request, BodyChunk chunk) {
            String text = new String(chunk.bytes(), StandardCharsets.UTF_8);
            seen.add("request " + text + (chunk.endOfStream() ? " (end)" : ""));
            if (path(request).equals("/deny")) {
                return text.contains("stop") ? FilterResult.reply(new Rejection(Rejection.Reason.INTERNAL, "stopped"))
                        : FilterResult.CONTINUE;
            }
            held.writeBytes(chunk.bytes());
            if (!chunk.endOfStream()) {
                chunk.bytes(null); // held: nothing goes on yet
                return FilterResult.CONTINUE;
            }
            chunk.bytes(held.toString(StandardCharsets.UTF_8).toUpperCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
            held.reset();
            return FilterResult.CONTINUE;
        }

        @Override
        public void onRequestTrailers(RequestContext request, HeadersView trailers) {
            seen.add("trailers " + trailers.get("x-checksum"));
            trailers.set("x-seen", "yes");
        }

        @Override
        public boolean wantsResponseBody(RequestContext request) {
            return path(request).equals("/resp") || path(request).equals("/reset") || path(request).equals("/pass");
        }

        @Override
        public FilterResult onResponseBody(RequestContext request, BodyChunk chunk) {
            if (path(request).equals("/pass")) {
                return FilterResult.CONTINUE;
            }
            if (path(request).equals("/reset")) {
                return FilterResult.reply(new Rejection(Rejection.Reason.INTERNAL, "no"));
            }
            held.writeBytes(chunk.bytes());
            if (!chunk.endOfStream()) {
                chunk.bytes(null);
                return FilterResult.CONTINUE;
            }
            chunk.bytes(("[" + held.toString(StandardCharsets.UTF_8) + "]").getBytes(StandardCharsets.UTF_8));
            held.reset();
            return FilterResult.CONTINUE;
        }
    };

    static final class Call implements UpstreamCall {
        final HttpRequest head;
        final ExchangeSink sink;
        final List<HttpContent> body = new ArrayList<>();
        boolean cancelled;

        Call(HttpRequest head, ExchangeSink sink) {
            this.head = head;
            this.sink = sink;
        }

        @Override
        public void requestContent(HttpContent content) {
            body.add(content);
        }

        @Override
        public void flushRequest() {}

        @Override
        public boolean isRequestWritable() {
            return true;
        }

        @Override
        public void responseWritable() {}

        @Override
        public void cancel() {
            cancelled = true;
        }

        String bodyText() {
            StringBuilder b = new StringBuilder();
            body.forEach(c -> b.append(c.content().toString(StandardCharsets.UTF_8)));
            return b.toString();
        }
    }

    final UpstreamStage upstream = (RequestContext request, HttpRequest head, boolean h2, EventLoop loop, ExchangeSink sink) -> {
        Call c = new Call(head, sink);
        calls.add(c);
        return c;
    };

    EmbeddedChannel channel(boolean h2) {
        Target target = (Target) TargetResolver.resolve(ExchangeHandlerTest.VIP + ":80", current.get().part(TargetTable.PART));
        TunnelContext tunnel = new TunnelContext(target, null, null, null, null, null, null);
        ch = new EmbeddedChannel(new ExchangeHandler(tunnel, SnapshotSource.from(current::get),
                new RequestChain(List.of(bodies), upstream), h2));
        return ch;
    }

    @AfterEach
    void releaseAll() {
        for (Call c : calls) {
            ReferenceCountUtil.release(c.head);
            c.body.forEach(ReferenceCountUtil::release);
        }
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    static HttpRequest post(String path, int contentLength) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path);
        r.headers().set(HttpHeaderNames.HOST, "web");
        HttpUtil.setContentLength(r, contentLength);
        return r;
    }

    static HttpContent piece(String s) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    static LastHttpContent last(String s) {
        return new DefaultLastHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    /** Everything written to the client: [head, body text]; releases it. */
    List<Object> written() {
        List<Object> out = new ArrayList<>();
        StringBuilder body = new StringBuilder();
        Object m;
        while ((m = ch.readOutbound()) != null) {
            if (m instanceof HttpResponse res) {
                out.add(res.headers().copy());
            }
            if (m instanceof HttpContent c) {
                body.append(c.content().toString(StandardCharsets.UTF_8));
            }
            ReferenceCountUtil.release(m);
        }
        out.add(body.toString());
        return out;
    }

    @Test
    void aRequestNoFilterWantsTheBodyOfIsRelayedAsItCame() {
        channel(false);
        HttpContent a = piece("abc");
        LastHttpContent b = last("def");
        ch.writeInbound(post("/none", 6), a, b);
        Call c = calls.get(0);
        assertThat(c.body).as("the same objects: no copy").containsExactly(a, b);
        assertThat(c.head.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(6);
        assertThat(seen).isEmpty();
    }

    @Test
    void aRequestWithoutABodyStaysWithoutOneWhenAFilterWantsTheBody() {
        channel(false);
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/hold");
        get.headers().set(HttpHeaderNames.HOST, "web");
        ch.writeInbound(get, LastHttpContent.EMPTY_LAST_CONTENT);
        Call c = calls.get(0);
        assertThat(HttpUtil.isTransferEncodingChunked(c.head)).isFalse();
        assertThat(c.bodyText()).isEmpty();
        assertThat(seen).containsExactly("request  (end)");
    }

    @Test
    void aFilterHoldsTheBodyUntilItsEndAndRewritesIt() {
        channel(false);
        ch.writeInbound(post("/hold", 8), piece("ab"), piece("cd"));
        Call c = calls.get(0);
        assertThat(c.body).as("held").isEmpty();
        assertThat(c.head.headers().contains(HttpHeaderNames.CONTENT_LENGTH)).isFalse();
        assertThat(HttpUtil.isTransferEncodingChunked(c.head)).isTrue();
        LastHttpContent end = last("efgh");
        end.trailingHeaders().set("x-checksum", "42");
        ch.writeInbound(end);
        assertThat(c.bodyText()).isEqualTo("ABCDEFGH");
        assertThat(c.body.get(c.body.size() - 1)).isInstanceOf(LastHttpContent.class);
        assertThat(((LastHttpContent) c.body.get(c.body.size() - 1)).trailingHeaders().get("x-seen")).isEqualTo("yes");
        assertThat(seen).containsExactly("request ab", "request cd", "request efgh (end)", "trailers 42");
    }

    @Test
    void aBodyHookAnswersLocallyAndTheUpstreamIsCancelled() {
        channel(false);
        ch.writeInbound(post("/deny", 13), piece("go on "), piece("stop"), last(" now"));
        Call c = calls.get(0);
        assertThat(c.cancelled).isTrue();
        assertThat(c.bodyText()).isEqualTo("go on ");
        List<Object> out = written();
        assertThat((String) out.get(out.size() - 1)).startsWith("internal_error: stopped");
    }

    @Test
    void theResponseBodyIsHeldAndRewrittenAndLosesItsLength() {
        for (boolean h2 : new boolean[] {false, true}) {
            calls.clear();
            channel(h2);
            ch.writeInbound(post("/resp", 0), last(""));
            Call c = calls.get(calls.size() - 1);
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            HttpUtil.setContentLength(head, 5);
            c.sink.responseHead(head);
            c.sink.responseContent(piece("he"));
            c.sink.responseContent(last("llo"));
            List<Object> out = written();
            io.netty.handler.codec.http.HttpHeaders h = (io.netty.handler.codec.http.HttpHeaders) out.get(0);
            assertThat(h.contains(HttpHeaderNames.CONTENT_LENGTH)).as("h2 %s", h2).isFalse();
            assertThat(h.contains(HttpHeaderNames.TRANSFER_ENCODING)).as("h2 %s", h2).isEqualTo(!h2);
            assertThat(out.get(1)).isEqualTo("[hello]");
            ReferenceCountUtil.release(c.head);
            ch.finishAndReleaseAll();
        }
        calls.clear();
        ch = null;
    }

    @Test
    void aResponseWithALengthPassesAFilterThatLetsItThrough() {
        channel(false);
        ch.writeInbound(post("/pass", 0), last(""));
        Call c = calls.get(0);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        HttpUtil.setContentLength(head, 6);
        c.sink.responseHead(head);
        c.sink.responseContent(piece("listed"));
        c.sink.responseContent(LastHttpContent.EMPTY_LAST_CONTENT);
        List<Object> out = written();
        assertThat(out.get(1)).isEqualTo("listed");
    }

    @Test
    void aFullResponseIsSplitSoItsBodyPassesTheFilters() {
        channel(false);
        ch.writeInbound(post("/resp", 0), last(""));
        Call c = calls.get(0);
        c.sink.responseHead(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.copiedBuffer("full", StandardCharsets.UTF_8)));
        assertThat(written().get(1)).isEqualTo("[full]");
    }

    @Test
    void aResponseBodyHookThatRefusesResetsTheStream() {
        channel(true);
        ch.writeInbound(post("/reset", 0), last(""));
        Call c = calls.get(0);
        c.sink.responseHead(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        HttpContent p = piece("x");
        c.sink.responseContent(p);
        assertThat(p.refCnt()).isZero();
        assertThat(c.cancelled).isTrue();
        assertThat(ch.isOpen()).isFalse();
    }
}
