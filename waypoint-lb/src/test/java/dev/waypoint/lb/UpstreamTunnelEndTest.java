package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.lb.hbone.HbonePool;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * How {@link HttpUpstreamPool} ends the HBONE tunnels it is done with, as the destination ztunnel
 * sees them: a connection whose exchange completed ends as a TCP close does (END_STREAM, no
 * RST_STREAM, so ztunnel half-closes toward the pod), one abandoned mid-exchange is reset.
 * Against a real destination-ztunnel stand-in and backend on loopback 127.24.2.x.
 */
class UpstreamTunnelEndTest {
    static final SpiffeId POD = new SpiffeId("cluster.local", "apps", "web");
    static final String AUTHORITY = "127.24.2.1:8080";
    /** The inbound tunnel the requests came on (its client's identity keys the pool). */
    static final dev.waypoint.model.request.TunnelContext TUNNEL = new dev.waypoint.model.request.TunnelContext(
            new dev.waypoint.model.request.Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), LbFixtures.SVC,
                    LbFixtures.SVC.ports().get(0)),
            new SpiffeId("cluster.local", "apps", "client"), null, null, null, null, null);
    static TestCa ca;
    static EventLoopGroup group;
    static EchoServer backend;
    static DestinationZtunnel ztunnel;
    static TlsMaterial waypoint;

    @BeforeAll
    static void start() throws Exception {
        ca = TestCa.create("cluster.local");
        group = EventLoops.newGroup(1, "tunnel-end-test");
        backend = EchoServer.start(group, new InetSocketAddress("127.24.2.1", 8080), "web-v1");
        ztunnel = DestinationZtunnel.start(group, Map.of(InetAddress.getByName("127.24.2.1"), ca.issue(POD).material()), 0,
                hp -> new InetSocketAddress(hp.address(), hp.port()));
        waypoint = ca.issue(new SpiffeId("cluster.local", "istio-system", "waypoint")).material();
    }

    @AfterAll
    static void stop() {
        ztunnel.close();
        backend.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private static HttpUpstreamPool pool() {
        UpstreamSettings settings = UpstreamSettings.defaults(ztunnel.port());
        return new HttpUpstreamPool(new Upstreams(settings, new HbonePool(settings, waypoint::clientContext)),
                ConnectionOptions.defaults(settings));
    }

    private static Endpoint endpoint() {
        return new Endpoint(HostPort.parseAuthority(AUTHORITY), POD, null);
    }

    private static ConnectionOptions options(ConnectionPoolSpec spec) {
        ConnectionOptions defaults = ConnectionOptions.defaults(UpstreamSettings.defaults(ztunnel.port()));
        return spec == null ? defaults : ConnectionOptions.of(defaults, spec);
    }

    static List<Arguments> completedExchanges() {
        return List.of(
                Arguments.of("HTTP/1.1 not pooled after its exchange (Connection: close)", false, Release.END, null),
                Arguments.of("HTTP/1.1 pooled, then idle past http.idleTimeout", false, Release.REUSE,
                        ConnectionOptionsTest.pool(0, 0, Duration.ofMillis(300), null, null)),
                Arguments.of("HTTP/1.1 at maxRequestsPerConnection 1", false, Release.REUSE,
                        ConnectionOptionsTest.pool(1, 0, null, null, null)),
                Arguments.of("HTTP/1.1 pooled, then past maxConnectionDuration", false, Release.REUSE,
                        ConnectionOptionsTest.pool2(null, null, Duration.ofMillis(300), 0, null)),
                Arguments.of("h2c retired at maxRequestsPerConnection 1 (GOAWAY, then the tunnel)", true, Release.REUSE,
                        ConnectionOptionsTest.pool(1, 0, null, null, null)),
                Arguments.of("h2c idle past http.idleTimeout", true, Release.REUSE,
                        ConnectionOptionsTest.pool(0, 0, Duration.ofMillis(300), null, null)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("completedExchanges")
    void aTunnelEndedAfterACompleteExchangeEndsWithEndStreamNotAReset(String name, boolean h2, Release how,
                                                                      ConnectionPoolSpec spec) throws Exception {
        int before = ztunnel.ended().size();
        HttpUpstreamPool pool = pool();
        Channel tunnel = exchange(pool, h2, how, options(spec));
        assertThat(tunnel.closeFuture().await(5, TimeUnit.SECONDS)).as("the tunnel ends").isTrue();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> ztunnel.ended().size() > before);
        DestinationZtunnel.Ended end = ztunnel.ended().get(before);
        assertThat(end.authority()).isEqualTo(AUTHORITY);
        assertThat(end.endStream()).as("END_STREAM from the waypoint").isTrue();
        assertThat(end.resetCode()).as("no RST_STREAM from the waypoint").isEqualTo(-1);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> pool.pooled() == 0);
    }

    @Test
    void aTunnelAbandonedMidExchangeIsReset() throws Exception {
        int before = ztunnel.ended().size();
        HttpUpstreamPool pool = pool();
        EventLoop loop = group.next();
        CompletableFuture<Channel> held = new CompletableFuture<>();
        loop.execute(() -> pool.acquire(endpoint(), false, TUNNEL, loop, PoolExchange.discarding(), options(null)).addListener(f -> {
            if (!f.isSuccess()) {
                held.completeExceptionally(f.cause());
                return;
            }
            Channel ch = (Channel) f.getNow();
            // a request whose body never ends: the attempt gives up in the middle of it
            DefaultHttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
            req.headers().set(HttpHeaderNames.HOST, "web").set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            ch.writeAndFlush(req).addListener(w -> {
                pool.release(ch, endpoint(), false, Release.ABANDON);
                held.complete(ch);
            });
        }));
        Channel tunnel = held.get(10, TimeUnit.SECONDS);
        assertThat(tunnel.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> ztunnel.ended().size() > before);
        DestinationZtunnel.Ended end = ztunnel.ended().get(before);
        assertThat(end.endStream()).isFalse();
        assertThat(end.resetCode()).isEqualTo(Http2Error.CANCEL.code());
    }

    /**
     * The pod behind an h2c connection dies with a request in flight: its ztunnel ends the tunnel,
     * and the stream fails at once. Its own pod and ztunnel on 127.24.2.2.
     */
    @Test
    void anH2cStreamWhosePodDiedFailsAtOnce() throws Exception {
        EchoServer dying = EchoServer.start(group, new InetSocketAddress("127.24.2.2", 8080), "web-v2");
        try {
            inFlightWhenThePodEnds("127.24.2.2", () -> {
                Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> dying.requests().size() == 1);
                dying.kill();
            });
        } finally {
            dying.close();
        }
    }

    /**
     * The pod behind an h2c connection ends its side (FIN) and goes on reading, with a request in
     * flight: ztunnel ends the tunnel with END_STREAM, nothing more can come through it, and the
     * stream fails at once instead of after the h2c connection's 30 s graceful close (its GOAWAY
     * goes out with no grace). 127.24.2.3: a pod that reads what comes and half-closes after the
     * first bytes.
     */
    @Test
    void anH2cStreamWhoseTunnelWasEndedFailsAtOnce() throws Exception {
        Channel pod = new io.netty.bootstrap.ServerBootstrap().group(group).channel(EventLoops.serverChannel())
                .childOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new io.netty.channel.ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                        ((io.netty.channel.socket.SocketChannel) ctx.channel()).shutdownOutput();
                    }

                    @Override
                    public boolean isSharable() {
                        return true;
                    }
                })
                .bind(new InetSocketAddress("127.24.2.3", 8080)).sync().channel();
        try {
            inFlightWhenThePodEnds("127.24.2.3", () -> {});
        } finally {
            pod.close().sync();
        }
    }

    /** An h2c request to {@code ip}:8080 over its own ztunnel, in flight while {@code end} runs: it must fail within seconds. */
    private static void inFlightWhenThePodEnds(String ip, ThrowingRunnable end) throws Exception {
        DestinationZtunnel itsZtunnel = DestinationZtunnel.start(group,
                Map.of(InetAddress.getByName(ip), ca.issue(POD).material()), 0,
                hp -> new InetSocketAddress(hp.address(), hp.port()));
        try {
            UpstreamSettings settings = UpstreamSettings.defaults(itsZtunnel.port());
            HttpUpstreamPool pool = new HttpUpstreamPool(new Upstreams(settings, new HbonePool(settings, waypoint::clientContext)),
                    ConnectionOptions.defaults(settings));
            Endpoint pod = new Endpoint(HostPort.parseAuthority(ip + ":8080"), POD, null);
            EventLoop loop = group.next();
            CompletableFuture<Channel> sent = new CompletableFuture<>();
            CompletableFuture<String> ended = new CompletableFuture<>();
            HttpUpstreamPool.Owner owner = PoolExchange.owner(msg -> {
                boolean last = msg instanceof LastHttpContent;
                ReferenceCountUtil.release(msg);
                if (last) {
                    ended.complete("answered");
                }
            }, () -> ended.complete("closed"));
            loop.execute(() -> pool.acquire(pod, true, TUNNEL, loop, owner, ConnectionOptions.defaults(settings)).addListener(f -> {
                if (!f.isSuccess()) {
                    sent.completeExceptionally(f.cause());
                    return;
                }
                Channel ch = (Channel) f.getNow();
                DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/delay/20000");
                req.headers().set(HttpHeaderNames.HOST, "web");
                ch.writeAndFlush(req).addListener(w -> sent.complete(ch));
                ch.read();
            }));
            Channel stream = sent.get(10, TimeUnit.SECONDS);
            end.run();
            assertThat(ended.get(10, TimeUnit.SECONDS)).isEqualTo("closed");
            assertThat(stream.parent().closeFuture().await(5, TimeUnit.SECONDS)).as("the h2c connection closes").isTrue();
        } finally {
            itsZtunnel.close();
        }
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** A GET through the pool, read to its end, then given back as {@code how} says; the HBONE tunnel it rode on. */
    private static Channel exchange(HttpUpstreamPool pool, boolean h2, Release how, ConnectionOptions options)
            throws Exception {
        return PoolExchange.get(pool, group.next(), endpoint(), h2, TUNNEL, options, "web", how).connection();
    }
}
