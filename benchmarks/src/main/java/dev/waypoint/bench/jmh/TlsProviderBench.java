package dev.waypoint.bench.jmh;

import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.TestCa;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * BoringSSL (netty-tcnative, what the waypoint uses) against the JDK provider, with mesh-shaped
 * certificates (EC P-256, URI SAN), TLS 1.3, ALPN h2, client certificates required:
 * {@code transfer16k} encrypts 16 KiB on one side and decrypts it on the other through a pair of
 * {@link SslHandler}s on {@link EmbeddedChannel}s (one op = 16 KiB each way of the crypto a proxy
 * pays per direction); {@code mutualHandshake} is one full mTLS handshake, both sides.
 */
@State(Scope.Thread)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TlsProviderBench {
    @Param({"OPENSSL", "JDK"})
    public SslProvider provider;

    private SslContext server;
    private SslContext client;
    private EmbeddedChannel c;
    private EmbeddedChannel s;
    private ByteBuf plain;

    @Setup(Level.Trial)
    public void setUp() throws SSLException {
        TestCa ca = TestCa.create("cluster.local");
        TestCa.Issued srv = ca.issue(new SpiffeId("cluster.local", "ns", "server"));
        TestCa.Issued cli = ca.issue(new SpiffeId("cluster.local", "ns", "client"));
        ApplicationProtocolConfig alpn = new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_2);
        server = SslContextBuilder.forServer(srv.key(), srv.chain()).trustManager(ca.root()).clientAuth(ClientAuth.REQUIRE)
                .sslProvider(provider).protocols("TLSv1.3").applicationProtocolConfig(alpn).build();
        client = SslContextBuilder.forClient().keyManager(cli.key(), cli.chain()).trustManager(ca.root())
                .endpointIdentificationAlgorithm(null).sslProvider(provider).protocols("TLSv1.3")
                .applicationProtocolConfig(alpn).build();
        c = new EmbeddedChannel(client.newHandler(ByteBufAllocator.DEFAULT));
        s = new EmbeddedChannel(server.newHandler(ByteBufAllocator.DEFAULT));
        handshake(c, s);
        plain = PooledByteBufAllocator.DEFAULT.directBuffer(16 << 10).writeZero(16 << 10);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        plain.release();
        c.finishAndReleaseAll();
        s.finishAndReleaseAll();
    }

    /** Shuttles records until both handshakes are done. */
    static void handshake(EmbeddedChannel client, EmbeddedChannel server) {
        SslHandler ch = client.pipeline().get(SslHandler.class);
        SslHandler sh = server.pipeline().get(SslHandler.class);
        for (int i = 0; i < 100 && !(ch.handshakeFuture().isDone() && sh.handshakeFuture().isDone()); i++) {
            move(client, server);
            move(server, client);
        }
        if (!ch.handshakeFuture().isSuccess() || !sh.handshakeFuture().isSuccess()) {
            throw new IllegalStateException("handshake failed: client " + ch.handshakeFuture().cause() + ", server "
                    + sh.handshakeFuture().cause());
        }
        // TLS 1.3 session tickets and the like
        move(server, client);
        move(client, server);
        drainInbound(client);
        drainInbound(server);
    }

    static void move(EmbeddedChannel from, EmbeddedChannel to) {
        Object o;
        while ((o = from.readOutbound()) != null) {
            to.writeInbound(o);
        }
    }

    static int drainInbound(EmbeddedChannel ch) {
        int n = 0;
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof ByteBuf b) {
                n += b.readableBytes();
            }
            ReferenceCountUtil.release(o);
        }
        return n;
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public int transfer16k() {
        c.writeOutbound(plain.retainedDuplicate());
        move(c, s);
        return drainInbound(s);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public boolean mutualHandshake() {
        EmbeddedChannel hc = new EmbeddedChannel(client.newHandler(ByteBufAllocator.DEFAULT));
        EmbeddedChannel hs = new EmbeddedChannel(server.newHandler(ByteBufAllocator.DEFAULT));
        try {
            handshake(hc, hs);
            return hc.isActive();
        } finally {
            hc.finishAndReleaseAll();
            hs.finishAndReleaseAll();
        }
    }
}
