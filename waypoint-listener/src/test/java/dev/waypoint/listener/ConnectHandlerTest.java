package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.HandlerNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CONNECT handler on an {@link EmbeddedChannel} standing for one HBONE stream: every refusal
 * is decided and answered before a tunnel exists (status, reason header, body, stream closed);
 * an accepted CONNECT gets 200 and the tunnel pipeline, with early DATA replayed into it; a
 * TCP port connects upstream before answering.
 */
class ConnectHandlerTest {
    static final String VIP = ExchangeHandlerTest.VIP;

    final AtomicReference<ConfigSnapshot> current = new AtomicReference<>(ExchangeHandlerTest.snapshot(0, true));
    final ChannelGroup tunnels = new DefaultChannelGroup(ImmediateEventExecutor.INSTANCE);
    final List<TunnelContext> tcpConnects = new ArrayList<>();
    final List<String> requests = new ArrayList<>();

    /** An upstream call that takes nothing further. */
    static final class NoCall implements dev.waypoint.transport.UpstreamCall {
        @Override
        public void requestContent(io.netty.handler.codec.http.HttpContent content) {
            content.release();
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
        public void cancel() {}
    }
    EmbeddedChannel ch;

    EmbeddedChannel stream(UpstreamTcp tcp) {
        return stream(tcp, TunnelAuthorizer.ALLOW_ALL);
    }

    EmbeddedChannel stream(UpstreamTcp tcp, TunnelAuthorizer authorizer) {
        return stream(tcp, authorizer, dev.waypoint.model.request.TunnelObserver.NONE);
    }

    EmbeddedChannel stream(UpstreamTcp tcp, TunnelAuthorizer authorizer, dev.waypoint.model.request.TunnelObserver observer) {
        SnapshotSource source = SnapshotSource.from(current::get);
        ConnectHandler.Deps deps = new ConnectHandler.Deps(source, tcp, new RequestChain(List.of(), (r, h, h2, l, sink) -> {
            requests.add(r.attributes().path());
            ReferenceCountUtil.release(h);
            return new NoCall();
        }),
                ListenerSettings.defaults(new java.net.InetSocketAddress("127.0.0.1", 0)), tunnels, authorizer, observer);
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(HandlerNames.CONNECT, new ConnectHandler(deps));
        return ch;
    }

    @AfterEach
    void close() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    static Http2Headers connect(String authority) {
        Http2Headers h = new DefaultHttp2Headers().method("CONNECT");
        if (authority != null) {
            h.authority(authority);
        }
        return h;
    }

    record Refusal(String name, Http2Headers headers, boolean endStream, boolean configLoaded, int status, String reason,
                   String bodyContains) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Refusal> refusals() {
        return Stream.of(
                new Refusal("GET instead of CONNECT", new DefaultHttp2Headers().method("GET").authority(VIP + ":80").path("/")
                        .scheme("http"), false, true, 400, "not_connect", "method: GET (expected: CONNECT)"),
                new Refusal("extended CONNECT (:protocol)", connect(VIP + ":80").set(":protocol", "websocket"), false, true,
                        400, "not_connect", "classic CONNECT"),
                new Refusal("CONNECT with :path", connect(VIP + ":80").path("/x"), false, true, 400, "not_connect",
                        "classic CONNECT"),
                new Refusal("END_STREAM on the CONNECT", connect(VIP + ":80"), true, true, 400, "not_connect",
                        "END_STREAM opens nothing"),
                new Refusal("no :authority", connect(null), false, true, 400, "bad_authority", "no :authority"),
                new Refusal("a host name", connect("web.apps:80"), false, true, 400, "bad_authority", "web.apps:80"),
                new Refusal("no port", connect(VIP), false, true, 400, "bad_authority", VIP),
                new Refusal("no config yet", connect(VIP + ":80"), false, false, 503, "waypoint_not_ready", "no configuration"),
                new Refusal("a VIP port the Service lacks", connect(VIP + ":81"), false, true, 400, "target_not_bound",
                        "port 81 is not one of its ports"),
                new Refusal("an address nobody has", connect("10.1.2.3:80"), false, true, 400, "target_not_bound",
                        "is not a Service VIP or Pod IP bound to this waypoint"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void refusalsAreAnsweredBeforeAnyTunnelExists(Refusal c) {
        if (!c.configLoaded()) {
            current.set(null);
        }
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("no upstream for a refused CONNECT");
        });
        s.writeInbound(new DefaultHttp2HeadersFrame(c.headers(), c.endStream()));
        Http2HeadersFrame head = s.readOutbound();
        assertThat(head.headers().status()).hasToString(Integer.toString(c.status()));
        assertThat(head.headers().get(LocalReplies.REASON_HEADER)).hasToString(c.reason());
        Http2DataFrame body = s.readOutbound();
        assertThat(body.isEndStream()).isTrue();
        assertThat(body.content().toString(StandardCharsets.UTF_8)).startsWith(c.reason() + ": ").contains(c.bodyContains());
        body.release();
        assertThat(s.isOpen()).isFalse();
        assertThat(tunnels.size()).isZero();
        assertThat(s.pipeline().get(HandlerNames.TUNNEL)).isNull();
    }

    @Test
    void anAcceptedConnectGets200AndTheTunnelPipelineWithEarlyDataReplayed() {
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("an HTTP port does not connect first");
        });
        ByteBuf early = Unpooled.copiedBuffer("GET / HT", StandardCharsets.US_ASCII);
        // HEADERS and the first DATA in one read burst
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80").set("forwarded", "for=\"10.0.0.9:4000\""), false),
                new DefaultHttp2DataFrame(early, false));
        Http2HeadersFrame ok = s.readOutbound();
        assertThat(ok.headers().status()).hasToString("200");
        assertThat(ok.isEndStream()).isFalse();
        assertThat(s.pipeline().names()).containsSubsequence(HandlerNames.TUNNEL, HandlerNames.IDLE, HandlerNames.LIFECYCLE,
                HandlerNames.SNIFF);
        assertThat(s.pipeline().get(HandlerNames.CONNECT)).isNull();
        assertThat(tunnels.contains(s)).isTrue();
        // the early bytes reached the sniffer (undecided yet: an incomplete request line is held)
        assertThat(early.refCnt()).isPositive();
        s.writeInbound(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("TP/1.1\r\nHost: web\r\n\r\n",
                StandardCharsets.US_ASCII), false));
        assertThat(s.pipeline().get(HandlerNames.H1)).isNotNull();
        assertThat(s.pipeline().get(HandlerNames.EXCHANGE)).isNotNull();
        assertThat(requests).as("the request made of early and later bytes").containsExactly("/");
    }

    @Test
    void aTcpPortConnectsUpstreamBeforeAnswering() {
        EmbeddedChannel upstream = new EmbeddedChannel();
        List<io.netty.util.concurrent.Promise<Channel>> pending = new ArrayList<>();
        EmbeddedChannel s = stream((snap, t, loop) -> {
            tcpConnects.add(t);
            io.netty.util.concurrent.Promise<Channel> p = loop.newPromise();
            pending.add(p);
            return p;
        });
        current.set(tcpSnapshot());
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80"), false));
        assertThat((Object) s.readOutbound()).as("no answer before the upstream is there").isNull();
        assertThat(tcpConnects).singleElement().satisfies(t -> assertThat(t.target().authority().port()).isEqualTo(80));
        pending.get(0).setSuccess(upstream);
        Http2HeadersFrame ok = s.readOutbound();
        assertThat(ok.headers().status()).hasToString("200");
        // (the relay itself needs both ends on one event loop, which two embedded channels are not:
        // RelayTest and the end-to-end TCP tests cover it)
        upstream.finishAndReleaseAll();
    }

    @Test
    void aTcpPortWhoseUpstreamFailsIsRefusedWithItsStatus() {
        EmbeddedChannel s = stream((snap, t, loop) -> loop.newFailedFuture(new RejectedException(
                new Rejection(Rejection.Reason.CONNECT_TIMEOUT, "10.0.0.1:8080: timed out"))));
        current.set(tcpSnapshot());
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80"), false));
        Http2HeadersFrame head = s.readOutbound();
        assertThat(head.headers().status()).hasToString("503"); // a connect timeout: 503 UF, as Envoy and ztunnel answer
        Http2DataFrame body = s.readOutbound();
        assertThat(body.content().toString(StandardCharsets.UTF_8)).isEqualTo("upstream_connect_timeout: 10.0.0.1:8080: timed out\n");
        body.release();
        assertThat(s.isOpen()).isFalse();
    }

    @Test
    void aTcpPortThatPolicyDeniesIsRefusedWith401BeforeConnecting() {
        List<TunnelContext> asked = new ArrayList<>();
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("a denied tunnel connects nothing");
        }, (snap, t) -> {
            asked.add(t);
            return new Rejection(Rejection.Reason.CONNECT_RBAC_DENIED, "rbac_access_denied_matched_policy[apps/db, rule 0]");
        });
        current.set(tcpSnapshot());
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80").set("forwarded", "for=\"10.0.0.9:4000\""), false));
        Http2HeadersFrame head = s.readOutbound();
        assertThat(head.headers().status()).hasToString("401");
        assertThat(head.headers().get(LocalReplies.REASON_HEADER)).hasToString("rbac_access_denied_matched_policy");
        Http2DataFrame body = s.readOutbound();
        assertThat(body.content().toString(StandardCharsets.UTF_8)).isEqualTo("RBAC: access denied");
        body.release();
        assertThat(asked).singleElement().satisfies(t -> assertThat(t.source().getAddress().getHostAddress()).isEqualTo("10.0.0.9"));
        assertThat(s.isOpen()).isFalse();
    }

    @Test
    void anHttpPortIsNotCheckedAtTheConnect() {
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("an HTTP port does not connect first");
        }, (snap, t) -> {
            throw new AssertionError("HTTP requests are decided one by one, by the authz filter");
        });
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80"), false));
        Http2HeadersFrame ok = s.readOutbound();
        assertThat(ok.headers().status()).hasToString("200");
    }

    /** What a TCP tunnel observer was told, in order: {@code opened FLAGS DETAILS} and {@code closed FLAGS DETAILS}. */
    static class RecordingObserver implements dev.waypoint.model.request.TunnelObserver {
        final List<String> events = new ArrayList<>();

        @Override
        public void tcpOpened(TunnelContext tunnel, dev.waypoint.model.request.TcpOutcome o) {
            events.add("opened " + o.flags() + " " + o.details() + (o.closed() ? " closed" : ""));
        }

        @Override
        public void tcpClosed(TunnelContext tunnel, dev.waypoint.model.request.TcpOutcome o) {
            events.add("closed " + o.flags() + " " + o.details() + (o.closed() ? " closed" : ""));
        }
    }

    @Test
    void aRefusedTcpTunnelIsReportedOpenedAndClosedOnceWithItsFlag() {
        RecordingObserver observer = new RecordingObserver();
        EmbeddedChannel s = stream((snap, t, loop) -> loop.newFailedFuture(new RejectedException(
                new Rejection(Rejection.Reason.NO_HEALTHY_UPSTREAM, "no endpoint"))), TunnelAuthorizer.ALLOW_ALL, observer);
        current.set(tcpSnapshot());
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80"), false));
        Http2HeadersFrame head = s.readOutbound();
        assertThat(head.headers().status()).hasToString("503");
        ReferenceCountUtil.release(s.readOutbound());
        s.close();
        assertThat(observer.events).containsExactly("opened UH no_healthy_upstream", "closed UH no_healthy_upstream closed");
    }

    @Test
    void aTcpTunnelPolicyDeniesIsReportedWithTheRbacFlag() {
        RecordingObserver observer = new RecordingObserver();
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("a denied tunnel connects nothing");
        }, (snap, t) -> new Rejection(Rejection.Reason.CONNECT_RBAC_DENIED, "denied"), observer);
        current.set(tcpSnapshot());
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80"), false));
        Http2HeadersFrame head = s.readOutbound();
        assertThat(head.headers().status()).hasToString("401");
        ReferenceCountUtil.release(s.readOutbound());
        assertThat(observer.events).containsExactly("opened RBAC rbac_access_denied_matched_policy",
                "closed RBAC rbac_access_denied_matched_policy closed");
    }

    @Test
    void theConnectAnswerCarriesTheObserversBaggage() {
        RecordingObserver observer = new RecordingObserver() {
            @Override
            public String connectBaggage() {
                return "k8s.namespace.name=istio-system,k8s.deployment.name=waypoint";
            }
        };
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("an HTTP port does not connect first");
        }, TunnelAuthorizer.ALLOW_ALL, observer);
        s.writeInbound(new DefaultHttp2HeadersFrame(connect(VIP + ":80"), false));
        Http2HeadersFrame ok = s.readOutbound();
        assertThat(ok.headers().status()).hasToString("200");
        assertThat(ok.headers().get("baggage")).hasToString("k8s.namespace.name=istio-system,k8s.deployment.name=waypoint");
    }

    @Test
    void refusalsBeforeATunnelExistsAreNotTcpTunnels() {
        RecordingObserver observer = new RecordingObserver();
        EmbeddedChannel s = stream((snap, t, loop) -> {
            throw new AssertionError("nothing to connect");
        }, TunnelAuthorizer.ALLOW_ALL, observer);
        current.set(tcpSnapshot());
        s.writeInbound(new DefaultHttp2HeadersFrame(connect("10.9.9.9:80"), false));
        Http2HeadersFrame head = s.readOutbound();
        assertThat(head.headers().status()).hasToString("400");
        ReferenceCountUtil.release(s.readOutbound());
        assertThat(observer.events).isEmpty();
    }

    /** The test Service with its port declared TCP. */
    static ConfigSnapshot tcpSnapshot() {
        ConfigSnapshot s = ExchangeHandlerTest.snapshot(1, true);
        var rs = s.resources();
        var svc = rs.services().get(0);
        var tcpSvc = new dev.waypoint.model.mesh.ServiceSpec(svc.name(), svc.labels(), svc.clusterIps(),
                List.of(new dev.waypoint.model.mesh.ServicePortSpec("tcp", 80, 8080, null, null)), svc.selector(), svc.source());
        var rs2 = rs.toBuilder().services(List.of(tcpSvc)).build();
        return ConfigSnapshot.compile(1, rs2, List.of(new dev.waypoint.listener.target.TargetTableCompiler()),
                new dev.waypoint.model.Diagnostics());
    }
}
