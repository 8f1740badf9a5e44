package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.ExchangeSink;
import dev.waypoint.transport.UpstreamCall;
import dev.waypoint.transport.UpstreamStage;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The exchange handler on an {@link EmbeddedChannel}, with a scripted upstream stage: request
 * ordering on HTTP/1.1 (per-request decisions, local replies in the middle, both orders of
 * completion), per-request snapshots, pauses, and every way a request can end, each closing its
 * outcome exactly once.
 */
class ExchangeHandlerTest {
    static final NamespacedName SELF = new NamespacedName("istio-system", "waypoint");
    static final String VIP = "10.96.0.10";
    /** Which backend the test route filter chose for a request: the path's first segment. */
    static final RequestKey<String> BACKEND = RequestKey.of("test.backend", String.class);

    final AtomicReference<ConfigSnapshot> current = new AtomicReference<>(snapshot(0, true));
    final List<FakeCall> calls = new ArrayList<>();
    final List<RequestContext> completed = new ArrayList<>();
    final Map<String, CompletableFuture<FilterResult>> pauses = new java.util.HashMap<>();
    final Map<String, CompletableFuture<Void>> retries = new java.util.HashMap<>();
    EmbeddedChannel ch;

    static ConfigSnapshot snapshot(long generation, boolean bound) {
        GatewaySpec gw = new GatewaySpec(SELF, "istio-waypoint", Map.of(),
                List.of(new GatewaySpec.Listener("mesh", 15008, "HBONE")), "All", LabelSelector.EVERYTHING, SourceRef.NONE);
        Map<String, String> labels = bound ? Map.of("istio.io/use-waypoint", "waypoint", "istio.io/use-waypoint-namespace",
                "istio-system") : Map.of();
        ServiceSpec svc = new ServiceSpec(new NamespacedName("apps", "web"), labels, List.of(HostPort.parseIp(VIP)),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "web"), SourceRef.NONE);
        ResourceSet rs = ResourceSet.builder(SELF, "cluster.local").namespaces(List.of(new NamespaceSpec("apps", Map.of(), SourceRef.NONE))).services(List.of(svc)).gateways(List.of(gw)).build();
        return ConfigSnapshot.compile(generation, rs, List.of(new TargetTableCompiler()), new Diagnostics());
    }

    /** Decides per request from the path: {@code /deny*} answers locally, {@code /pause*} waits, else continue. */
    final HttpFilter decider = new HttpFilter() {
        @Override
        public String name() {
            return "decider";
        }

        @Override
        public FilterResult onRequest(RequestContext request) {
            String path = request.attributes().path();
            if (path.startsWith("/retry")) {
                CompletableFuture<Void> f = retries.get(path);
                if (f == null) {
                    f = new CompletableFuture<>();
                    retries.put(path, f);
                    return FilterResult.retryWhen(f);
                }
                request.requestHeaders().set("x-asked-again", "yes"); // on the loop: the request may be touched
            }
            request.set(BACKEND, path.substring(1));
            if (path.startsWith("/deny")) {
                return FilterResult.reply(new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM, "denied " + path),
                        Map.of("x-test", "1"));
            }
            if (path.startsWith("/pause")) {
                CompletableFuture<FilterResult> f = new CompletableFuture<>();
                pauses.put(path, f);
                return FilterResult.pause(f);
            }
            return FilterResult.CONTINUE;
        }

        @Override
        public void onResponse(RequestContext request, int status, HeadersView headers) {
            headers.set("x-seen-by", "decider");
        }

        @Override
        public void onComplete(RequestContext request) {
            assertThat(request.outcome().closed()).isTrue();
            completed.add(request);
        }
    };

    /** A scripted upstream: records each call; the test answers through its sink. */
    final class FakeCall implements UpstreamCall {
        final RequestContext request;
        final HttpRequest head;
        final ExchangeSink sink;
        final List<HttpContent> body = new ArrayList<>();
        boolean cancelled;
        boolean writable = true;

        FakeCall(RequestContext request, HttpRequest head, ExchangeSink sink) {
            this.request = request;
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
            return writable;
        }

        @Override
        public void responseWritable() {}

        @Override
        public void cancel() {
            cancelled = true;
        }

        void respond(int status, String text) {
            sink.responseHead(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status)));
            sink.responseContent(new DefaultLastHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8)));
        }

        void release() {
            ReferenceCountUtil.release(head);
            body.forEach(ReferenceCountUtil::release);
        }
    }

    final UpstreamStage upstream = (RequestContext request, HttpRequest head, boolean h2, EventLoop loop, ExchangeSink sink) -> {
        FakeCall c = new FakeCall(request, head, sink);
        calls.add(c);
        return c;
    };

    EmbeddedChannel channel(boolean h2) {
        SnapshotSource source = SnapshotSource.from(current::get);
        Target target = (Target) TargetResolver.resolve(VIP + ":80", current.get().part(TargetTable.PART));
        TunnelContext tunnel = new TunnelContext(target, null, null, null, null, null, null);
        ch = new EmbeddedChannel(new ExchangeHandler(tunnel, source, new RequestChain(List.of(decider), upstream), h2));
        return ch;
    }

    @AfterEach
    void releaseAll() {
        calls.forEach(FakeCall::release);
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    static FullHttpRequest get(String path) {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web");
        return r;
    }

    /** The outbound messages as "status body" strings (a full response per local reply, head + content otherwise). */
    List<String> written() {
        List<String> out = new ArrayList<>();
        Object m;
        StringBuilder cur = null;
        while ((m = ch.readOutbound()) != null) {
            if (m instanceof HttpResponse res) {
                cur = new StringBuilder().append(res.status().code());
                if (res.headers().contains(HttpHeaderNames.CONNECTION)) {
                    cur.append(" [").append(res.headers().get(HttpHeaderNames.CONNECTION)).append(']');
                }
            }
            if (m instanceof HttpContent c && cur != null) {
                cur.append(' ').append(c.content().toString(StandardCharsets.UTF_8).trim());
            }
            if (m instanceof Http2ResetFrame reset) {
                out.add("RST_STREAM " + Http2Error.valueOf(reset.errorCode()));
            }
            if (m instanceof LastHttpContent && cur != null) {
                out.add(cur.toString());
                cur = null;
            }
            ReferenceCountUtil.release(m);
        }
        return out;
    }

    @Test
    void pipelinedRequestsAreDecidedInTurnAndAnsweredInOrder() {
        channel(false);
        // three pipelined requests in one read burst: /a is forwarded, /deny answered locally, /c forwarded
        ch.writeInbound(get("/a"), get("/deny"), get("/c"));
        assertThat(calls).hasSize(1);
        assertThat(calls.get(0).request.get(BACKEND)).isEqualTo("a");
        assertThat(written()).as("nothing overtakes the response of /a").isEmpty();

        calls.get(0).respond(200, "from a");
        // /a's response, then /deny's local reply in its turn, then /c reaches its own backend
        assertThat(written()).containsExactly("200 from a", "503 no_healthy_upstream: denied /deny");
        assertThat(calls).hasSize(2);
        assertThat(calls.get(1).request.get(BACKEND)).isEqualTo("c");
        calls.get(1).respond(201, "from c");
        assertThat(written()).containsExactly("201 from c");

        assertThat(completed).extracting(r -> r.attributes().path()).containsExactly("/a", "/deny", "/c");
        assertThat(completed).extracting(r -> r.outcome().end()).containsExactly(RequestOutcome.End.RESPONSE,
                RequestOutcome.End.LOCAL_REPLY, RequestOutcome.End.RESPONSE);
        assertThat(completed.get(1).outcome().flags()).isEqualTo("UH");
        assertThat(ch.isOpen()).isTrue();
    }

    @Test
    void aLocalReplyFirstDoesNotHoldTheNextRequest() {
        channel(false);
        ch.writeInbound(get("/deny"), get("/b"));
        assertThat(written()).containsExactly("503 no_healthy_upstream: denied /deny");
        assertThat(calls).hasSize(1);
        calls.get(0).respond(200, "b");
        assertThat(written()).containsExactly("200 b");
    }

    @Test
    void aMalformedSecondRequestIsAnsweredAfterTheFirstResponseAndThenTheTunnelEnds() {
        channel(false);
        FullHttpRequest bad = get("/bad-request");
        bad.setDecoderResult(DecoderResult.failure(new TooLongHttpHeaderException("HTTP header is larger than 65536 bytes.")));
        ch.writeInbound(get("/slow"), bad);
        assertThat(written()).isEmpty();
        calls.get(0).respond(200, "slow");
        assertThat(written()).containsExactly("200 slow",
                "431 [close] request_headers_too_large: HTTP header is larger than 65536 bytes.");
        assertThat(ch.isOpen()).as("the tunnel ends after the 431").isFalse();
        assertThat(calls).hasSize(1);
        assertThat(completed).hasSize(2);
    }

    @Test
    void eachRequestPinsTheSnapshotCurrentWhenItsTurnComes() {
        channel(false);
        ch.writeInbound(get("/a"));
        current.set(snapshot(1, true));
        ch.writeInbound(get("/b")); // decoded while /a is in flight: pins nothing yet
        current.set(snapshot(2, true));
        calls.get(0).respond(200, "a");
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).request.snapshot().generation()).isEqualTo(0);
        assertThat(calls.get(1).request.snapshot().generation()).isEqualTo(2);
    }

    @Test
    void aTargetNoLongerBoundGets503AndTheTunnelEnds() {
        channel(false);
        current.set(snapshot(1, false));
        ch.writeInbound(get("/a"));
        assertThat(calls).isEmpty();
        assertThat(written()).singleElement().asString().startsWith("503 [close] target_no_longer_bound:");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void theTunnelsTargetIsResolvedAgainInEachNewGenerationNotReusedFromTheLast() {
        channel(false);
        ch.writeInbound(get("/a"));
        calls.get(0).respond(200, "a");
        ch.writeInbound(get("/b")); // same generation: the tunnel's resolution is reused
        calls.get(1).respond(200, "b");
        assertThat(written()).containsExactly("200 a", "200 b");
        current.set(snapshot(1, false));
        ch.writeInbound(get("/c"));
        assertThat(calls).hasSize(2);
        assertThat(written()).singleElement().asString().startsWith("503 [close] target_no_longer_bound:");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void aPausedFilterHoldsTheBodyAndResumesOnTheLoop() {
        channel(false);
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/pause");
        head.headers().set(HttpHeaderNames.HOST, "web").set(HttpHeaderNames.CONTENT_LENGTH, 4);
        ch.writeInbound(head, new DefaultHttpContent(Unpooled.copiedBuffer("ab", StandardCharsets.UTF_8)),
                new DefaultLastHttpContent(Unpooled.copiedBuffer("cd", StandardCharsets.UTF_8)));
        assertThat(calls).isEmpty();
        pauses.get("/pause").complete(FilterResult.CONTINUE); // completes on "another thread": the resume is a task
        assertThat(calls).isEmpty();
        ch.runPendingTasks();
        assertThat(calls).hasSize(1);
        assertThat(calls.get(0).body).extracting(c -> c.content().toString(StandardCharsets.UTF_8)).containsExactly("ab", "cd");
    }

    @Test
    void aRetryAsksTheSameFilterAgainOnTheLoopOnceReady() {
        channel(false);
        ch.writeInbound(get("/retry"));
        assertThat(calls).isEmpty();
        retries.get("/retry").completeExceptionally(new IllegalStateException("timed out")); // however it ends
        assertThat(calls).isEmpty();
        ch.runPendingTasks();
        assertThat(calls).singleElement().satisfies(c -> assertThat(c.head.headers().get("x-asked-again")).isEqualTo("yes"));
    }

    @Test
    void aPausedFilterMayStillAnswerLocally() {
        channel(false);
        ch.writeInbound(get("/pause1"), get("/b"));
        pauses.get("/pause1").complete(FilterResult.reply(new Rejection(Rejection.Reason.BAD_REQUEST, "later no")));
        ch.runPendingTasks();
        assertThat(written()).containsExactly("400 downstream_protocol_error: later no");
        assertThat(calls).hasSize(1); // /b, in its turn
    }

    @Test
    void theClientGoingAwayMidResponseCancelsTheCallAndClosesTheOutcomeOnce() {
        channel(false);
        ch.writeInbound(get("/a"));
        FakeCall call = calls.get(0);
        call.sink.responseHead(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        ch.close();
        assertThat(call.cancelled).isTrue();
        assertThat(completed).singleElement().satisfies(r -> {
            assertThat(r.outcome().end()).isEqualTo(RequestOutcome.End.DOWNSTREAM_RESET);
            assertThat(r.outcome().flags()).isEqualTo("DC");
            assertThat(r.outcome().status()).isEqualTo(200);
        });
        // the upstream still delivering afterwards changes nothing
        call.sink.responseContent(new DefaultLastHttpContent(Unpooled.copiedBuffer("late", StandardCharsets.UTF_8)));
        assertThat(completed).hasSize(1);
    }

    @Test
    void anUpstreamFailureBeforeTheResponseIsALocalReply() {
        channel(false);
        ch.writeInbound(get("/a"), get("/b"));
        calls.get(0).sink.failed(new Rejection(Rejection.Reason.UPSTREAM_RESET, "closed before responding"));
        assertThat(written()).containsExactly("503 upstream_reset_before_response_started: closed before responding");
        assertThat(completed.get(0).outcome().end()).isEqualTo(RequestOutcome.End.LOCAL_REPLY);
        assertThat(completed.get(0).outcome().flags()).isEqualTo("UC");
        assertThat(calls).hasSize(2);
        assertThat(ch.isOpen()).isTrue();
    }

    @Test
    void anUpstreamFailureAfterTheResponseStartedResetsTheClient() {
        channel(false);
        ch.writeInbound(get("/a"), get("/b"));
        FakeCall call = calls.get(0);
        call.sink.responseHead(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        call.sink.responseContent(new DefaultHttpContent(Unpooled.copiedBuffer("part", StandardCharsets.UTF_8)));
        call.sink.failed(new Rejection(Rejection.Reason.UPSTREAM_RESET, "closed mid-body"));
        assertThat(ch.isOpen()).as("a truncated response must not look complete").isFalse();
        assertThat(written()).as("no complete response was written").isEmpty();
        assertThat(completed).singleElement().satisfies(r -> {
            assertThat(r.outcome().end()).isEqualTo(RequestOutcome.End.UPSTREAM_RESET);
            assertThat(r.outcome().flags()).isEqualTo("UR");
        });
        assertThat(calls).as("/b never started").hasSize(1);
    }

    @Test
    void responseFiltersSeeRelayedAndLocalResponses() {
        channel(false);
        ch.writeInbound(get("/a"));
        calls.get(0).respond(200, "a");
        HttpResponse res = ch.readOutbound();
        assertThat(res.headers().get("x-seen-by")).isEqualTo("decider");
        ReferenceCountUtil.release(res);
        written();
        ch.writeInbound(get("/deny"));
        FullHttpResponse local = ch.readOutbound();
        assertThat(local.headers().get("x-seen-by")).isEqualTo("decider");
        assertThat(local.headers().get("x-test")).isEqualTo("1");
        assertThat(local.headers().get(LocalReplies.REASON_HEADER)).isEqualTo("no_healthy_upstream");
        local.release();
    }

    @Test
    void h2ALocalReplyBeforeTheBodyEndedAsksTheClientToStopWithNoError() {
        channel(true);
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/deny");
        head.headers().set(HttpHeaderNames.HOST, "web");
        ch.writeInbound(head, new DefaultHttpContent(Unpooled.copiedBuffer("x", StandardCharsets.UTF_8)));
        assertThat(written()).containsExactly("503 no_healthy_upstream: denied /deny", "RST_STREAM NO_ERROR");
        assertThat(completed).singleElement().extracting(r -> r.outcome().end()).isEqualTo(RequestOutcome.End.LOCAL_REPLY);
    }

    @Test
    void grpcLocalRepliesAreTrailersOnly() {
        channel(true);
        FullHttpRequest req = get("/deny");
        req.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
        ch.writeInbound(req);
        FullHttpResponse res = ch.readOutbound();
        assertThat(res.status().code()).isEqualTo(200);
        assertThat(res.headers().get("grpc-status")).isEqualTo("14");
        assertThat(res.headers().get("grpc-message")).isEqualTo("no_healthy_upstream: denied /deny");
        assertThat(res.content().readableBytes()).isZero();
        res.release();
    }

    @Test
    void aFilterThatThrowsFailsClosed() {
        HttpFilter broken = new HttpFilter() {
            @Override
            public String name() {
                return "broken";
            }

            @Override
            public FilterResult onRequest(RequestContext request) {
                throw new IllegalStateException("bug");
            }
        };
        SnapshotSource source = SnapshotSource.of(current.get());
        Target target = (Target) TargetResolver.resolve(VIP + ":80", current.get().part(TargetTable.PART));
        ch = new EmbeddedChannel(new ExchangeHandler(new TunnelContext(target, null, null, null, null, null, null), source,
                new RequestChain(List.of(broken), upstream), false));
        ch.writeInbound(get("/a"));
        assertThat(written()).containsExactly("500 internal_error: stage broken failed");
        assertThat(calls).isEmpty();
    }

    @Test
    void theHeadersAFilterChangesAreForwarded() {
        HttpFilter adder = new HttpFilter() {
            @Override
            public String name() {
                return "adder";
            }

            @Override
            public FilterResult onRequest(RequestContext request) {
                request.requestHeaders().set("x-added", "yes");
                return FilterResult.CONTINUE;
            }
        };
        SnapshotSource source = SnapshotSource.of(current.get());
        Target target = (Target) TargetResolver.resolve(VIP + ":80", current.get().part(TargetTable.PART));
        ch = new EmbeddedChannel(new ExchangeHandler(new TunnelContext(target, null, null, null, null, null, null), source,
                new RequestChain(List.of(adder), upstream), false));
        ch.writeInbound(get("/a"));
        assertThat(calls.get(0).head.headers().get("x-added")).isEqualTo("yes");
        assertThat(((HttpObject) calls.get(0).head).decoderResult().isSuccess()).isTrue();
    }

    @Test
    void unboundWhileARequestIsInFlightEndsTheTunnelAfterItsResponse() {
        channel(false);
        ch.writeInbound(get("/a"));
        ch.pipeline().fireUserEventTriggered(TunnelLifecycle.Unbound.INSTANCE);
        assertThat(ch.isOpen()).as("the response in flight is not cut").isTrue();
        calls.get(0).respond(200, "a");
        assertThat(written()).containsExactly("200 [close] a");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void unboundOnAnIdleTunnelEndsItAtOnce() {
        channel(false);
        ch.writeInbound(get("/a"));
        calls.get(0).respond(200, "a");
        written();
        ch.pipeline().fireUserEventTriggered(TunnelLifecycle.Unbound.INSTANCE);
        assertThat(ch.isOpen()).isFalse();
    }

    /**
     * The client ends its side in the middle of a request body: Netty's decoder drops the unfinished
     * request without a word, so the exchange waited for the rest until the idle timeout (a
     * hostile-client audit filled a connection's 100 streams so). It is an incomplete message: 400,
     * the upstream call cancelled, the tunnel ended; once the response started, a reset.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "response started: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void anInputThatEndsInTheMiddleOfABodyEndsTheRequest(boolean responseStarted) {
        channel(false);
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/a");
        head.headers().set(HttpHeaderNames.HOST, "web").set(HttpHeaderNames.CONTENT_LENGTH, 5);
        ch.writeInbound(head, new io.netty.handler.codec.http.DefaultHttpContent(Unpooled.copiedBuffer("ab", StandardCharsets.UTF_8)));
        FakeCall call = calls.get(0);
        if (responseStarted) {
            call.sink.responseHead(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
            written();
        }
        ch.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);
        ch.runPendingTasks();
        assertThat(call.cancelled).as("the upstream call is abandoned").isTrue();
        if (!responseStarted) {
            assertThat(written()).singleElement().asString().startsWith("400 [close]")
                    .contains("the client ended its side before the end of the request body");
        }
        assertThat(ch.isOpen()).as("the tunnel ends").isFalse();
        assertThat(completed).singleElement().extracting(r -> r.outcome().end())
                .isEqualTo(responseStarted ? RequestOutcome.End.DOWNSTREAM_RESET : RequestOutcome.End.LOCAL_REPLY);
    }

    /** A client that ends its side after a whole request still gets the answer (a half-close, not an abort). */
    @Test
    void anInputThatEndsAfterAWholeRequestStillGetsItsAnswer() {
        channel(false);
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/a");
        head.headers().set(HttpHeaderNames.HOST, "web").set(HttpHeaderNames.CONTENT_LENGTH, 2);
        ch.writeInbound(head, new DefaultLastHttpContent(Unpooled.copiedBuffer("ab", StandardCharsets.UTF_8)));
        ch.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);
        FakeCall call = calls.get(0);
        assertThat(call.cancelled).isFalse();
        call.respond(200, "ok");
        assertThat(written()).containsExactly("200 ok");
    }

    @Test
    void aFailureWhileTheBodyIsHeldBackReadsOnToDropTheRest() {
        channel(false);
        int[] reads = {0};
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void read(io.netty.channel.ChannelHandlerContext ctx) {
                reads[0]++;
                ctx.read();
            }
        });
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/a");
        head.headers().set(HttpHeaderNames.HOST, "web").set(HttpHeaderNames.CONTENT_LENGTH, 4);
        ch.writeInbound(head);
        FakeCall call = calls.get(0);
        call.writable = false; // the upstream connection is not there yet: the body waits in the socket
        reads[0] = 0;
        call.sink.failed(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, "refused"));
        assertThat(written()).containsExactly("503 upstream_connect_failure: refused");
        assertThat(reads[0]).as("reading resumes to drop the rest of the body").isPositive();
        ch.writeInbound(new DefaultLastHttpContent(Unpooled.copiedBuffer("abcd", StandardCharsets.UTF_8)));
        assertThat(completed).singleElement().extracting(r -> r.outcome().end()).isEqualTo(RequestOutcome.End.LOCAL_REPLY);
    }

    /** RFC 9112 §3.2 and RFC 9110 §15.6.6 on the request head: what the decoder lets through. */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} {1} Host {2} -> {3}")
    @org.junit.jupiter.params.provider.CsvSource(nullValues = "-", delimiter = '|', value = {
            "HTTP/1.1 | /a                | web      | -",
            "HTTP/1.0 | /a                | -        | -",
            "HTTP/1.1 | http://web:80/a   | -        | -",
            "HTTP/1.1 | /a                | -        | 400 host: missing (expected: a Host header field in an HTTP/1.1 request, RFC 9112 §3.2)",
            "HTTP/1.1 | /a                | web,evil | 400 host: 2 Host header fields (expected: exactly one, RFC 9112 §3.2)",
            "HTTP/1.0 | /a                | web,evil | 400 host: 2 Host header fields (expected: exactly one, RFC 9112 §3.2)",
            "HTTP/9.9 | /a                | web      | 505 version: HTTP/9.9 (expected: HTTP/1.1 or HTTP/1.0)",
            "HTTP/1.2 | /a                | web      | 505 version: HTTP/1.2 (expected: HTTP/1.1 or HTTP/1.0)",
            "HTTP/1.1 | /a%01b?q=%7f~!$&'()*+;=:@ | web | -",
            "HTTP/1.1 | /a\u0001b         | web      | 400 request-target: byte 0x01 at 2 (expected: URI characters, non-ASCII ones percent-encoded)",
            "HTTP/1.1 | /a\u007fb         | web      | 400 request-target: byte 0x7f at 2 (expected: URI characters, non-ASCII ones percent-encoded)",
            "HTTP/1.1 | /a\u00ffb         | web      | 400 request-target: byte 0xff at 2 (expected: URI characters, non-ASCII ones percent-encoded)",
            "HTTP/1.1 | /a?b=\u0009c       | web      | 400 request-target: byte 0x09 at 5 (expected: URI characters, non-ASCII ones percent-encoded)"})
    void http1HeadRules(String version, String uri, String hosts, String expected) {
        HttpRequest head = new DefaultHttpRequest(HttpVersion.valueOf(version), HttpMethod.GET, uri);
        if (hosts != null) {
            for (String h : hosts.split(",")) {
                head.headers().add(HttpHeaderNames.HOST, h);
            }
        }
        dev.waypoint.model.request.Rejection r = ExchangeHandler.http1Head(head);
        assertThat(r == null ? null : r.status() + " " + r.message()).isEqualTo(expected);
    }
}
