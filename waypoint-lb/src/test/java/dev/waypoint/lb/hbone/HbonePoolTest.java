package dev.waypoint.lb.hbone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The outbound pool against a real destination-ztunnel stand-in. Loopback 127.24.x.x. */
class HbonePoolTest {
    static final SpiffeId POD = new SpiffeId("cluster.local", "apps", "web");
    static TestCa ca;
    static EventLoopGroup group;
    static EchoServer backend;
    static DestinationZtunnel ztunnel;
    static TlsMaterial waypoint;

    @BeforeAll
    static void start() throws Exception {
        ca = TestCa.create("cluster.local");
        group = EventLoops.newGroup(1, "pool-test");
        backend = EchoServer.start(group, new InetSocketAddress("127.24.1.1", 8080), "web-v1");
        // a peer that allows only 2 concurrent streams per connection
        ztunnel = DestinationZtunnel.start(group, Map.of(InetAddress.getByName("127.24.1.1"), ca.issue(POD).material()), 0,
                hp -> new InetSocketAddress(hp.address(), hp.port()), 2);
        waypoint = ca.issue(new SpiffeId("cluster.local", "istio-system", "waypoint")).material();
    }

    @AfterAll
    static void stop() {
        ztunnel.close();
        backend.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private static HbonePool pool() {
        return new HbonePool(UpstreamSettings.defaults(ztunnel.port()), waypoint::clientContext);
    }

    private static HboneKey key(SpiffeId expected) {
        return new HboneKey(new HostPort(HostPort.parseIp("127.24.1.1"), ztunnel.port()), expected);
    }

    @Test
    void streamsBeyondThePeersLimitOpenANewConnection() throws Exception {
        HbonePool pool = pool();
        EventLoop loop = group.next();
        List<Channel> streams = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            streams.add(pool.connect(loop, key(POD), "127.24.1.1:8080", new DefaultHttp2Headers()).get(10, TimeUnit.SECONDS));
        }
        // 5 open streams, at most 2 per connection: 3 connections
        assertThat(pool.connectionCount()).isEqualTo(3);
        streams.forEach(Channel::close);
        // once streams are closed, a new one reuses an existing connection
        Channel again = pool.connect(loop, key(POD), "127.24.1.1:8080", new DefaultHttp2Headers()).get(10, TimeUnit.SECONDS);
        assertThat(pool.connectionCount()).isEqualTo(3);
        again.close();
        pool.close();
    }

    /**
     * The destination echoes 40 KiB and ends its side after ours (END_STREAM both ways), then its
     * ztunnel drops the connection while the tunnel's reading is held back (a slow client): what
     * it sent is still read, to its end of stream, instead of going with the connection.
     */
    @Test
    void whatTheDestinationSentBeforeItsConnectionWentIsStillRead() throws Exception {
        HbonePool pool = pool();
        EventLoop loop = group.next();
        Http2StreamChannel tunnel = (Http2StreamChannel) pool.connect(loop, key(POD), "127.24.1.1:8080",
                new DefaultHttp2Headers()).get(10, TimeUnit.SECONDS);
        byte[] sent = new byte[40 * 1024];
        java.util.Arrays.fill(sent, (byte) 'x'); // not HTTP: the backend echoes it, and its end
        loop.submit(() -> {
            tunnel.writeAndFlush(Unpooled.wrappedBuffer(sent));
            dev.waypoint.transport.HalfClose.shutdownOutput(tunnel);
        }).sync();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!loop.submit(() -> tunnel.stream().state() == Http2Stream.State.CLOSED).get()) {
            assertThat(System.nanoTime()).as("the destination ends its side").isLessThan(deadline);
            Thread.sleep(10);
        }
        ztunnel.cut(InetAddress.getByName("127.24.1.1"));
        assertThat(tunnel.parent().closeFuture().await(10, TimeUnit.SECONDS)).as("our side of the connection closed").isTrue();
        // its channelInactive, queued at its close, has run once it is deregistered
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !tunnel.parent().isRegistered());
        CompletableFuture<Integer> read = new CompletableFuture<>();
        loop.submit(() -> {
            if (!tunnel.isOpen()) {
                read.completeExceptionally(new IllegalStateException("the tunnel closed with its connection"));
                return;
            }
            int[] bytes = {0};
            tunnel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    bytes[0] += ((io.netty.buffer.ByteBuf) msg).readableBytes();
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof ChannelInputShutdownEvent) {
                        read.complete(bytes[0]);
                    }
                    ReferenceCountUtil.release(evt);
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    read.completeExceptionally(new IllegalStateException("closed after " + bytes[0] + " bytes"));
                }
            });
            tunnel.config().setAutoRead(true);
        }).sync();
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(sent.length);
        assertThat(tunnel.closeFuture().await(10, TimeUnit.SECONDS)).isTrue();
        pool.close();
    }

    @Test
    void aDestinationWithTheWrongIdentityIsRefused() throws Exception {
        HbonePool pool = pool();
        Future<Channel> f = pool.connect(group.next(), key(new SpiffeId("cluster.local", "apps", "someone-else")),
                "127.24.1.1:8080", new DefaultHttp2Headers()).await();
        assertThat(f.isSuccess()).isFalse();
        Rejection r = ((RejectedException) f.cause()).rejection();
        assertThat(r.reason()).isEqualTo(Rejection.Reason.UPSTREAM_REFUSED);
        assertThat(r.message()).contains("peer identity spiffe://cluster.local/ns/apps/sa/web")
                .contains("expected: spiffe://cluster.local/ns/apps/sa/someone-else");
        assertThat(pool.connectionCount()).isZero();
        pool.close();
    }

    @Test
    void nothingListeningIsRefused() throws Exception {
        HbonePool pool = pool();
        HboneKey nowhere = new HboneKey(new HostPort(HostPort.parseIp("127.24.9.9"), ztunnel.port()), POD);
        Future<Channel> f = pool.connect(group.next(), nowhere, "127.24.9.9:8080", new DefaultHttp2Headers()).await();
        assertThat(((RejectedException) f.cause()).rejection().reason()).isEqualTo(Rejection.Reason.UPSTREAM_REFUSED);
        pool.close();
    }

    @Test
    void concurrentRequestsForOneKeyShareOneDial() throws Exception {
        HbonePool pool = pool();
        EventLoop loop = group.next();
        List<Future<Channel>> fs = new ArrayList<>();
        loop.submit(() -> {
            for (int i = 0; i < 2; i++) { // both asked before the first dial completes
                fs.add(pool.connect(loop, key(POD), "127.24.1.1:8080", new DefaultHttp2Headers()));
            }
        }).get();
        for (Future<Channel> f : fs) {
            f.get(10, TimeUnit.SECONDS).close();
        }
        assertThat(pool.connectionCount()).isEqualTo(1);
        pool.close();
    }

    @Test
    void aConnectThatIsNeverAnsweredTimesOut() throws Exception {
        HbonePool pool = new HbonePool(UpstreamSettings.defaults(ztunnel.port()).withConnectTimeout(java.time.Duration.ofMillis(300)),
                waypoint::clientContext);
        ztunnel.refuseWith(DestinationZtunnel.SILENT);
        try {
            EventLoop loop = group.next();
            Future<Channel> f = pool.connect(loop, new HboneKey(new HostPort(InetAddress.getByName("127.24.1.1"),
                    ztunnel.port()), POD), "127.24.1.1:8080", new DefaultHttp2Headers());
            assertThat(f.await(5, TimeUnit.SECONDS)).as("failed by the connect timeout, not left hanging").isTrue();
            assertThat(f.cause()).isInstanceOfSatisfying(RejectedException.class,
                    e -> assertThat(e.rejection().reason()).isEqualTo(Rejection.Reason.CONNECT_TIMEOUT));
        } finally {
            ztunnel.refuseWith(0);
            pool.close();
        }
    }
}
