package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RetryPolicy;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.ExchangeSink;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
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
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The upstream attempt controller over embedded exchange channels: what it writes upstream, what
 * it hands the sink, when it retries (and replays the body), when it gives up, and that every
 * channel goes back to the pool exactly once, reusable only after a complete exchange.
 */
class UpstreamRequestTest {
    static final ServiceSpec SVC = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.1")), List.of(new ServicePortSpec("http", 80, 8080, null, null)),
            Map.of("app", "web"), SourceRef.NONE);

    /**
     * The loop the request runs on (timers included). Its clock is frozen, so only
     * {@code advanceTimeBy} moves it: a slow machine must not fire a backoff or a timeout early.
     */
    final EmbeddedChannel loopChannel = new EmbeddedChannel();

    {
        loopChannel.freezeTime();
    }
    final EventLoop loop = loopChannel.eventLoop();
    final Upstreams upstreams = new Upstreams(UpstreamSettings.defaults(15008),
            new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null), EndpointPickers.roundRobin());
    final FakeChannels channels = new FakeChannels();
    final RecordingSink sink = new RecordingSink();

    static ConfigSnapshot snapshot() {
        List<PodSpec> pods = List.of(pod("web-1", "10.0.0.1"), pod("web-2", "10.0.0.2"));
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").namespaces(List.of(new NamespaceSpec("apps", Map.of(), SourceRef.NONE))).services(List.of(SVC)).pods(pods).build();
        return ConfigSnapshot.compile(0, rs, List.of(new EndpointCompiler()), new Diagnostics());
    }

    static PodSpec pod(String name, String ip) {
        return new PodSpec(new NamespacedName("apps", name), Map.of("app", "web"), "web", HostPort.parseIp(ip), true,
                Map.of(), SourceRef.NONE);
    }

    /** Hands out embedded exchange channels (or scripted failures) and records releases. */
    static final class FakeChannels implements ExchangeChannels {
        final ArrayDeque<Object> script = new ArrayDeque<>(); // Rejection = fail that acquire; else a channel
        final List<EmbeddedChannel> handedOut = new ArrayList<>();
        final List<String> acquiredFor = new ArrayList<>();
        final List<String> released = new ArrayList<>();

        @Override
        public Future<Channel> acquire(Endpoint endpoint, boolean h2, TunnelContext tunnel, EventLoop loop,
                                       HttpUpstreamPool.Owner owner) {
            acquiredFor.add(endpoint.address().authority());
            if (script.peek() instanceof Rejection r) {
                script.poll();
                return loop.newFailedFuture(new RejectedException(r));
            }
            HttpUpstreamPool.UpstreamTail ex = new HttpUpstreamPool.UpstreamTail();
            ex.owner = owner;
            EmbeddedChannel ch = new EmbeddedChannel(ex);
            handedOut.add(ch);
            return loop.newSucceededFuture(ch);
        }

        @Override
        public void release(Channel ch, Endpoint endpoint, boolean h2, Release how) {
            ch.pipeline().get(HttpUpstreamPool.UpstreamTail.class).owner = null;
            released.add(endpoint.address().authority() + switch (how) {
                case REUSE -> " reusable";
                case END -> " ended";
                case ABANDON -> " closed";
            });
        }

        /** What the attempt on channel {@code i} wrote upstream, as "HEAD path" / body strings. */
        List<String> written(int i) {
            List<String> out = new ArrayList<>();
            Object m;
            handedOut.get(i).flushOutbound(); // what the exchange handler's read-complete would flush
            while ((m = handedOut.get(i).readOutbound()) != null) {
                if (m instanceof HttpRequest r) {
                    out.add(r.method() + " " + r.uri());
                }
                if (m instanceof HttpContent c && c.content().isReadable()) {
                    out.add(c.content().toString(StandardCharsets.UTF_8));
                }
                if (m instanceof LastHttpContent) {
                    out.add("END");
                }
                ReferenceCountUtil.release(m);
            }
            return out;
        }
    }

    static class RecordingSink implements ExchangeSink {
        final List<String> events = new ArrayList<>();
        Rejection failure;

        @Override
        public boolean isWritable() {
            return true;
        }

        @Override
        public void responseHead(HttpResponse head) {
            events.add("head " + head.status().code());
            ReferenceCountUtil.release(head);
        }

        @Override
        public void responseContent(HttpContent content) {
            events.add((content instanceof LastHttpContent ? "last " : "body ") + content.content().toString(StandardCharsets.UTF_8));
            content.release();
        }

        @Override
        public void responseFlush() {}

        @Override
        public void requestWritable() {}

        @Override
        public void failed(Rejection rejection) {
            failure = rejection;
            events.add("failed " + rejection.reason().code());
        }
    }

    record Attrs(HeadersView headers) implements RequestAttributes {
        public String method() { return "POST"; }
        public String path() { return "/p"; }
        public String host() { return "web"; }
        public String scheme() { return "http"; }
        public String protocol() { return "HTTP/1.1"; }
        public boolean grpc() { return false; }
        public SpiffeId sourcePrincipal() { return null; }
        public InetSocketAddress sourceAddress() { return null; }
        public InetSocketAddress destinationAddress() { return null; }
    }

    RequestContext context(RetryPolicy retry, Duration timeout) {
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), SVC, SVC.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, null, null, null, null, null, null);
        RequestContext rc = new RequestContext(tunnel, snapshot(), target, new Attrs(null), new HeadersStub(),
                new RequestOutcome(System.nanoTime()));
        rc.set(RouteSelection.KEY, new RouteSelection("r1", new RouteSelection.ServiceBackend(SVC, SVC.ports().get(0)),
                timeout, retry));
        return rc;
    }

    static final class HeadersStub implements HeadersView {
        public String get(CharSequence n) { return null; }
        public List<String> getAll(CharSequence n) { return List.of(); }
        public boolean contains(CharSequence n) { return false; }
        public void set(CharSequence n, String v) {}
        public void add(CharSequence n, String v) {}
        public void remove(CharSequence n) {}
    }

    UpstreamRequest start(RequestContext rc, HttpRequest head) {
        UpstreamRequest call = new UpstreamRequest(upstreams, channels, rc, head, false, loop, sink);
        call.start();
        return call;
    }

    static HttpRequest post() {
        HttpRequest h = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/p");
        h.headers().set(HttpHeaderNames.CONTENT_LENGTH, 4).set(HttpHeaderNames.CONNECTION, "keep-alive, x-hop").set("x-hop", "1");
        return h;
    }

    static HttpContent chunk(String s, boolean last) {
        return last ? new DefaultLastHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8))
                : new DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    void respond(int i, int status, String body) {
        EmbeddedChannel up = channels.handedOut.get(i);
        DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
        res.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length());
        up.writeInbound(res, chunk(body, true));
    }

    @AfterEach
    void cleanUp() {
        new ArrayList<>(channels.handedOut).forEach(EmbeddedChannel::finishAndReleaseAll);
        loopChannel.finishAndReleaseAll();
    }

    /**
     * A Connection nomination removes hop-by-hop fields, never the framing or the target: a body
     * forwarded without its Content-Length is read by the pooled upstream connection as the start of
     * the next request (a review smuggled a DENY-ed request into other clients' exchanges so).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', textBlock = """
            x-hop                          | x-hop             |
            content-length                 |                   | content-length
            Content-Length, x-hop          | x-hop             | content-length
            transfer-encoding              |                   | transfer-encoding
            host                           |                   | host
            keep-alive, close              |                   | content-length
            """)
    void aConnectionNominationNeverRemovesTheFramingOrTheHost(String connection, String removed, String kept) {
        for (boolean response : new boolean[] {false, true}) {
            io.netty.handler.codec.http.HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders()
                    .set(HttpHeaderNames.CONNECTION, connection).set("x-hop", "1").set(HttpHeaderNames.CONTENT_LENGTH, 4)
                    .set(HttpHeaderNames.TRANSFER_ENCODING, "chunked").set(HttpHeaderNames.HOST, "reviews");
            if (response) {
                UpstreamRequest.sanitizeResponse(h);
            } else {
                UpstreamRequest.sanitizeRequest(h, false);
            }
            assertThat(h.contains(HttpHeaderNames.CONNECTION)).isFalse();
            if (removed != null) {
                assertThat(h.contains(removed)).as(removed).isFalse();
            }
            if (kept != null) {
                assertThat(h.contains(kept)).as(kept).isTrue();
            }
        }
    }

    @Test
    void aCompleteExchangeGoesBackToThePoolReusable() {
        RequestContext rc = context(RetryPolicy.NONE, null);
        UpstreamRequest call = start(rc, post());
        call.requestContent(chunk("ab", false));
        call.requestContent(chunk("cd", true));
        call.flushRequest();
        assertThat(channels.written(0)).containsExactly("POST /p", "ab", "cd", "END");
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
        assertThat(channels.released).containsExactly("10.0.0.1:8080 reusable");
        assertThat(rc.outcome().attempts()).isEqualTo(1);
        EndpointStates.State state = upstreams.states().of(endpoint("10.0.0.1"));
        assertThat(state.active()).as("in flight after the exchange").isZero();
        assertThat(state.attempts()).isEqualTo(1);
        assertThat(state.consecutiveFailures()).isZero();
    }

    static Endpoint endpoint(String ip) {
        return new Endpoint(HostPort.parseAuthority(ip + ":8080"), null, null);
    }

    @Test
    void hopByHopHeadersDoNotGoUpstream() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("abcd", true));
        call.flushRequest();
        HttpRequest sent = channels.handedOut.get(0).readOutbound();
        assertThat(sent.headers().contains("x-hop")).isFalse();
        assertThat(sent.headers().contains(HttpHeaderNames.CONNECTION)).isFalse();
        ReferenceCountUtil.release(sent);
    }

    @Test
    void anUpstreamThatClosesBeforeRespondingFailsTheRequest() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("abcd", true));
        channels.handedOut.get(0).close();
        assertThat(sink.events).containsExactly("failed upstream_reset_before_response_started");
        assertThat(channels.released).isEmpty(); // closed by the upstream: nothing to give back
    }

    @Test
    void aTruncatedResponseIsAFailureAfterTheHeadNeverACompleteOne() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("abcd", true));
        EmbeddedChannel up = channels.handedOut.get(0);
        DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers().set(HttpHeaderNames.CONTENT_LENGTH, 10);
        LastHttpContent cut = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
        cut.setDecoderResult(DecoderResult.failure(new PrematureChannelClosureException("closed mid-body")));
        up.writeInbound(res, chunk("12345", false), cut);
        assertThat(sink.events).containsExactly("head 200", "body 12345", "failed upstream_reset_before_response_started");
        assertThat(channels.released).containsExactly("10.0.0.1:8080 closed");
    }

    @Test
    void aConnectFailureIsRetriedOnAnotherEndpointWithTheBodyReplayed() {
        channels.script.add(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, "refused"));
        RetryPolicy retry = new RetryPolicy(2, null, true, true, false);
        UpstreamRequest call = start(context(retry, null), post());
        // the first attempt failed at once; the second holds a channel to the other endpoint
        assertThat(channels.acquiredFor).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
        call.requestContent(chunk("ab", false));
        call.requestContent(chunk("cd", true));
        assertThat(channels.written(0)).containsExactly("POST /p", "ab", "cd", "END");
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void aResetBeforeTheResponseIsRetriedAndTheWholeBodyReplayed() {
        RetryPolicy retry = new RetryPolicy(1, null, true, true, false);
        RequestContext rc = context(retry, null);
        UpstreamRequest call = start(rc, post());
        call.requestContent(chunk("ab", false));
        call.requestContent(chunk("cd", true));
        channels.written(0);
        channels.handedOut.get(0).close(); // reset before any response byte
        assertThat(channels.handedOut).hasSize(2);
        assertThat(channels.written(1)).containsExactly("POST /p", "ab", "cd", "END");
        respond(1, 200, "second");
        assertThat(sink.events).containsExactly("head 200", "last second");
        assertThat(rc.outcome().attempts()).isEqualTo(2);
        assertThat(upstreams.states().of(endpoint("10.0.0.1")).consecutiveFailures()).isEqualTo(1);
    }

    @Test
    void noRetryOnceTheBodyOutgrewTheReplayBuffer() {
        RetryPolicy retry = new RetryPolicy(2, null, true, true, false);
        UpstreamRequest call = start(context(retry, null), post());
        call.requestContent(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[UpstreamRequest.REPLAY_LIMIT + 1])));
        call.requestContent(chunk("", true));
        channels.handedOut.get(0).close();
        assertThat(channels.handedOut).hasSize(1);
        assertThat(sink.events).containsExactly("failed upstream_reset_before_response_started");
    }

    @Test
    void retriesAreSpentAndThenTheFailureIsReported() {
        channels.script.add(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, "one"));
        channels.script.add(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, "two"));
        channels.script.add(new Rejection(Rejection.Reason.CONNECT_TIMEOUT, "three"));
        start(context(new RetryPolicy(2, null, true, false, false), null), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                HttpMethod.GET, "/g"));
        assertThat(channels.acquiredFor).hasSize(3);
        assertThat(sink.failure.reason()).isEqualTo(Rejection.Reason.CONNECT_TIMEOUT);
    }

    @Test
    void a503IsRetriedWhenThePolicySaysSo() {
        RetryPolicy retry = new RetryPolicy(1, null, false, false, true);
        start(context(retry, null), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        respond(0, 503, "busy");
        assertThat(sink.events).isEmpty();
        assertThat(channels.released).containsExactly("10.0.0.1:8080 closed");
        respond(1, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void onlyTheListedStatusesAreRetried() {
        RetryPolicy retry = new RetryPolicy(2, null, false, false, java.util.Set.of(500, 502));
        start(context(retry, null), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        respond(0, 500, "oops");
        assertThat(sink.events).isEmpty();
        respond(1, 503, "busy"); // not listed: the client gets it
        assertThat(sink.events).containsExactly("head 503", "last busy");
    }

    @Test
    void aSpentMaxRetriesBudgetAnswersTheFailureInsteadOfRetrying() {
        // connectionPool.http.maxRetries: 1 — one retry in flight to the Service port at a time
        List<PodSpec> pods = List.of(pod("web-1", "10.0.0.1"), pod("web-2", "10.0.0.2"));
        dev.waypoint.model.traffic.DestinationRuleSpec dr = new dev.waypoint.model.traffic.DestinationRuleSpec(
                new NamespacedName("apps", "web"), "web", List.of(), new dev.waypoint.model.traffic.TrafficPolicySpec(null, null,
                List.of(), new dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec(0, 0, 0, 0, 1, null, null, null)),
                List.of(), SourceRef.NONE);
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .namespaces(List.of(new NamespaceSpec("apps", Map.of(), SourceRef.NONE))).services(List.of(SVC)).pods(pods)
                .destinationRules(List.of(dr)).build();
        ConfigSnapshot snap = ConfigSnapshot.compile(0, rs, List.of(new EndpointCompiler()), new Diagnostics());
        RetryPolicy retry = new RetryPolicy(2, null, false, false, true);
        RecordingSink a = new RecordingSink();
        RecordingSink b = new RecordingSink();
        RecordingSink c = new RecordingSink();
        new UpstreamRequest(upstreams, channels, withSnapshot(context(retry, null), snap),
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/a"), false, loop, a).start();
        new UpstreamRequest(upstreams, channels, withSnapshot(context(retry, null), snap),
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/b"), false, loop, b).start();
        respond(0, 503, "busy"); // a retries (channel 2) and holds the one retry slot
        assertThat(channels.handedOut).hasSize(3);
        respond(1, 503, "busy"); // b's retry finds the budget spent: the client gets the 503
        assertThat(b.events).containsExactly("head 503", "last busy");
        assertThat(channels.handedOut).hasSize(3);
        assertThat(upstreams.retryOverflows()).isEqualTo(1);
        respond(2, 200, "ok"); // a's retry ends: its slot is free again
        assertThat(a.events).containsExactly("head 200", "last ok");
        new UpstreamRequest(upstreams, channels, withSnapshot(context(retry, null), snap),
                new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/c"), false, loop, c).start();
        respond(3, 503, "busy");
        assertThat(channels.handedOut).hasSize(5); // c retried
        respond(4, 200, "ok");
        assertThat(c.events).containsExactly("head 200", "last ok");
        assertThat(upstreams.retryOverflows()).isEqualTo(1);
    }

    static RequestContext withSnapshot(RequestContext rc, ConfigSnapshot snap) {
        RequestContext other = new RequestContext(rc.tunnel(), snap, rc.target(), rc.attributes(), rc.requestHeaders(),
                new RequestOutcome(System.nanoTime()));
        other.set(RouteSelection.KEY, rc.get(RouteSelection.KEY));
        return other;
    }

    // --- Istio's default retry policy: connect-failure, refused-stream, unavailable, cancelled, 503

    @Test
    void istiosDefaultRetriesAConnectFailureOnTheOtherEndpoint() {
        channels.script.add(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, "dead"));
        start(context(RetryPolicy.ISTIO_DEFAULT, null), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        assertThat(channels.acquiredFor).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void istiosDefaultDoesNotRetryAResetAfterTheRequestWasSentAndAnswers503() {
        UpstreamRequest call = start(context(RetryPolicy.ISTIO_DEFAULT, null), post());
        call.requestContent(chunk("abcd", true));
        channels.handedOut.get(0).close(); // "reset" is not in Istio's retry_on: the request may have been processed
        assertThat(channels.handedOut).hasSize(1);
        assertThat(sink.failure.reason()).isEqualTo(Rejection.Reason.UPSTREAM_RESET);
        assertThat(sink.failure.reason().status()).isEqualTo(503); // Envoy: 503 UC, not 502
    }

    @Test
    void istiosDefaultRetriesARefusedStream() {
        UpstreamRequest call = start(context(RetryPolicy.ISTIO_DEFAULT, null), post());
        call.requestContent(chunk("abcd", true));
        channels.written(0);
        channels.handedOut.get(0).pipeline().fireUserEventTriggered(
                new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(io.netty.handler.codec.http2.Http2Error.REFUSED_STREAM));
        assertThat(channels.handedOut).hasSize(2);
        assertThat(channels.written(1)).containsExactly("POST /p", "abcd", "END");
        respond(1, 200, "second");
        assertThat(sink.events).containsExactly("head 200", "last second");
    }

    @Test
    void istiosDefaultRetriesA503AndTrailersOnlyGrpcUnavailableOrCancelled() {
        start(context(RetryPolicy.ISTIO_DEFAULT, null), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        respond(0, 503, "busy");
        grpcTrailersOnly(1, "14"); // unavailable
        grpcTrailersOnly(2, "1"); // cancelled: the third try was the last (2 retries)
        assertThat(channels.handedOut).hasSize(3);
        assertThat(sink.events).containsExactly("head 200"); // the whole (trailers-only) response in one head
    }

    @Test
    void aGrpcStatusThePolicyDoesNotListIsTheAnswer() {
        start(context(RetryPolicy.ISTIO_DEFAULT, null), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        grpcTrailersOnly(0, "13"); // internal: not retried
        assertThat(channels.handedOut).hasSize(1);
        assertThat(sink.events).containsExactly("head 200");
    }

    private void grpcTrailersOnly(int i, String grpcStatus) {
        io.netty.handler.codec.http.DefaultFullHttpResponse res = new io.netty.handler.codec.http.DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc").set("grpc-status", grpcStatus)
                .set(HttpHeaderNames.CONTENT_LENGTH, 0);
        channels.handedOut.get(i).writeInbound(res);
    }

    @Test
    void noAttemptCountHeaderByDefaultAsIstioWaypointsSendNone() {
        RetryPolicy retry = new RetryPolicy(1, null, true, true, false);
        HttpRequest head = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g");
        start(context(retry, null), head);
        assertThat(heads(0).get(0).headers().contains(UpstreamRequest.ATTEMPT_COUNT)).isFalse();
    }

    @Test
    void withTheAttemptCountEnabledEachTryCarriesItsNumber() {
        Upstreams counting = new Upstreams(UpstreamSettings.defaults(15008),
                new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null), EndpointPickers.roundRobin(), new EndpointStates(),
                java.util.List.of(), true);
        RetryPolicy retry = new RetryPolicy(1, null, true, true, false);
        HttpRequest head = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g");
        head.headers().set(UpstreamRequest.ATTEMPT_COUNT, "7"); // a client's value is replaced
        new UpstreamRequest(counting, channels, context(retry, null), head, false, loop, sink).start();
        assertThat(heads(0)).extracting(h -> h.headers().get(UpstreamRequest.ATTEMPT_COUNT)).containsExactly("1");
        channels.handedOut.get(0).close();
        assertThat(heads(1)).extracting(h -> h.headers().get(UpstreamRequest.ATTEMPT_COUNT)).containsExactly("2");
        respond(1, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    /** The request heads written on channel {@code i} (their bodies released). */
    private List<HttpRequest> heads(int i) {
        List<HttpRequest> out = new ArrayList<>();
        Object m;
        channels.handedOut.get(i).flushOutbound();
        while ((m = channels.handedOut.get(i).readOutbound()) != null) {
            if (m instanceof HttpRequest r) {
                out.add(r);
            }
            ReferenceCountUtil.release(m);
        }
        return out;
    }

    // --- RequestMirror: fire-and-forget copies

    static final ServiceSpec EMPTY = new ServiceSpec(new NamespacedName("apps", "nobody"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.9")), List.of(new ServicePortSpec("http", 80, 8080, null, null)),
            Map.of("app", "nobody"), SourceRef.NONE);

    RequestContext mirrored(ServiceSpec... mirrors) {
        RequestContext rc = context(RetryPolicy.NONE, null);
        List<RouteSelection.Backend> to = new ArrayList<>();
        for (ServiceSpec m : mirrors) {
            to.add(new RouteSelection.ServiceBackend(m, m.ports().get(0)));
        }
        RouteSelection main = rc.get(RouteSelection.KEY);
        RequestContext out = new RequestContext(rc.tunnel(), snapshotWith(EMPTY), rc.target(), rc.attributes(), rc.requestHeaders(),
                rc.outcome());
        out.set(RouteSelection.KEY, new RouteSelection(main.routeName(), main.backend(), null, RetryPolicy.NONE, to));
        return out;
    }

    static ConfigSnapshot snapshotWith(ServiceSpec extra) {
        List<PodSpec> pods = List.of(pod("web-1", "10.0.0.1"), pod("web-2", "10.0.0.2"));
        ResourceSet rs = ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local")
                .namespaces(List.of(new NamespaceSpec("apps", Map.of(), SourceRef.NONE))).services(List.of(SVC, extra)).pods(pods).build();
        return ConfigSnapshot.compile(0, rs, List.of(new EndpointCompiler()), new Diagnostics());
    }

    @Test
    void aMirrorGetsACopyWithAShadowHostAndItsAnswerIsDropped() {
        HttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g");
        get.headers().set(HttpHeaderNames.HOST, "web.apps:80");
        start(mirrored(SVC), get);
        assertThat(channels.handedOut).hasSize(2); // the attempt, then the mirror
        List<HttpRequest> copy = heads(1);
        assertThat(copy).singleElement().satisfies(h -> {
            assertThat(h.uri()).isEqualTo("/g");
            assertThat(h.headers().get(HttpHeaderNames.HOST)).isEqualTo("web.apps-shadow:80"); // Envoy's shadow host
        });
        respond(1, 500, "mirror broke"); // never reaches the client
        assertThat(sink.events).isEmpty();
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
        assertThat(channels.released).contains("10.0.0.2:8080 reusable"); // the mirror's complete exchange
    }

    @Test
    void aMirrorSendsTheWholeBodyOnceItIsIn() {
        UpstreamRequest call = start(mirrored(SVC, SVC), post());
        assertThat(channels.handedOut).hasSize(1); // mirrors wait for the body
        call.requestContent(chunk("ab", false));
        call.requestContent(chunk("cd", true));
        assertThat(channels.handedOut).hasSize(3); // several mirrors, one copy each
        assertThat(channels.written(1)).containsExactly("POST /p", "ab", "cd", "END");
        assertThat(channels.written(2)).containsExactly("POST /p", "ab", "cd", "END");
        assertThat(channels.written(0)).containsExactly("POST /p", "ab", "cd", "END");
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void aBodyPastTheReplayLimitIsNotMirrored() {
        UpstreamRequest call = start(mirrored(SVC), post());
        call.requestContent(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[UpstreamRequest.REPLAY_LIMIT + 1])));
        call.requestContent(chunk("", true));
        assertThat(channels.handedOut).hasSize(1);
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void aMirrorThatCannotBeServedNeverAffectsTheResponse() {
        start(mirrored(EMPTY), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g")); // no endpoints
        assertThat(channels.handedOut).hasSize(1);
        respond(0, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void aMirrorWaitingForBodyIsDroppedWhenTheClientGoesAway() {
        UpstreamRequest call = start(mirrored(SVC), post());
        call.requestContent(chunk("ab", false));
        call.cancel(); // the kept duplicate is released (the leak check would see it otherwise)
        assertThat(channels.handedOut).hasSize(1);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"web.apps, web.apps-shadow", "web.apps:80, web.apps-shadow:80",
            "10.0.0.1:8080, 10.0.0.1-shadow:8080", "[::1]:80, [::1]-shadow:80", "::1, ::1-shadow"})
    void shadowHosts(String host, String shadow) {
        assertThat(UpstreamMirror.shadowHost(host)).isEqualTo(shadow);
    }

    @Test
    void aPathRewriteReplacesTheRequestTargetSent() {
        RequestContext rc = context(RetryPolicy.NONE, null);
        rc.set(dev.waypoint.model.request.PathRewrite.KEY, new dev.waypoint.model.request.PathRewrite("/new?q=1"));
        start(rc, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/old?q=1"));
        assertThat(channels.written(0)).first().isEqualTo("GET /new?q=1");
    }

    @Test
    void theRequestTimeoutGives504BeforeAResponse() {
        start(context(RetryPolicy.NONE, Duration.ofSeconds(2)), new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
                HttpMethod.GET, "/g"));
        loopChannel.advanceTimeBy(1, TimeUnit.SECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(sink.events).isEmpty();
        loopChannel.advanceTimeBy(2, TimeUnit.SECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(sink.events).containsExactly("failed upstream_request_timeout");
        assertThat(channels.released).containsExactly("10.0.0.1:8080 closed");
        respond(0, 200, "too late");
        assertThat(sink.events).hasSize(1);
    }

    @Test
    void cancelGivesTheChannelBackUnreusableAndIgnoresWhatComesLater() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.cancel();
        call.cancel();
        assertThat(channels.released).containsExactly("10.0.0.1:8080 closed");
        call.requestContent(chunk("late", true)); // released, not written
        respond(0, 200, "ignored");
        assertThat(sink.events).isEmpty();
    }

    @Test
    void aServiceWithoutEndpointsFailsAtOnce() {
        ServiceSpec empty = new ServiceSpec(new NamespacedName("apps", "empty"), Map.of(), List.of(HostPort.parseIp("10.96.0.2")),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "none"), SourceRef.NONE);
        RequestContext rc = context(RetryPolicy.NONE, null);
        RequestContext other = new RequestContext(rc.tunnel(), rc.snapshot(), rc.target(), rc.attributes(), rc.requestHeaders(),
                rc.outcome());
        other.set(RouteSelection.KEY, new RouteSelection("r", new RouteSelection.ServiceBackend(empty, empty.ports().get(0))));
        start(other, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        assertThat(sink.events).containsExactly("failed no_healthy_upstream");
        assertThat(channels.acquiredFor).isEmpty();
    }

    @Test
    void theResponseComingBeforeTheBodyEndsKeepsSendingAndReleasesAtTheEnd() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("ab", false));
        respond(0, 413, "too big");
        assertThat(sink.events).containsExactly("head 413", "last too big");
        assertThat(channels.released).isEmpty();
        call.requestContent(chunk("cd", true));
        assertThat(channels.released).containsExactly("10.0.0.1:8080 reusable");
        List<String> w = channels.written(0);
        assertThat(w).endsWith("cd", "END");
    }

    @Test
    void withoutARouteTheRequestFailsClosed() {
        RequestContext rc = context(RetryPolicy.NONE, null);
        RequestContext noRoute = new RequestContext(rc.tunnel(), rc.snapshot(), rc.target(), rc.attributes(),
                rc.requestHeaders(), rc.outcome());
        start(noRoute, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/g"));
        assertThat(sink.events).containsExactly("failed internal_error");
        assertThat(channels.acquiredFor).isEmpty();
    }

    @Test
    void anUpstreamThatEndsItsSideBeforeRespondingIsClosedAndTheRequestFails() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("abcd", true));
        EmbeddedChannel up = channels.handedOut.get(0);
        up.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);
        assertThat(sink.events).containsExactly("failed upstream_reset_before_response_started");
        assertThat(up.isOpen()).as("a half-closed upstream is closed, not left holding its stream").isFalse();
        assertThat(call.isRequestWritable()).isTrue();
    }

    @Test
    void theConnectionIsBackInThePoolBeforeTheSinkSeesTheLastPiece() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("abcd", true));
        List<String> releasedWhenDelivered = new ArrayList<>();
        RecordingSink watching = new RecordingSink() {
            @Override
            public void responseContent(HttpContent content) {
                releasedWhenDelivered.addAll(channels.released);
                super.responseContent(content);
            }
        };
        channels.handedOut.clear();
        UpstreamRequest second = new UpstreamRequest(upstreams, channels, context(RetryPolicy.NONE, null), post(), false, loop,
                watching);
        second.start();
        second.requestContent(chunk("abcd", true));
        channels.released.clear();
        respond(0, 200, "ok");
        assertThat(releasedWhenDelivered).containsExactly("10.0.0.2:8080 reusable");
        call.cancel();
    }

    @Test
    void aResetOfTheUpstreamStreamFailsTheRequestAtOnce() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), post());
        call.requestContent(chunk("abcd", true));
        EmbeddedChannel up = channels.handedOut.get(0);
        up.pipeline().fireUserEventTriggered(new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(
                io.netty.handler.codec.http2.Http2Error.CANCEL));
        assertThat(sink.events).containsExactly("failed upstream_reset_before_response_started");
        assertThat(up.isOpen()).isFalse();
    }

    // --- retry.backoff: Envoy's jittered exponential backoff on the request's loop (its clock is the embedded one) ---

    @Test
    void aRetryWaitsForTheBackoffDrawnFromTheDoublingInterval() {
        RetryPolicy retry = new RetryPolicy(2, null, true, true, true, java.util.Set.of(503), java.util.Set.of())
                .withBackoff(Duration.ofMillis(100));
        // draws: 250 % 100 = 50 ms before the first retry; 130 % 200 = 130 ms before the second
        long[] draws = {250, 130};
        int[] next = {0};
        UpstreamRequest call = new UpstreamRequest(upstreams, channels, context(retry, null), post(), false, loop, sink)
                .jitter(() -> draws[next[0]++]);
        call.start();
        call.requestContent(chunk("abcd", true));
        respond(0, 503, "busy");
        assertThat(channels.acquiredFor).hasSize(1);
        loopChannel.advanceTimeBy(49, java.util.concurrent.TimeUnit.MILLISECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(channels.acquiredFor).as("49 ms into a 50 ms backoff").hasSize(1);
        loopChannel.advanceTimeBy(1, java.util.concurrent.TimeUnit.MILLISECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(channels.acquiredFor).containsExactly("10.0.0.1:8080", "10.0.0.2:8080");
        assertThat(channels.written(1)).containsExactly("POST /p", "abcd", "END"); // replayed
        respond(1, 503, "busy");
        loopChannel.advanceTimeBy(129, java.util.concurrent.TimeUnit.MILLISECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(channels.acquiredFor).as("129 ms into a 130 ms backoff").hasSize(2);
        loopChannel.advanceTimeBy(1, java.util.concurrent.TimeUnit.MILLISECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(channels.acquiredFor).hasSize(3);
        respond(2, 200, "ok");
        assertThat(sink.events).containsExactly("head 200", "last ok");
    }

    @Test
    void aCancelDuringTheBackoffStartsNoOtherAttempt() {
        RetryPolicy retry = new RetryPolicy(2, null, true, true, true, java.util.Set.of(503), java.util.Set.of())
                .withBackoff(Duration.ofMillis(100));
        UpstreamRequest call = new UpstreamRequest(upstreams, channels, context(retry, null), post(), false, loop, sink)
                .jitter(() -> 99);
        call.start();
        call.requestContent(chunk("abcd", true));
        respond(0, 503, "busy");
        call.cancel();
        loopChannel.advanceTimeBy(1, java.util.concurrent.TimeUnit.SECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(channels.acquiredFor).hasSize(1);
        assertThat(sink.events).isEmpty();
    }

    @Test
    void theRequestTimeoutRunsThroughTheBackoff() {
        RetryPolicy retry = new RetryPolicy(2, null, true, true, true, java.util.Set.of(503), java.util.Set.of())
                .withBackoff(Duration.ofSeconds(1));
        UpstreamRequest call = new UpstreamRequest(upstreams, channels, context(retry, Duration.ofMillis(500)), post(), false,
                loop, sink).jitter(() -> 900);
        call.start();
        call.requestContent(chunk("abcd", true));
        respond(0, 503, "busy");
        loopChannel.advanceTimeBy(500, java.util.concurrent.TimeUnit.MILLISECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(sink.events).containsExactly("failed upstream_request_timeout");
        loopChannel.advanceTimeBy(1, java.util.concurrent.TimeUnit.SECONDS);
        loopChannel.runScheduledPendingTasks();
        assertThat(channels.acquiredFor).hasSize(1);
    }

    // --- WebSocket upgrades ---

    static HttpRequest upgrade() {
        HttpRequest h = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ws");
        h.headers().set(HttpHeaderNames.CONNECTION, "keep-alive, Upgrade").set(HttpHeaderNames.UPGRADE, "websocket")
                .set("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        return h;
    }

    @Test
    void anUpgradeKeepsItsHeadersAndA101TurnsTheConnectionIntoBytesNeverPooled() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), upgrade());
        call.flushRequest();
        EmbeddedChannel up = channels.handedOut.get(0);
        HttpRequest sent = up.readOutbound();
        assertThat(sent.headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("upgrade");
        assertThat(sent.headers().get(HttpHeaderNames.UPGRADE)).isEqualTo("websocket");
        assertThat(sent.headers().get("sec-websocket-key")).isEqualTo("dGhlIHNhbXBsZSBub25jZQ==");
        ReferenceCountUtil.release(sent);
        DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        res.headers().set(HttpHeaderNames.CONNECTION, "Upgrade").set(HttpHeaderNames.UPGRADE, "websocket");
        java.util.List<HttpResponse> heads = new ArrayList<>();
        RecordingSink keeping = new RecordingSink() {
            @Override
            public void responseHead(HttpResponse head) {
                heads.add(head);
                events.add("head " + head.status().code());
            }
        };
        call.cancel();
        assertThat(channels.released).containsExactly("10.0.0.1:8080 closed");
        UpstreamRequest ws = new UpstreamRequest(upstreams, channels, context(RetryPolicy.NONE, null), upgrade(), false, loop,
                keeping);
        ws.start();
        ws.flushRequest();
        EmbeddedChannel wsUp = channels.handedOut.get(1);
        HttpRequest wsSent = wsUp.readOutbound();
        assertThat(wsSent).isNotNull();
        ReferenceCountUtil.release(wsSent);
        // the 101, its empty end, and the first bytes past it in the same read
        wsUp.writeInbound(res, LastHttpContent.EMPTY_LAST_CONTENT, Unpooled.copiedBuffer("early", StandardCharsets.UTF_8));
        assertThat(keeping.events).containsExactly("head 101", "last ");
        assertThat(heads.get(0).headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("upgrade");
        assertThat(heads.get(0).headers().get(HttpHeaderNames.UPGRADE)).isEqualTo("websocket");
        Channel taken = ws.takeUpgraded();
        assertThat(taken).isSameAs(wsUp);
        assertThat(ws.takeUpgraded()).as("handed over once").isNull();
        assertThat(channels.released).as("never back to the pool").hasSize(1);
        assertThat(wsUp.pipeline().get(HttpUpstreamPool.UpstreamTail.class)).isNull();
        // the early bytes wait in the holder until the relay starts
        java.util.List<String> replayed = new ArrayList<>();
        wsUp.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                replayed.add(((io.netty.buffer.ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ReferenceCountUtil.release(msg);
            }
        });
        dev.waypoint.transport.HeldBytes.replay(wsUp);
        assertThat(replayed).containsExactly("early");
        heads.forEach(ReferenceCountUtil::release);
    }

    @Test
    void anUpgradeAnsweredOtherwiseIsAnOrdinaryResponseOnAConnectionNotReused() {
        UpstreamRequest call = start(context(RetryPolicy.NONE, null), upgrade());
        call.flushRequest();
        ReferenceCountUtil.release(channels.handedOut.get(0).readOutbound());
        respond(0, 200, "no");
        assertThat(sink.events).containsExactly("head 200", "last no");
        assertThat(call.takeUpgraded()).isNull();
        // complete, but not reused: ended as a TCP close does, not reset
        assertThat(channels.released).containsExactly("10.0.0.1:8080 ended");
    }
}
