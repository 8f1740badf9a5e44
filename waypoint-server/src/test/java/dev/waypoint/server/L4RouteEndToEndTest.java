package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestCa;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * TCPRoute and TLSRoute through the whole waypoint ({@code e2e/l4-routes-mesh.yaml}): HBONE in, a
 * backend drawn by weight per connection (TCPRoute), or chosen by the SNI of the client's
 * ClientHello read inside the tunnel without terminating TLS (TLSRoute: the client completes its
 * handshake with the backend itself). Loopback range 127.110.40.x-49.x.
 */
class L4RouteEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static final List<Channel> tlsServers = new ArrayList<>();
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = L4RouteEndToEndTest.class.getResourceAsStream("/e2e/l4-routes-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        TestCa.Issued cert = mesh.ca().issue(new SpiffeId("cluster.local", "l4", "tls-server"));
        SslContext server = SslContextBuilder.forServer(cert.key(), cert.chain()).sslProvider(SslProvider.JDK).build();
        tlsServers.add(tlsServer(server, new InetSocketAddress("127.110.42.1", 8443), "tls-a"));
        tlsServers.add(tlsServer(server, new InetSocketAddress("127.110.42.2", 8443), "tls-b"));
    }

    /** A TLS server that, once the handshake is done, writes "{@code <name> sni=<requested name>}" and closes. */
    static Channel tlsServer(SslContext ctx, InetSocketAddress bind, String name) throws InterruptedException {
        return new ServerBootstrap().group(mesh.group()).channel(dev.waypoint.transport.EventLoops.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SslHandler ssl = ctx.newHandler(ch.alloc());
                        ch.pipeline().addLast(ssl, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext c, Object evt) {
                                if (evt instanceof SslHandshakeCompletionEvent e && e.isSuccess()) {
                                    String sni = "none";
                                    for (SNIServerName n : ((ExtendedSSLSession) ssl.engine().getSession()).getRequestedServerNames()) {
                                        sni = ((SNIHostName) n).getAsciiName();
                                    }
                                    c.writeAndFlush(Unpooled.copiedBuffer(name + " sni=" + sni, StandardCharsets.UTF_8))
                                            .addListener(f -> c.close());
                                }
                            }

                            @Override
                            public void channelRead(ChannelHandlerContext c, Object msg) {
                                ReferenceCountUtil.release(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
                                c.close();
                            }
                        });
                    }
                }).bind(bind).sync().channel();
    }

    @AfterAll
    static void stopMesh() {
        tlsServers.forEach(ch -> ch.close().syncUninterruptibly());
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() {
        client.close();
    }

    private Channel tunnel(String authority) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        return a.tunnel();
    }

    @Test
    void tcpRouteDrawsABackendByWeightForEachConnection() throws Exception {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < 48; i++) {
            // the port is declared tcp: the waypoint relays bytes; the echo pods answer HTTP with their name
            Channel t = tunnel("127.110.40.1:9000");
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/tcp/" + i);
            r.headers().set(HttpHeaderNames.HOST, "tcp-front.l4");
            t.writeAndFlush(r);
            FullHttpResponse resp = Tunnels.take(q);
            counts.merge(resp.headers().get("x-echo-server"), 1, Integer::sum);
            resp.release();
            t.close();
        }
        // weight 0 is never chosen; 3:1 gives tcp-b 12 of 48 on average (no tcp-b at all: p = 1e-6)
        assertThat(counts).containsOnlyKeys("tcp-a", "tcp-b");
        assertThat(counts.get("tcp-a")).isGreaterThan(counts.get("tcp-b"));
    }

    /** A TLS handshake through the tunnel with {@code sni}: what the backend wrote, or the failure. */
    private String handshake(String sni) throws Exception {
        Channel t = tunnel("127.110.40.2:443");
        SslContext clientTls = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                .sslProvider(SslProvider.JDK).build();
        CompletableFuture<String> out = new CompletableFuture<>();
        StringBuilder got = new StringBuilder();
        t.eventLoop().submit(() -> t.pipeline().addLast(clientTls.newHandler(t.alloc(), sni, 443),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                        ReferenceCountUtil.release(msg);
                    }

                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) {
                            out.complete("handshake failed");
                        }
                        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                            // the backend closed: its FIN arrives as END_STREAM
                            out.complete(got.length() > 0 ? got.toString() : "closed");
                        }
                        ReferenceCountUtil.release(evt);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        out.complete("error");
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        out.complete(got.length() > 0 ? got.toString() : "closed");
                    }
                })).sync();
        try {
            return out.get(10, TimeUnit.SECONDS);
        } finally {
            t.close();
        }
    }

    @ParameterizedTest(name = "SNI {0} -> {1}")
    @CsvSource(textBlock = """
            api.tls.test,     tls-a sni=api.tls.test
            API.TLS.TEST,     tls-a sni=api.tls.test
            www.tls.test,     tls-b sni=www.tls.test
            a.b.tls.test,     tls-b sni=a.b.tls.test
            """)
    void tlsRouteSendsTheUnterminatedHandshakeToTheBackendTheSniNames(String sni, String expected) throws Exception {
        assertThat(handshake(sni).toLowerCase(java.util.Locale.ROOT)).isEqualTo(expected.toLowerCase(java.util.Locale.ROOT));
    }

    @Test
    void aClientHelloWithoutAMatchingSniIsClosed() throws Exception {
        assertThat(handshake("other.example")).isIn("closed", "handshake failed", "error");
        assertThat(handshake("tls.test")).as("*.tls.test does not match tls.test").isIn("closed", "handshake failed", "error");
    }

    @Test
    void bytesThatAreNotTlsAreClosed() throws Exception {
        Channel t = tunnel("127.110.40.2:443");
        CompletableFuture<Boolean> closed = new CompletableFuture<>();
        StringBuilder got = new StringBuilder();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                closed.complete(true);
            }
        });
        t.writeAndFlush(Unpooled.copiedBuffer("GET / HTTP/1.1\r\nhost: x\r\n\r\n", StandardCharsets.US_ASCII));
        assertThat(closed.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(got).isEmpty();
    }

    @Test
    void aClientHelloLongerThanTheLimitIsClosedNotBuffered() throws Exception {
        Channel t = tunnel("127.110.40.2:443");
        CompletableFuture<Boolean> closed = new CompletableFuture<>();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                closed.complete(true);
            }
        });
        // one full 16 KiB handshake record announcing a 100,000-byte ClientHello (limit: 64 KiB)
        ByteBuf record = Unpooled.buffer(5 + 16384);
        record.writeByte(0x16).writeShort(0x0301).writeShort(16384);
        record.writeByte(1).writeMedium(100_000);
        record.writeZero(16384 - 4);
        t.writeAndFlush(record);
        assertThat(closed.get(10, TimeUnit.SECONDS)).isTrue();
    }
}
