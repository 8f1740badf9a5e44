package dev.waypoint.lb;

import dev.waypoint.model.request.TunnelContext;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.TcpKeepaliveSpec;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import dev.waypoint.transport.IdleTimeout;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The connectionPool fields that shape upstream connections: {@code maxRetries} budgets,
 * the options merged from a DestinationRule, and — against a real plaintext backend on loopback
 * (127.200.1.x) — {@code maxRequestsPerConnection}, {@code idleTimeout}, {@code connectTimeout}
 * and {@code tcpKeepalive} on the sockets {@link HttpUpstreamPool} opens.
 */
class ConnectionOptionsTest {
    static final UpstreamSettings SETTINGS = UpstreamSettings.defaults(15008);
    static EventLoopGroup group;
    static EchoServer backend;

    final Upstreams upstreams = new Upstreams(SETTINGS, new dev.waypoint.lb.hbone.HbonePool(SETTINGS, () -> null));

    @BeforeAll
    static void start() throws InterruptedException {
        group = EventLoops.newGroup(1, "conn-options-test");
        backend = EchoServer.start(group, new InetSocketAddress("127.200.1.1", 0), "pod");
    }

    @AfterAll
    static void stop() throws InterruptedException {
        backend.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    static ConnectionPoolSpec pool(int perConnection, int maxRetries, Duration idle, Duration connect, TcpKeepaliveSpec ka) {
        return new ConnectionPoolSpec(0, 0, 0, perConnection, maxRetries, idle, connect, ka);
    }

    @ParameterizedTest(name = "maxRetries {0} -> {1} retries in flight")
    @CsvSource({"1, 1", "3, 3", "0, -1"})
    void maxRetriesIsABudgetOfRetriesInFlight(int maxRetries, int admitted) {
        ConfigSnapshot snap = ConnectionPoolTest.snapshot(pool(0, maxRetries, null, null, null));
        List<AtomicInteger> slots = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            AtomicInteger slot = upstreams.retrySlot(snap, LbFixtures.BACKEND);
            if (slot == null) {
                break;
            }
            slots.add(slot);
        }
        if (admitted < 0) {
            assertThat(slots).hasSize(10).allMatch(s -> s == Upstreams.UNLIMITED);
            assertThat(upstreams.retryOverflows()).isZero();
            return;
        }
        assertThat(slots).hasSize(admitted);
        assertThat(upstreams.retryOverflows()).isEqualTo(1);
        // a retry ends: one more may start, also in the next generation (counted per Service port)
        slots.get(0).decrementAndGet();
        ConfigSnapshot next = ConnectionPoolTest.snapshot(pool(0, maxRetries, null, null, null));
        assertThat(upstreams.retrySlot(next, LbFixtures.BACKEND)).isNotNull();
        assertThat(upstreams.retrySlot(next, LbFixtures.BACKEND)).isNull();
        assertThat(upstreams.retryOverflows()).isEqualTo(2);
    }

    @Test
    void optionsAreTheDefaultsWithWhatTheRuleWrites() {
        ConnectionOptions defaults = ConnectionOptions.defaults(SETTINGS);
        assertThat(defaults).isEqualTo(new ConnectionOptions(Duration.ofSeconds(10), null, 60_000, 0));
        // no rule, a rule with only admission limits: the defaults (one shared pool)
        assertThat(upstreams.connectionOptions(LbFixtures.snapshot(1, LbFixtures.pods(1), List.of()), LbFixtures.BACKEND))
                .isSameAs(upstreams.connectionOptions(ConnectionPoolTest.snapshot(new ConnectionPoolSpec(1, 1, 1)), LbFixtures.BACKEND))
                .isEqualTo(defaults);
        TcpKeepaliveSpec ka = new TcpKeepaliveSpec(3, Duration.ofSeconds(7), null);
        assertThat(upstreams.connectionOptions(ConnectionPoolTest.snapshot(
                pool(0, 0, null, Duration.ofMillis(250), ka)), LbFixtures.BACKEND))
                .isEqualTo(new ConnectionOptions(Duration.ofMillis(250), ka, 60_000, 0));
        assertThat(upstreams.connectionOptions(ConnectionPoolTest.snapshot(
                pool(2, 0, Duration.ofSeconds(3), null, null)), LbFixtures.BACKEND))
                .isEqualTo(new ConnectionOptions(Duration.ofSeconds(10), null, 3_000, 2));
    }

    // --- MeshConfig connectTimeout and tcpKeepalive under the DestinationRule's ---

    static ConfigSnapshot meshSnapshot(Duration connect, TcpKeepaliveSpec ka, ConnectionPoolSpec pool) {
        List<dev.waypoint.model.traffic.DestinationRuleSpec> rules = pool == null ? List.of()
                : List.of(new dev.waypoint.model.traffic.DestinationRuleSpec(
                        new dev.waypoint.model.mesh.NamespacedName("apps", "web"), "web", List.of(),
                        new dev.waypoint.model.traffic.TrafficPolicySpec(null, null, List.of(), pool), List.of(),
                        dev.waypoint.model.SourceRef.NONE));
        MeshConfigSpec mesh = new MeshConfigSpec(dev.waypoint.model.SourceRef.NONE, null, List.of(), null, List.of(),
                MeshConfigSpec.DefaultProviders.NONE, null, null, MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null,
                null, null, connect, ka, null);
        return ConfigSnapshot.compile(1, LbFixtures.resources(LbFixtures.pods(1), rules).toBuilder().meshConfig(mesh).build(),
                List.of(new EndpointCompiler()), new dev.waypoint.model.Diagnostics());
    }

    static final Duration S3 = Duration.ofSeconds(3);
    static final Duration MS250 = Duration.ofMillis(250);
    static final Duration S10 = Duration.ofSeconds(10);
    static final TcpKeepaliveSpec MESH_KA = new TcpKeepaliveSpec(5, Duration.ofSeconds(60), Duration.ofSeconds(20));

    /**
     * @param meshConnect MeshConfig {@code connectTimeout} (null: not written)
     * @param meshKa MeshConfig {@code tcpKeepalive}
     * @param pool the DestinationRule's connectionPool (null: no rule)
     * @param expected the options a request to the port gets
     */
    record MeshCase(String name, Duration meshConnect, TcpKeepaliveSpec meshKa, ConnectionPoolSpec pool,
                    ConnectionOptions expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<MeshCase> meshCases() {
        return List.of(
                new MeshCase("nothing written: the waypoint's defaults", null, null, null,
                        new ConnectionOptions(S10, null, 60_000, 0, null, null)),
                new MeshCase("mesh connectTimeout, no rule: plaintext and HBONE", S3, null, null,
                        new ConnectionOptions(S3, null, 60_000, 0, null, S3)),
                new MeshCase("mesh connectTimeout, rule with only admission limits", S3, null, new ConnectionPoolSpec(1, 1, 1),
                        new ConnectionOptions(S3, null, 60_000, 0, null, S3)),
                new MeshCase("rule connectTimeout wins (HBONE keeps the mesh's)", S3, null, pool(0, 0, null, MS250, null),
                        new ConnectionOptions(MS250, null, 60_000, 0, null, S3)),
                new MeshCase("rule connectTimeout, no mesh value", null, null, pool(0, 0, null, MS250, null),
                        new ConnectionOptions(MS250, null, 60_000, 0, null, null)),
                new MeshCase("mesh keepalive, no rule", null, MESH_KA, null,
                        new ConnectionOptions(S10, MESH_KA, 60_000, 0, null, null)),
                new MeshCase("mesh keepalive under a rule without one", null, MESH_KA, pool(2, 0, null, null, null),
                        new ConnectionOptions(S10, MESH_KA, 60_000, 2, null, null)),
                new MeshCase("rule keepalive written over the mesh's field by field", null, MESH_KA,
                        pool(0, 0, null, null, new TcpKeepaliveSpec(0, Duration.ofSeconds(7), null)),
                        new ConnectionOptions(S10, new TcpKeepaliveSpec(5, Duration.ofSeconds(7), Duration.ofSeconds(20)),
                                60_000, 0, null, null)),
                new MeshCase("rule keepalive all fields: the rule's", null, MESH_KA,
                        pool(0, 0, null, null, new TcpKeepaliveSpec(2, Duration.ofSeconds(1), Duration.ofSeconds(2))),
                        new ConnectionOptions(S10, new TcpKeepaliveSpec(2, Duration.ofSeconds(1), Duration.ofSeconds(2)),
                                60_000, 0, null, null)),
                new MeshCase("empty rule keepalive: SO_KEEPALIVE with the mesh's values", null, MESH_KA,
                        pool(0, 0, null, null, new TcpKeepaliveSpec(0, null, null)),
                        new ConnectionOptions(S10, MESH_KA, 60_000, 0, null, null)),
                new MeshCase("rule keepalive, no mesh keepalive", S3, null,
                        pool(0, 0, null, null, new TcpKeepaliveSpec(0, null, Duration.ofSeconds(4))),
                        new ConnectionOptions(S3, new TcpKeepaliveSpec(0, null, Duration.ofSeconds(4)), 60_000, 0, null, S3)),
                // tcp.idleTimeout is the HTTP idle timeout when http.idleTimeout is not written (applyConnectionPool)
                new MeshCase("tcp idleTimeout without http idleTimeout", null, null,
                        pool2(null, Duration.ofSeconds(90), null, 0, null),
                        new ConnectionOptions(S10, null, 90_000, 0, null, null)),
                new MeshCase("http idleTimeout wins over tcp idleTimeout", null, null,
                        pool2(S3, Duration.ofSeconds(90), null, 0, null),
                        new ConnectionOptions(S10, null, 3_000, 0, null, null)),
                new MeshCase("tcp idleTimeout 0s: never idle-closed", null, null,
                        pool2(null, Duration.ZERO, null, 0, null),
                        new ConnectionOptions(S10, null, 0, 0, null, null)),
                new MeshCase("maxConnectionDuration, maxConcurrentStreams, http2KeepAlive", null, null,
                        pool2(null, null, Duration.ofMinutes(5), 7, H2KA),
                        new ConnectionOptions(S10, null, 60_000, 0, null, null, 300_000, 7, H2KA)));
    }

    static final TrafficPolicySpec.Http2KeepaliveSpec H2KA = new TrafficPolicySpec.Http2KeepaliveSpec(S10, S3);

    /** A connectionPool with only the newer fields written. */
    static ConnectionPoolSpec pool2(Duration httpIdle, Duration tcpIdle, Duration maxDuration, int streams,
                                    TrafficPolicySpec.Http2KeepaliveSpec keepalive) {
        return new ConnectionPoolSpec(0, 0, 0, 0, 0, httpIdle, null, null, tcpIdle, maxDuration,
                TrafficPolicySpec.H2Upgrade.DEFAULT, false, streams, keepalive);
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.MethodSource("meshCases")
    void meshDefaultsUnderTheRule(MeshCase c) {
        ConfigSnapshot snap = meshSnapshot(c.meshConnect(), c.meshKa(), c.pool());
        ConnectionOptions got = upstreams.connectionOptions(snap, LbFixtures.BACKEND);
        assertThat(got).isEqualTo(c.expected());
        if (c.pool() == null) {
            // built once per mesh config, not per request
            assertThat(upstreams.connectionOptions(snap, LbFixtures.BACKEND)).isSameAs(got);
        }
    }

    @Test
    void meshConnectTimeoutAndKeepaliveAreOnTheSocket() throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = upstreams.connectionOptions(
                meshSnapshot(Duration.ofMillis(1500), new TcpKeepaliveSpec(6, Duration.ofSeconds(45), Duration.ofSeconds(9)), null),
                LbFixtures.BACKEND);
        Channel c = exchange(pool, backendEndpoint(), false, options);
        assertThat(c.config().getConnectTimeoutMillis()).isEqualTo(1500);
        assertThat(c.config().getOption(ChannelOption.SO_KEEPALIVE)).isTrue();
        if (EventLoops.nativeTransport()) {
            assertThat(c.config().getOption(EpollChannelOption.TCP_KEEPIDLE)).isEqualTo(45);
            assertThat(c.config().getOption(EpollChannelOption.TCP_KEEPINTVL)).isEqualTo(9);
            assertThat(c.config().getOption(EpollChannelOption.TCP_KEEPCNT)).isEqualTo(6);
        }
        c.close().sync();
    }

    @ParameterizedTest(name = "h2 {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aPooledConnectionServesOnlyItsOwnSourceIdentity(boolean h2) throws Exception {
        // one client's streams share a connection's HTTP/2 window; one that never reads must not
        // hold another client's requests (HboneKey): connections are pooled per source identity
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.defaults(SETTINGS);
        TunnelContext a = tunnelOf("a");
        TunnelContext b = tunnelOf("b");
        Channel first = exchange(pool, backendEndpoint(), h2, options, a);
        Channel again = exchange(pool, backendEndpoint(), h2, options, a);
        Channel other = exchange(pool, backendEndpoint(), h2, options, b);
        assertThat(again).as("the same identity reuses its connection").isSameAs(first);
        assertThat(other).as("another identity gets its own").isNotSameAs(first);
        first.close().sync();
        other.close().sync();
    }

    private static TunnelContext tunnelOf(String serviceAccount) {
        dev.waypoint.model.mesh.ServiceSpec svc = LbFixtures.SVC;
        return new TunnelContext(new dev.waypoint.model.request.Target.ServiceTarget(
                HostPort.parseAuthority("10.96.0.1:80"), svc, svc.ports().get(0)),
                new dev.waypoint.model.mesh.SpiffeId("cluster.local", "apps", serviceAccount), null, null, null, null, null);
    }

    private static Channel exchange(HttpUpstreamPool pool, Endpoint e, boolean h2, ConnectionOptions options) throws Exception {
        return exchange(pool, e, h2, options, null);
    }

    /** A real exchange through the pool: acquire, GET, read to the end, release for reuse. */
    private static Channel exchange(HttpUpstreamPool pool, Endpoint e, boolean h2, ConnectionOptions options,
                                    TunnelContext tunnel) throws Exception {
        return PoolExchange.get(pool, group.next(), e, h2, tunnel, options, "web", Release.REUSE).connection();
    }

    private Endpoint backendEndpoint() {
        return new Endpoint(new HostPort(backend.address().getAddress(), backend.address().getPort()), null, null);
    }

    @Test
    void aKeyWhoseLastConnectionClosedInUseLeavesNoIdleQueue() throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.defaults(SETTINGS);
        EventLoop loop = group.next();
        Channel pooled = PoolExchange.get(pool, loop, backendEndpoint(), false, null, options, "web", Release.REUSE).connection();
        assertThat(pool.idleKeys()).isEqualTo(1);
        // taken from its queue (now empty) and ended after this exchange: the emptied queue goes with it
        Channel again = PoolExchange.get(pool, loop, backendEndpoint(), false, null, options, "web", Release.END).connection();
        assertThat(again).isSameAs(pooled);
        assertThat(again.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        loop.submit(() -> {}).sync();
        assertThat(pool.idleKeys()).isZero();
        assertThat(pool.pooled()).isZero();
    }

    @ParameterizedTest(name = "h2 {0}, maxRequestsPerConnection {1}: 6 requests on {2} connections")
    @CsvSource({"false, 0, 1", "false, 1, 6", "false, 2, 3", "false, 4, 2", "true, 0, 1", "true, 2, 3", "true, 5, 2"})
    void maxRequestsPerConnectionRetiresAConnectionAfterItsShare(boolean h2, int perConnection, int connections) throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS), pool(perConnection, 0, null, null, null));
        Set<Channel> seen = new LinkedHashSet<>();
        List<Channel> order = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Channel c = exchange(pool, backendEndpoint(), h2, options);
            seen.add(c);
            order.add(c);
        }
        assertThat(seen).hasSize(connections);
        if (perConnection > 0) {
            // each connection carried its share in a row, and the retired ones are closed
            for (int i = 0; i < 6; i++) {
                assertThat(order.get(i)).isSameAs(order.get(i / perConnection * perConnection));
            }
            List<Channel> retired = new ArrayList<>(seen).subList(0, 6 / perConnection);
            for (Channel c : retired) {
                assertThat(c.closeFuture().await(5, TimeUnit.SECONDS)).as("retired %s closed", c).isTrue();
            }
        }
        for (Channel c : seen) {
            c.close().sync();
        }
    }

    @ParameterizedTest(name = "h2 {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void maxConnectionDurationDrainsAPooledConnection(boolean h2) throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS),
                pool2(null, null, Duration.ofMillis(400), 0, null));
        Channel first = exchange(pool, backendEndpoint(), h2, options);
        // reused before the duration is up
        assertThat(exchange(pool, backendEndpoint(), h2, options)).isSameAs(first);
        // idle when it is up: closed, out of the pool; the next request opens another
        assertThat(first.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> pool.pooled() == 0);
        Channel next = exchange(pool, backendEndpoint(), h2, options);
        assertThat(next).isNotSameAs(first);
        next.close().sync();
    }

    @ParameterizedTest(name = "maxConcurrentStreams {0}: 4 streams open at once on {1} connections")
    @CsvSource({"0, 1", "1, 4", "2, 2", "3, 2"})
    void maxConcurrentStreamsCapsTheStreamsOfAnH2Connection(int streams, int connections) throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS),
                pool2(null, null, null, streams, null));
        EventLoop loop = group.next();
        List<Channel> open = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            open.add(stream(pool, loop, options));
        }
        Set<Channel> parents = new LinkedHashSet<>();
        open.forEach(s -> parents.add(s.parent()));
        // a connection at its limit takes no new stream: the next one goes on another
        assertThat(parents).hasSize(connections);
        for (Channel p : parents) {
            long onIt = open.stream().filter(s -> s.parent() == p).count();
            assertThat(onIt).as("streams on %s", p).isLessThanOrEqualTo(streams > 0 ? streams : 100);
        }
        // one ends: its connection takes the next stream (not a new connection), and no connection
        // was given up for having been full
        Channel first = open.remove(0);
        first.close().sync();
        Channel next = stream(pool, loop, options);
        assertThat(next.parent()).isSameAs(first.parent());
        open.add(next);
        assertThat(parents).allMatch(Channel::isActive);
        assertThat(pool.pooled()).isEqualTo(connections);
        for (Channel s : open) {
            s.close().sync();
        }
        for (Channel p : parents) {
            p.close().sync();
        }
    }

    @Test
    void aBusyH2ConnectionIsNotIdleAndAClosingOneTakesNoStream() throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS),
                pool(0, 0, Duration.ofMillis(500), null, null));
        // requests one after another for longer than the idle timeout: stream traffic keeps it (the
        // idle timer sees no stream frame itself), though no stream is open between requests
        Channel first = exchange(pool, backendEndpoint(), true, options);
        for (int i = 0; i < 14; i++) {
            Thread.sleep(50);
            assertThat(exchange(pool, backendEndpoint(), true, options)).as("request %d", i).isSameAs(first);
        }
        // closing (its GOAWAY sent: what Netty's graceful close, the idle close and the keepalive
        // send first, the connection staying up while its open streams finish): no new stream on it
        EventLoop loop = group.next();
        Channel closing = first;
        closing.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame(
                io.netty.handler.codec.http2.Http2Error.NO_ERROR)).sync();
        assertThat(closing.isActive()).isTrue();
        Channel next = stream(pool, loop, options);
        assertThat(next.parent()).isNotSameAs(closing);
        // and, with no stream open, the pool closes it
        assertThat(closing.closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        next.close().sync();
        next.parent().close().sync();
    }

    /** An h2c stream channel from the pool, held open (nothing sent on it). */
    private static Channel stream(HttpUpstreamPool pool, EventLoop loop, ConnectionOptions options) throws Exception {
        CompletableFuture<Channel> done = new CompletableFuture<>();
        loop.execute(() -> pool.acquire(new Endpoint(new HostPort(backend.address().getAddress(), backend.address().getPort()),
                null, null), true, null, loop, PoolExchange.discarding(), options).addListener(f -> {
                    if (f.isSuccess()) {
                        done.complete((Channel) f.getNow());
                    } else {
                        done.completeExceptionally(f.cause());
                    }
                }));
        return done.get(10, TimeUnit.SECONDS);
    }

    @Test
    void http2KeepAlivePingsAnH2UpstreamThatAnswers() throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS), pool2(null, null, null, 0,
                new TrafficPolicySpec.Http2KeepaliveSpec(Duration.ofMillis(100), Duration.ofMillis(300))));
        Channel c = exchange(pool, backendEndpoint(), true, options);
        assertThat(c.pipeline().get("h2c-keepalive")).isInstanceOf(dev.waypoint.transport.Http2Keepalive.class);
        // several intervals later the answered PINGs kept it open, and it still serves
        Thread.sleep(1000);
        assertThat(c.isActive()).isTrue();
        assertThat(exchange(pool, backendEndpoint(), true, options)).isSameAs(c);
        // without http2KeepAlive: no PINGs on the connection
        Channel d = exchange(pool, backendEndpoint(), true, ConnectionOptions.defaults(SETTINGS));
        assertThat(d.pipeline().get("h2c-keepalive")).isNull();
        c.close().sync();
        d.close().sync();
    }

    @Test
    void idleTimeoutConnectTimeoutAndKeepaliveAreOnTheSocket() throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        TcpKeepaliveSpec ka = new TcpKeepaliveSpec(4, Duration.ofSeconds(11), Duration.ofMillis(2500));
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS),
                pool(0, 0, Duration.ofMillis(300), Duration.ofMillis(750), ka));
        Channel c = exchange(pool, backendEndpoint(), false, options);
        assertThat(c.config().getConnectTimeoutMillis()).isEqualTo(750);
        assertThat(c.config().getOption(ChannelOption.SO_KEEPALIVE)).isTrue();
        if (EventLoops.nativeTransport()) {
            // read back from the kernel: whole seconds, rounded up
            assertThat(c.config().getOption(EpollChannelOption.TCP_KEEPIDLE)).isEqualTo(11);
            assertThat(c.config().getOption(EpollChannelOption.TCP_KEEPINTVL)).isEqualTo(3);
            assertThat(c.config().getOption(EpollChannelOption.TCP_KEEPCNT)).isEqualTo(4);
        }
        assertThat(((IdleTimeout) c.pipeline().get("idle")).timeoutMillis()).isEqualTo(300);
        // pooled and idle: closed by the idle timeout, and out of the pool
        assertThat(c.closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> pool.pooled() == 0);

        // without tcpKeepalive: SO_KEEPALIVE stays off and the waypoint's timeouts hold
        Channel d = exchange(pool, backendEndpoint(), false, ConnectionOptions.defaults(SETTINGS));
        assertThat(d).isNotSameAs(c);
        assertThat(d.config().getOption(ChannelOption.SO_KEEPALIVE)).isFalse();
        assertThat(d.config().getConnectTimeoutMillis()).isEqualTo(10_000);
        assertThat(((IdleTimeout) d.pipeline().get("idle")).timeoutMillis()).isEqualTo(60_000);
        d.close().sync();
    }

    @Test
    void connectionsWithOtherOptionsAreNotShared() throws Exception {
        HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));
        ConnectionOptions a = ConnectionOptions.defaults(SETTINGS);
        ConnectionOptions b = ConnectionOptions.of(a, pool(0, 0, null, Duration.ofSeconds(1), null));
        Channel first = exchange(pool, backendEndpoint(), false, a);
        Channel other = exchange(pool, backendEndpoint(), false, b);
        Channel again = exchange(pool, backendEndpoint(), false, a);
        assertThat(other).isNotSameAs(first);
        assertThat(again).isSameAs(first);
        first.close().sync();
        other.close().sync();
    }
}
