package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.transport.TunnelFrameAdapter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link ProtocolSniffer}: {@link ProtocolSniffer#classify} as a truth table, then the handler on
 * an {@link EmbeddedChannel} tunnel: what reaches the inner pipeline or the TCP upstream.
 */
class ProtocolSnifferTest {

    @ParameterizedTest(name = "[{0}] {1} -> {2}")
    @CsvSource(delimiter = '|', nullValues = "WAIT", value = {
            // declared | first bytes (\r\n escaped)                     | decision
            "AUTO  | PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n               | HTTP2",
            "AUTO  | PRI * HTTP/2.0\\r\\n                                   | WAIT",
            "AUTO  | PRI                                                   | WAIT",
            "AUTO  | GET / HTTP/1.1\\r\\n                                   | HTTP1",
            "AUTO  | POST /api/v1/items?x=1 HTTP/1.1\\r\\nHost: a\\r\\n     | HTTP1",
            "AUTO  | OPTIONS * HTTP/1.0\\r\\n                               | HTTP1",
            "AUTO  | GET / HTTP/1.1                                        | WAIT",
            "AUTO  | GET                                                   | WAIT",
            "AUTO  | GET / SPDY/3\\r\\n                                     | TCP",
            "AUTO  | \\u0016\\u0003\\u0001\\u0002\\u0000                    | TCP",
            "AUTO  | SSH-2.0-OpenSSH_9.6\\r\\n                              | TCP",
            "AUTO  | get / HTTP/1.1\\r\\n                                   | TCP",
            "AUTO  | AAAAAAAAAAAAAAAAAAAAAAAAA                             | TCP",
            "HTTP  | \\u0016\\u0003\\u0001\\u0002\\u0000                    | HTTP1",
            "HTTP  | GET / SPDY/3\\r\\n                                     | HTTP1",
            "HTTP2 | PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n               | HTTP2",
            "GRPC  | GET / HTTP/1.1\\r\\n                                   | HTTP1",
    })
    void classify(AppProtocol declared, String bytes, InnerProtocol expected) {
        ByteBuf in = Unpooled.copiedBuffer(unescape(bytes.strip()), StandardCharsets.ISO_8859_1);
        try {
            assertThat(ProtocolSniffer.classify(in, declared)).isEqualTo(expected);
            assertThat(in.readerIndex()).as("classify only peeks").isZero();
        } finally {
            in.release();
        }
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'r' -> b.append('\r');
                    case 'n' -> b.append('\n');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                        i += 4;
                    }
                    default -> b.append(n);
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    // --- the handler ---

    private static final Duration SNIFF_TIMEOUT = Duration.ofSeconds(3);

    /** The client's tunnel: tunnel adapter, lifecycle, sniffer. */
    private EmbeddedChannel tunnel;
    /** TCP upstream connects asked for, completed by the test. */
    private final List<Promise<Channel>> connects = new ArrayList<>();
    private Upstream upstream;

    private void sniff(AppProtocol declared) throws Exception {
        tunnel = new EmbeddedChannel();
        // the sniff timeout runs on the test's clock only: real time passing (a loaded machine)
        // must not fire it early
        tunnel.freezeTime();
        TunnelContext context = new TunnelContext(
                new Target.WorkloadTarget(HostPort.parseAuthority("10.1.0.7:7001"),
                        new PodSpec(new NamespacedName("apps", "pod"), Map.of(), "default",
                                InetAddress.getByName("10.1.0.7"), true, Map.of(), null),
                        declared),
                null, null, null, null, null, null);
        ConfigSnapshot empty = ConfigSnapshot.compile(0, ResourceSet.empty(new NamespacedName("istio-system", "waypoint"),
                "cluster.local"), List.of(), new Diagnostics());
        ConnectHandler.Deps deps = new ConnectHandler.Deps(dev.waypoint.model.SnapshotSource.of(empty),
                (snapshot, t, loop) -> {
                    Promise<Channel> p = loop.newPromise();
                    connects.add(p);
                    return p;
                },
                new RequestChain(List.of(), (r, h, h2, l, sink) -> {
                    throw new AssertionError("no request reaches the upstream in these tests");
                }),
                ListenerSettings.defaults(new InetSocketAddress("127.0.0.1", 0))
                        .withTimeouts(Duration.ofHours(1), SNIFF_TIMEOUT),
                new DefaultChannelGroup(GlobalEventExecutor.INSTANCE));
        tunnel.pipeline().addLast("tunnel", new TunnelFrameAdapter());
        tunnel.pipeline().addLast("lifecycle", new TunnelLifecycle(context));
        tunnel.pipeline().addLast("sniff", new ProtocolSniffer(context, deps));
    }

    @AfterEach
    void closeChannels() {
        if (tunnel != null) {
            tunnel.finishAndReleaseAll();
        }
        if (upstream != null) {
            upstream.finishAndReleaseAll();
        }
    }

    private void clientSends(String s, boolean endStream) {
        tunnel.writeInbound(new DefaultHttp2DataFrame(Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1), endStream));
    }

    /** Completes the one pending TCP connect with an upstream HBONE stream on the tunnel's loop. */
    private void upstreamConnects() {
        assertThat(connects).as("one TCP upstream asked for").hasSize(1);
        upstream = new Upstream(tunnel);
        connects.get(0).setSuccess(upstream);
        tunnel.runPendingTasks();
    }

    /** What the upstream stream was sent: {@code data:…[+END_STREAM]}. */
    private List<String> sentUpstream() {
        List<String> out = new ArrayList<>();
        for (Object m; (m = upstream.readOutbound()) != null; ) {
            Http2DataFrame d = (Http2DataFrame) m;
            out.add("data:" + d.content().toString(StandardCharsets.ISO_8859_1) + (d.isEndStream() ? "+END_STREAM" : ""));
            d.release();
        }
        return out;
    }

    @Test
    void bytesAndEndStreamInTheFrameThatDecidesTcpReachTheUpstreamInOrder() throws Exception {
        sniff(AppProtocol.AUTO);
        // one DATA frame with END_STREAM: what a client's data and half-close often become
        clientSends("\u0001request", true);
        upstreamConnects();
        assertThat(sentUpstream()).containsExactly("data:\u0001request", "data:+END_STREAM");
        assertThat(tunnel.pipeline().get("sniff")).isNull();
        assertThat(tunnel.pipeline().get("relay")).isNotNull();
    }

    @Test
    void bytesArrivingWhileTheUpstreamConnectsAreHeldForTheRelay() throws Exception {
        sniff(AppProtocol.AUTO);
        clientSends("\u0001one,", false);
        clientSends("two", false);
        clientSends("", true);
        upstreamConnects();
        assertThat(sentUpstream()).containsExactly("data:\u0001one,two", "data:+END_STREAM");
    }

    @Test
    void aClientThatSendsNothingGetsTcpAfterTheSniffTimeout() throws Exception {
        sniff(AppProtocol.AUTO);
        tunnel.advanceTimeBy(SNIFF_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        tunnel.runScheduledPendingTasks();
        upstreamConnects();
        assertThat(sentUpstream()).isEmpty();
        ByteBuf banner = Unpooled.copiedBuffer("220 smtp ready", StandardCharsets.US_ASCII);
        upstream.writeInbound(new DefaultHttp2DataFrame(banner, false));
        Http2DataFrame greeting = tunnel.readOutbound();
        assertThat(greeting.content().toString(StandardCharsets.US_ASCII)).isEqualTo("220 smtp ready");
        greeting.release();
    }

    @Test
    void undecidedBytesGoToTcpAtTheSniffTimeout() throws Exception {
        sniff(AppProtocol.AUTO);
        clientSends("HELLO", false); // uppercase, no space yet: could still become a request line
        tunnel.advanceTimeBy(SNIFF_TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
        tunnel.runScheduledPendingTasks();
        assertThat(connects).as("still waiting before the timeout").isEmpty();
        tunnel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        tunnel.runScheduledPendingTasks();
        upstreamConnects();
        assertThat(sentUpstream()).containsExactly("data:HELLO");
        assertThat(tunnel.pipeline().get(dev.waypoint.transport.HandlerNames.EXCHANGE)).isNull();
    }

    @Test
    void portsDeclaredHttpDoNotFallBackToTcp() throws Exception {
        sniff(AppProtocol.HTTP);
        clientSends("HELLO", false);
        tunnel.advanceTimeBy(SNIFF_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
        tunnel.runScheduledPendingTasks();
        assertThat(connects).isEmpty();
        assertThat(tunnel.pipeline().get("sniff")).isNotNull();
    }

    @Test
    void anHttpRequestLineInstallsHttp1() throws Exception {
        sniff(AppProtocol.AUTO);
        clientSends("GET / HTTP/1.1\r\nHost: a\r\n", false); // the request line decides; the head is not complete yet
        assertThat(tunnel.pipeline().get(dev.waypoint.transport.HandlerNames.H1)).isNotNull();
        assertThat(tunnel.pipeline().get(dev.waypoint.transport.HandlerNames.EXCHANGE)).isInstanceOf(ExchangeHandler.class);
        assertThat(connects).isEmpty();
    }

    @Test
    void closingWhileTheUpstreamConnectsReleasesWhatWasHeld() throws Exception {
        sniff(AppProtocol.AUTO);
        ByteBuf held = Unpooled.copiedBuffer("\u0001held", StandardCharsets.ISO_8859_1);
        tunnel.writeInbound(new DefaultHttp2DataFrame(held, false));
        tunnel.close();
        assertThat(held.refCnt()).isZero();
        upstream = new Upstream(tunnel);
        connects.get(0).setSuccess(upstream);
        tunnel.runPendingTasks();
        assertThat(upstream.isActive()).as("an upstream that arrives too late is closed").isFalse();
    }

    /** An outbound HBONE stream on the tunnel's event loop, as {@code Relay} requires. */
    private static final class Upstream extends EmbeddedChannel implements Http2StreamChannel {
        Upstream(EmbeddedChannel sameLoopAs) {
            super(EmbeddedChannel.builder().register(false));
            sameLoopAs.eventLoop().register(this).syncUninterruptibly();
            pipeline().addLast("tunnel", new TunnelFrameAdapter());
        }

        @Override
        public Http2FrameStream stream() {
            return null;
        }
    }
}
