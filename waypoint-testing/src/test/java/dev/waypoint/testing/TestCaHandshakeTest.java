package dev.waypoint.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.identity.PeerIdentities;
import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.SpiffeId;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** TestCa-issued material through real BoringSSL handshakes on loopback. */
class TestCaHandshakeTest {
    private static final SpiffeId WAYPOINT = new SpiffeId("cluster.local", "shop", "waypoint");
    private static final SpiffeId SLEEP = new SpiffeId("cluster.local", "default", "sleep");

    @ChannelHandler.Sharable
    private static final class CloseOnError extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // handshake failures are asserted through the futures
        }
    }

    private static final CloseOnError CLOSE_ON_ERROR = new CloseOnError();

    private static EventLoopGroup group;
    private static TestCa ca;

    private Channel server;
    private Channel client;

    @BeforeAll
    static void start() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ca = TestCa.create("cluster.local");
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void close() {
        if (client != null) {
            client.close().syncUninterruptibly();
        }
        if (server != null) {
            server.close().syncUninterruptibly();
        }
    }

    record Accepted(Optional<SpiffeId> peer, String alpn) {}

    private CompletableFuture<Accepted> serve(TlsMaterial material) {
        CompletableFuture<Accepted> accepted = new CompletableFuture<>();
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(material.serverContext().newHandler(ch.alloc()),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                        if (evt instanceof SslHandshakeCompletionEvent done) {
                                            if (done.isSuccess()) {
                                                accepted.complete(new Accepted(PeerIdentities.fromChannel(ctx.channel()),
                                                        ctx.pipeline().get(SslHandler.class).applicationProtocol()));
                                            } else {
                                                accepted.completeExceptionally(done.cause());
                                            }
                                        }
                                        ctx.fireUserEventTriggered(evt);
                                    }
                                }, CLOSE_ON_ERROR);
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).syncUninterruptibly().channel();
        return accepted;
    }

    private SslHandler connect(SslContext context) {
        // Kept from initChannel: a refused handshake can close the channel (and empty its
        // pipeline) before connect() returns.
        CompletableFuture<SslHandler> handler = new CompletableFuture<>();
        client = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        SslHandler ssl = context.newHandler(ch.alloc());
                        handler.complete(ssl);
                        ch.pipeline().addLast(ssl, CLOSE_ON_ERROR);
                    }
                })
                .connect(server.localAddress()).syncUninterruptibly().channel();
        SslHandler ssl = handler.join();
        ssl.handshakeFuture().awaitUninterruptibly();
        return ssl;
    }

    private static Throwable refusal(CompletableFuture<Accepted> accepted) throws Exception {
        try {
            accepted.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("the server accepted the handshake");
    }

    @Test
    void boringSslIsAvailable() {
        assertThat(OpenSsl.isAvailable()).as("%s", OpenSsl.unavailabilityCause()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void mutualTls(boolean rsa) throws Exception {
        TlsMaterial waypoint = (rsa ? ca.issueWithRsaKey(WAYPOINT) : ca.issue(WAYPOINT)).material();
        TlsMaterial sleep = (rsa ? ca.issueWithRsaKey(SLEEP) : ca.issue(SLEEP)).material();
        CompletableFuture<Accepted> accepted = serve(waypoint);

        SslHandler ssl = connect(sleep.clientContext());
        Accepted a = accepted.get(30, TimeUnit.SECONDS);

        assertThat(ssl.handshakeFuture().cause()).isNull();
        assertThat(ssl.applicationProtocol()).isEqualTo("h2");
        assertThat(PeerIdentities.fromChannel(client)).contains(WAYPOINT);
        assertThat(a.alpn()).isEqualTo("h2");
        assertThat(a.peer()).contains(SLEEP);
    }

    @Test
    void clientFromAnotherCaIsRefused() throws Exception {
        TestCa other = TestCa.create("cluster.local"); // same root subject, different key
        TestCa.Issued stranger = other.issue(SLEEP);
        TlsMaterial sleep = TlsMaterial.of(stranger.chain(), stranger.key(), java.util.List.of(ca.root()));
        CompletableFuture<Accepted> accepted = serve(ca.issue(WAYPOINT).material());

        connect(sleep.clientContext());

        assertThat(refusal(accepted)).isInstanceOf(SSLHandshakeException.class);
        client.closeFuture().syncUninterruptibly();
    }

    @Test
    void clientWithoutCertificateIsRefused() throws Exception {
        SslContext anonymous = SslContextBuilder.forClient()
                .trustManager(ca.root())
                .endpointIdentificationAlgorithm(null)
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
                .build();
        CompletableFuture<Accepted> accepted = serve(ca.issue(WAYPOINT).material());

        connect(anonymous);

        assertThat(refusal(accepted)).isInstanceOf(SSLHandshakeException.class);
        client.closeFuture().syncUninterruptibly();
    }
}
