package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.transport.EventLoops;
import dev.waypoint.transport.HalfClose;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * TCP tunnels end to end, for each order in which the two sides finish: the client's
 * {@code END_STREAM} and the upstream's FIN, either first; an upstream that resets; a client
 * that resets. Each runs against both kinds of upstream — an outbound HBONE stream to a pod in
 * the mesh (its ztunnel turns the pod's FIN into {@code END_STREAM}) and a plaintext socket to a
 * pod outside it — on a port declared TCP and on an undeclared (sniffed) one. Whichever side
 * finishes last, the tunnel ends at once: the client sees {@code END_STREAM} (or the reset) and
 * the stream closes well within the 5 s allowed here, not after the tunnel idle timeout.
 *
 * <p>Also: an undeclared port falls back to TCP at the sniff timeout when the client's first
 * bytes decide nothing.
 *
 * <p>The pods' echo backends are replaced by {@link ScriptedBackend}s the test drives by hand.
 * Loopback range 127.50.x.x.
 */
class TcpTunnelEndToEndTest {
    private static final Duration PROMPTLY = Duration.ofSeconds(5);
    /** Shorter than the 3 s default, for the sniffing cases (every other client speaks at once). */
    private static final Duration SNIFF_TIMEOUT = Duration.ofSeconds(1);

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static final Map<String, ScriptedBackend> backends = new LinkedHashMap<>();
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        Path config = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = TcpTunnelEndToEndTest.class.getResourceAsStream("/e2e/tcp-tunnel-mesh.yaml")) {
            Files.copy(in, config.resolve("mesh.yaml"));
        }
        TestMesh.Options defaults = TestMesh.Options.ephemeral();
        TestMesh.Options options = new TestMesh.Options(defaults.listen(), defaults.health(), defaults.admin(),
                defaults.stats(), defaults.hbonePort(), defaults.workers(),
                ListenerSettings.defaults(defaults.listen()).withTimeouts(Duration.ofHours(1), SNIFF_TIMEOUT));
        mesh = TestMesh.start(config, tmp, new NamespacedName("istio-system", "waypoint"), options);
        for (String pod : List.of("127.50.1.1", "127.50.1.5")) {
            for (int port : List.of(7000, 7001)) {
                EchoServer echo = mesh.backend(pod, port);
                echo.close(); // the test plays this pod itself
                backends.put(pod + ":" + port, ScriptedBackend.start(mesh, echo.address()));
            }
        }
    }

    @AfterAll
    static void stopMesh() {
        backends.values().forEach(ScriptedBackend::close);
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        backends.values().forEach(b -> b.accepted.clear());
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() {
        client.close();
    }

    /** (Service VIP:port the client dials, pod IP:port that answers.) */
    static Stream<Arguments> upstreams() {
        return Stream.of(
                Arguments.of("hbone, declared tcp", "127.50.0.1:7000", "127.50.1.1:7000"),
                Arguments.of("hbone, undeclared", "127.50.0.1:7001", "127.50.1.1:7001"),
                Arguments.of("plaintext, declared tcp", "127.50.0.2:7000", "127.50.1.5:7000"),
                Arguments.of("plaintext, undeclared", "127.50.0.2:7001", "127.50.1.5:7001"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void clientEndsFirstThenTheUpstreamCloses(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        ScriptedBackend.Peer p = firstBytes(t, pod);

        HalfClose.shutdownOutput(t.channel);
        await().atMost(PROMPTLY).until(p.fin::isDone); // END_STREAM arrived as FIN
        assertThat(t.channel.isActive()).as("the other direction is still open").isTrue();
        p.send("last words");
        p.channel.close();

        await().atMost(PROMPTLY).until(t.endStream::isDone);
        await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        assertThat(t.received()).isEqualTo("last words");
        assertThat(t.reset).isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void clientSendsAndEndsAtOnceThenTheUpstreamCloses(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        // the request and END_STREAM leave in one flush: on a sniffed port they arrive in the read
        // burst that decides the protocol
        t.channel.write(bytes("\u0001hello"));
        HalfClose.shutdownOutput(t.channel);
        ScriptedBackend.Peer p = backends.get(pod).accepted.poll(10, TimeUnit.SECONDS);
        assertThat(p).as("a connection to %s", pod).isNotNull();
        await().atMost(PROMPTLY).until(p.fin::isDone);
        assertThat(p.received()).isEqualTo("\u0001hello");
        p.send("answer");
        p.channel.close();

        await().atMost(PROMPTLY).until(t.endStream::isDone);
        await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        assertThat(t.received()).isEqualTo("answer");
        assertThat(t.reset).isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void clientEndsFirstThenTheUpstreamClosesWithoutAWord(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        ScriptedBackend.Peer p = firstBytes(t, pod);

        HalfClose.shutdownOutput(t.channel);
        await().atMost(PROMPTLY).until(p.fin::isDone);
        p.channel.close();

        await().atMost(PROMPTLY).until(t.endStream::isDone);
        await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        assertThat(t.reset).isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void upstreamEndsFirstThenTheClient(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        ScriptedBackend.Peer p = firstBytes(t, pod);

        p.send("server is done");
        p.shutdownOutput();
        await().atMost(PROMPTLY).until(t.endStream::isDone); // FIN arrived as END_STREAM
        assertThat(t.received()).isEqualTo("server is done");
        assertThat(p.fin).as("the client's direction is still open").isNotDone();

        t.channel.write(bytes(" and the rest"));
        HalfClose.shutdownOutput(t.channel);
        await().atMost(PROMPTLY).until(p.fin::isDone);
        assertThat(p.received()).isEqualTo("\u0001hello and the rest");
        // both directions done: the waypoint ends the tunnel (the backend, half-closed on both
        // sides, has nothing more to see than that FIN)
        await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        assertThat(t.reset).isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void anUpstreamResetResetsTheClientsStream(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        ScriptedBackend.Peer p = firstBytes(t, pod);

        p.send("partial");
        await().atMost(PROMPTLY).until(() -> t.received().equals("partial"));
        p.reset();

        await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        // an abrupt end is not a clean one: RST_STREAM, never END_STREAM
        assertThat(t.reset).isDone();
        assertThat(t.endStream).isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void anUpstreamResetAfterTheClientEndedIsStillAReset(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        ScriptedBackend.Peer p = firstBytes(t, pod);
        HalfClose.shutdownOutput(t.channel);
        await().atMost(PROMPTLY).until(p.fin::isDone);

        p.reset();
        await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        // not END_STREAM: the client must not take a cut-off answer for a whole one
        assertThat(t.reset).isDone();
        assertThat(t.endStream).isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void aClientResetResetsTheUpstream(String name, String vip, String pod) throws Exception {
        Tunnel t = open(vip);
        ScriptedBackend.Peer p = firstBytes(t, pod);

        t.channel.close(); // RST_STREAM (CANCEL): the client has not ended its side
        // RFC 9113 §8.5: "a proxy MUST send a TCP segment with the RST bit set if it detects an
        // error with the stream" (through the pod's ztunnel, which is a relay like ours)
        await().atMost(PROMPTLY).until(p.reset::isDone);
        assertThat(p.fin).as("a reset, not a FIN").isNotDone();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("upstreams")
    void bytesSentBeforeThe200AreRelayed(String name, String vip, String pod) throws Exception {
        // a client that does not wait for the answer: its first DATA frame follows the CONNECT at once
        CompletableFuture<String> status = new CompletableFuture<>();
        Http2StreamChannel s = new Http2StreamChannelBootstrap(client.channel()).handler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof Http2HeadersFrame h) {
                    status.complete(String.valueOf(h.headers().status()));
                }
                ReferenceCountUtil.release(msg);
            }
        }).open().get(5, TimeUnit.SECONDS);
        s.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT").authority(vip), false));
        s.writeAndFlush(new DefaultHttp2DataFrame(bytes("\u0001early"), false));
        ScriptedBackend.Peer p = backends.get(pod).accepted.poll(10, TimeUnit.SECONDS);
        assertThat(p).as("a connection to %s", pod).isNotNull();
        await().atMost(PROMPTLY).until(() -> p.received().equals("\u0001early"));
        assertThat(status.get(5, TimeUnit.SECONDS)).isEqualTo("200");
        s.close();
    }

    @Test
    void aClientWhoseFirstBytesDecideNothingGetsTcpAtTheSniffTimeout() throws Exception {
        Tunnel t = open("127.50.0.2:7001"); // undeclared
        t.channel.writeAndFlush(bytes("HELLO")); // uppercase, no space: not yet a request line, and then it waits
        ScriptedBackend.Peer p = backends.get("127.50.1.5:7001").accepted.poll(10, TimeUnit.SECONDS);
        assertThat(p).as("a TCP upstream after the sniff timeout").isNotNull();
        await().atMost(PROMPTLY).until(() -> p.received().equals("HELLO"));
        p.send("HELLO yourself");
        await().atMost(PROMPTLY).until(() -> t.received().equals("HELLO yourself"));
    }

    @Test
    void aTunnelWithBothSidesEndedLeavesNothingOpenOnTheWaypoint() throws Exception {
        // many short tunnels, each ended by both sides in turn: none lingers on the waypoint
        for (int i = 0; i < 20; i++) {
            Tunnel t = open(i % 2 == 0 ? "127.50.0.1:7000" : "127.50.0.2:7000");
            ScriptedBackend.Peer p = firstBytes(t, i % 2 == 0 ? "127.50.1.1:7000" : "127.50.1.5:7000");
            HalfClose.shutdownOutput(t.channel);
            await().atMost(PROMPTLY).until(p.fin::isDone);
            p.shutdownOutput();
            await().atMost(PROMPTLY).until(() -> !t.channel.isActive());
        }
    }

    private Tunnel open(String vip) throws Exception {
        HboneTestClient.Answer a = client.connect(vip, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", vip, a.body()).isEqualTo(200);
        return new Tunnel(a.tunnel());
    }

    /** The client speaks first (a non-HTTP byte, so a sniffed port is decided at once). */
    private static ScriptedBackend.Peer firstBytes(Tunnel t, String pod) throws InterruptedException {
        t.channel.writeAndFlush(bytes("\u0001hello"));
        ScriptedBackend.Peer p = backends.get(pod).accepted.poll(10, TimeUnit.SECONDS);
        assertThat(p).as("a connection to %s", pod).isNotNull();
        await().atMost(PROMPTLY).until(() -> p.received().equals("\u0001hello"));
        return p;
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    /** The client's end of one tunnel, recording what arrives. */
    private static final class Tunnel {
        final Channel channel;
        final StringBuffer received = new StringBuffer();
        final CompletableFuture<Void> endStream = new CompletableFuture<>();
        final CompletableFuture<Http2ResetFrame> reset = new CompletableFuture<>();

        Tunnel(Channel channel) {
            this.channel = channel;
            channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    received.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof ChannelInputShutdownEvent) {
                        endStream.complete(null);
                    } else if (evt instanceof Http2ResetFrame r) {
                        reset.complete(r);
                    }
                    ReferenceCountUtil.release(evt);
                }
            });
        }

        String received() {
            return received.toString();
        }
    }

    /**
     * A pod the test drives: accepts connections (half-close allowed) and hands each to the test,
     * recording the bytes and the FIN it receives.
     */
    private static final class ScriptedBackend implements AutoCloseable {
        final BlockingQueue<Peer> accepted = new LinkedBlockingQueue<>();
        private final List<Channel> servers = new ArrayList<>();

        static ScriptedBackend start(TestMesh mesh, InetSocketAddress address) throws InterruptedException {
            ScriptedBackend b = new ScriptedBackend();
            b.servers.add(new ServerBootstrap()
                    .group(mesh.group())
                    .channel(EventLoops.serverChannel())
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            Peer p = new Peer(ch);
                            ch.pipeline().addLast(p.recorder());
                            b.accepted.add(p);
                        }
                    })
                    .bind(address).sync().channel());
            return b;
        }

        @Override
        public void close() {
            servers.forEach(s -> s.close().awaitUninterruptibly());
        }

        static final class Peer {
            final SocketChannel channel;
            final StringBuffer received = new StringBuffer();
            final CompletableFuture<Void> fin = new CompletableFuture<>();
            /** A TCP RST arrived (the read failed). */
            final CompletableFuture<Throwable> reset = new CompletableFuture<>();

            Peer(SocketChannel channel) {
                this.channel = channel;
            }

            ChannelInboundHandlerAdapter recorder() {
                return new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        received.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                        ReferenceCountUtil.release(msg);
                    }

                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt instanceof ChannelInputShutdownEvent) {
                            fin.complete(null);
                        }
                        ReferenceCountUtil.release(evt);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        reset.complete(cause); // "Connection reset by peer"
                        ctx.close();
                    }
                };
            }

            String received() {
                return received.toString();
            }

            void send(String s) {
                channel.writeAndFlush(bytes(s)).syncUninterruptibly();
            }

            void shutdownOutput() {
                channel.shutdownOutput().syncUninterruptibly();
            }

            /** Closes with RST instead of FIN (SO_LINGER 0). */
            void reset() {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
                channel.close().syncUninterruptibly();
            }
        }
    }
}
