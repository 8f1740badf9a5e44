package dev.waypoint.identity;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.identity.TestCerts.KeyType;
import dev.waypoint.identity.TestCerts.Leaf;
import dev.waypoint.model.mesh.SpiffeId;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
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
import org.junit.jupiter.params.provider.EnumSource;

/** Real loopback handshakes between contexts built by {@link TlsMaterial}. */
class MutualTlsHandshakeTest {
    private static final SpiffeId WAYPOINT = new SpiffeId("cluster.local", "shop", "waypoint");
    private static final SpiffeId CLIENT = new SpiffeId("cluster.local", "default", "sleep");
    private static final String TLS12_ECDHE_AES_GCM = "TLS_ECDHE_(ECDSA|RSA)_WITH_AES_(128|256)_GCM_SHA(256|384)";

    /** Handshake failures are asserted through the handshake futures; here they only close. */
    private static final ChannelInboundHandlerAdapter CLOSE_ON_ERROR = new ChannelInboundHandlerAdapter() {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        @Override
        public boolean isSharable() {
            return true;
        }
    };

    private static EventLoopGroup group;
    private static TestCerts ca;
    private static TestCerts foreignCa;

    private Channel server;

    @BeforeAll
    static void start() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ca = TestCerts.ca();
        foreignCa = TestCerts.ca();
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void closeServer() {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
    }

    /** What the server side saw when its handshake finished. */
    record ServerView(Optional<SpiffeId> peer, Optional<SpiffeId> peerFromStream, String alpn,
            String protocol, String cipher) {}

    /** What the client side saw. */
    record ClientView(Channel channel, Throwable failure, Optional<SpiffeId> peer, String alpn) {}

    private CompletableFuture<ServerView> startServer(SslContext context) {
        CompletableFuture<ServerView> seen = new CompletableFuture<>();
        server = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(context.newHandler(ch.alloc()), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof SslHandshakeCompletionEvent done) {
                                    if (!done.isSuccess()) {
                                        seen.completeExceptionally(done.cause());
                                        return;
                                    }
                                    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
                                    // An HTTP/2 stream channel's parent is the TLS connection.
                                    EmbeddedChannel stream = new EmbeddedChannel(
                                            ctx.channel(), DefaultChannelId.newInstance(), true, false);
                                    Optional<SpiffeId> fromStream = PeerIdentities.fromChannel(stream);
                                    stream.finishAndReleaseAll();
                                    seen.complete(new ServerView(PeerIdentities.fromChannel(ctx.channel()),
                                            fromStream, ssl.applicationProtocol(),
                                            ssl.engine().getSession().getProtocol(),
                                            ssl.engine().getSession().getCipherSuite()));
                                }
                                ctx.fireUserEventTriggered(evt);
                            }
                        }, CLOSE_ON_ERROR);
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .syncUninterruptibly()
                .channel();
        return seen;
    }

    private ClientView connect(SslContext context) {
        // Kept from initChannel: a failed handshake closes the channel, and a closed channel's
        // pipeline no longer holds the handler, possibly before connect() returns.
        CompletableFuture<SslHandler> handler = new CompletableFuture<>();
        Channel ch = new Bootstrap()
                .group(group)
                .channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // No peer host: no SNI, as ztunnel.
                        SslHandler ssl = context.newHandler(ch.alloc());
                        handler.complete(ssl);
                        ch.pipeline().addLast(ssl, CLOSE_ON_ERROR);
                    }
                })
                .connect(server.localAddress())
                .syncUninterruptibly()
                .channel();
        SslHandler ssl = handler.join();
        ssl.handshakeFuture().awaitUninterruptibly();
        Throwable failure = ssl.handshakeFuture().cause();
        return new ClientView(ch, failure, PeerIdentities.fromChannel(ch),
                failure == null ? ssl.applicationProtocol() : null);
    }

    private static ServerView serverResult(CompletableFuture<ServerView> seen) throws Exception {
        return seen.get(30, TimeUnit.SECONDS);
    }

    /** A TLS 1.2-only client presenting {@code client}, trusting the waypoint's CA. */
    private static SslContext tls12Client(Leaf client) throws javax.net.ssl.SSLException {
        return SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .keyManager(client.key(), client.chain())
                .trustManager(ca.root)
                .endpointIdentificationAlgorithm(null)
                .protocols("TLSv1.2")
                .applicationProtocolConfig(TlsContexts.ALPN_H2)
                .build();
    }

    private static Throwable serverFailure(CompletableFuture<ServerView> seen) throws Exception {
        try {
            seen.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("the server accepted the handshake");
    }

    @ParameterizedTest
    @EnumSource(KeyType.class)
    void mutualTlsNegotiatesH2AndSeesThePeerIdentity(KeyType keys) throws Exception {
        TlsMaterial waypoint = ca.issue(keys, WAYPOINT.uri()).material();
        TlsMaterial client = ca.issue(keys, CLIENT.uri()).material();
        CompletableFuture<ServerView> seen = startServer(waypoint.serverContext());

        ClientView c = connect(client.clientContext());
        ServerView s = serverResult(seen);

        assertThat(c.failure()).isNull();
        assertThat(c.alpn()).isEqualTo("h2");
        assertThat(c.peer()).contains(WAYPOINT);
        assertThat(s.alpn()).isEqualTo("h2");
        assertThat(s.peer()).contains(CLIENT);
        assertThat(s.peerFromStream()).contains(CLIENT);
        assertThat(s.protocol()).isEqualTo("TLSv1.3");
        assertThat(s.cipher()).isIn(TlsContexts.CIPHERS);
        c.channel().close().syncUninterruptibly();
    }

    @ParameterizedTest
    @EnumSource(KeyType.class)
    void tls12PeerIsAcceptedWithEcdheAesGcm(KeyType keys) throws Exception {
        TlsMaterial waypoint = ca.issue(keys, WAYPOINT.uri()).material();
        SslContext tls12 = tls12Client(ca.issue(keys, CLIENT.uri()));
        CompletableFuture<ServerView> seen = startServer(waypoint.serverContext());

        ClientView c = connect(tls12);
        ServerView s = serverResult(seen);

        assertThat(c.failure()).isNull();
        assertThat(s.protocol()).isEqualTo("TLSv1.2");
        assertThat(s.cipher()).matches(TLS12_ECDHE_AES_GCM).contains(keys == KeyType.EC ? "ECDSA" : "RSA");
        assertThat(s.alpn()).isEqualTo("h2");
        assertThat(s.peer()).contains(CLIENT);
        c.channel().close().syncUninterruptibly();
    }

    @Test
    void clientCertificateFromAnotherCaIsRefused() throws Exception {
        TlsMaterial waypoint = ca.issue(WAYPOINT.uri()).material();
        // Trusts the waypoint's CA, but presents a certificate from another one.
        Leaf stranger = foreignCa.issue(CLIENT.uri());
        TlsMaterial client = TlsMaterial.of(stranger.chain(), stranger.key(), List.of(ca.root));
        CompletableFuture<ServerView> seen = startServer(waypoint.serverContext());

        ClientView c = connect(client.clientContext());

        assertThat(serverFailure(seen)).isInstanceOf(SSLHandshakeException.class);
        c.channel().closeFuture().syncUninterruptibly();
        // With TLS 1.3 the client may finish before the server checks its certificate; either way
        // the connection is closed.
        c.channel().closeFuture().syncUninterruptibly();
    }

    /** The alert the waypoint sends a client of another CA (TLS 1.2: the client learns it in the handshake). */
    @Test
    void clientOfAnotherCaIsToldUnknownCa() throws Exception {
        TlsMaterial waypoint = ca.issue(WAYPOINT.uri()).material();
        SslContext tls12 = tls12Client(foreignCa.issue(CLIENT.uri()));
        CompletableFuture<ServerView> seen = startServer(waypoint.serverContext());

        ClientView c = connect(tls12);

        assertThat(serverFailure(seen)).isInstanceOf(SSLHandshakeException.class);
        // unknown_ca, as ztunnel and Envoy answer; it was internal_error (the JDK's PKIX failure unclassified)
        assertThat(c.failure()).hasMessageContaining("ALERT_UNKNOWN_CA");
        c.channel().closeFuture().syncUninterruptibly();
    }

    @Test
    void clientWithoutCertificateIsRefused() throws Exception {
        TlsMaterial waypoint = ca.issue(WAYPOINT.uri()).material();
        SslContext anonymous = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .trustManager(ca.root)
                .endpointIdentificationAlgorithm(null)
                .applicationProtocolConfig(TlsContexts.ALPN_H2)
                .build();
        CompletableFuture<ServerView> seen = startServer(waypoint.serverContext());

        ClientView c = connect(anonymous);

        assertThat(serverFailure(seen)).isInstanceOf(SSLHandshakeException.class);
        c.channel().closeFuture().syncUninterruptibly();
    }

    @Test
    void serverCertificateFromAnotherCaIsRefusedByTheClient() throws Exception {
        Leaf stranger = foreignCa.issue(WAYPOINT.uri());
        TlsMaterial waypoint = TlsMaterial.of(stranger.chain(), stranger.key(), List.of(ca.root));
        TlsMaterial client = ca.issue(CLIENT.uri()).material();
        CompletableFuture<ServerView> seen = startServer(waypoint.serverContext());

        ClientView c = connect(client.clientContext());

        assertThat(c.failure()).isInstanceOf(SSLHandshakeException.class);
        assertThat(c.peer()).isEmpty();
        // the client's alert, as the destination ztunnel receives it: unknown_ca, not internal_error
        assertThat(serverFailure(seen)).hasMessageContaining("ALERT_UNKNOWN_CA");
        c.channel().closeFuture().syncUninterruptibly();
    }
}
