package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.lb.hbone.HbonePool;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * MeshConfig {@code connectTimeout} on a new HBONE connection (Istio's {@code connect_originate}
 * cluster takes the mesh's): a "ztunnel" on loopback (127.38.0.1) that accepts TCP and never
 * answers the TLS handshake. The settings' timeout is long (60 s), so only the mesh's can end the
 * attempt; the assertion is on the rejection (reason and the timeout it names), not on a clock.
 */
class MeshConnectTimeoutTest {
    static EventLoopGroup group;
    static ServerSocket silent;
    static SslContext client;

    @BeforeAll
    static void start() throws Exception {
        group = EventLoops.newGroup(1, "mesh-connect-timeout-test");
        // bound and listening, never accepted: the kernel completes the TCP handshake, nobody speaks TLS
        silent = new ServerSocket();
        silent.bind(new InetSocketAddress(InetAddress.getByName("127.38.0.1"), 0), 8);
        client = SslContextBuilder.forClient().build();
    }

    @AfterAll
    static void stop() throws Exception {
        silent.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void meshConnectTimeoutEndsAnHboneDialThatIsNeverAnswered() throws Exception {
        UpstreamSettings settings = UpstreamSettings.defaults(silent.getLocalPort()).withConnectTimeout(Duration.ofSeconds(60));
        try (HbonePool hbone = new HbonePool(settings, () -> client)) {
            Upstreams upstreams = new Upstreams(settings, hbone);
            ConfigSnapshot snap = ConnectionOptionsTest.meshSnapshot(Duration.ofMillis(300), null, null);
            ConnectionOptions options = upstreams.connectionOptions(snap, LbFixtures.BACKEND);
            assertThat(options.hboneConnectTimeout()).isEqualTo(Duration.ofMillis(300));

            Endpoint e = new Endpoint(new HostPort(InetAddress.getByName("127.38.0.1"), 8080),
                    SpiffeId.parse("spiffe://cluster.local/ns/apps/sa/web").orElseThrow(), null);
            EventLoop loop = group.next();
            Future<Channel> f = upstreams.connect(e, LbFixtures.request(snap, Map.of(), "/", null).tunnel(), loop, options);
            assertThat(f.await(20, TimeUnit.SECONDS)).isTrue();
            assertThat(f.cause()).isInstanceOf(RejectedException.class);
            Rejection r = ((RejectedException) f.cause()).rejection();
            assertThat(r.reason()).isEqualTo(Rejection.Reason.CONNECT_TIMEOUT);
            assertThat(r.message()).contains("within 300 ms");
        }
    }

    @Test
    void withoutAMeshValueTheSettingsTimeoutHolds() throws Exception {
        UpstreamSettings settings = UpstreamSettings.defaults(silent.getLocalPort()).withConnectTimeout(Duration.ofMillis(700));
        try (HbonePool hbone = new HbonePool(settings, () -> client)) {
            Upstreams upstreams = new Upstreams(settings, hbone);
            ConfigSnapshot snap = ConnectionOptionsTest.meshSnapshot(null, null, null);
            ConnectionOptions options = upstreams.connectionOptions(snap, LbFixtures.BACKEND);
            assertThat(options.hboneConnectTimeout()).isNull();
            Endpoint e = new Endpoint(new HostPort(InetAddress.getByName("127.38.0.1"), 8080),
                    SpiffeId.parse("spiffe://cluster.local/ns/apps/sa/web").orElseThrow(), null);
            Future<Channel> f = upstreams.connect(e, LbFixtures.request(snap, Map.of(), "/", null).tunnel(), group.next(),
                    options);
            assertThat(f.await(20, TimeUnit.SECONDS)).isTrue();
            Rejection r = ((RejectedException) f.cause()).rejection();
            assertThat(r.reason()).isEqualTo(Rejection.Reason.CONNECT_TIMEOUT);
            assertThat(r.message()).contains("within 700 ms");
        }
    }
}
