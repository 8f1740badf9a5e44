package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.SourceZtunnel;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * WebSocket through the waypoint, HBONE in and out, with a third-party client: Node 20's
 * {@code WebSocket} (undici) and {@code node:http}, dialling the Service VIP through a
 * {@link SourceZtunnel} (the client pod's ztunnel: each connection becomes an HBONE CONNECT to
 * the waypoint), against Netty's WebSocket server handshaker in the echo pod behind its
 * destination ztunnel. Loopback range 127.170.x.x.
 */
class WebSocketEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String VIP = "127.170.2.1";
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static SourceZtunnel ztunnel;
    static Path node;

    @BeforeAll
    static void startMesh() throws Exception {
        node = Path.of("/usr/bin/node");
        if (!Files.isExecutable(node)) {
            Assumptions.assumeFalse(System.getenv("CI") != null, "node is missing in CI");
            Assumptions.abort("no /usr/bin/node");
        }
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = WebSocketEndToEndTest.class.getResourceAsStream("/e2e/websocket-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        ztunnel = SourceZtunnel.start(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"),
                List.of(new InetSocketAddress(VIP, 80), new InetSocketAddress(VIP, 8082)));
    }

    @AfterAll
    static void stopMesh() {
        if (ztunnel != null) {
            ztunnel.close();
        }
        if (mesh != null) {
            mesh.close();
        }
    }

    /** The conformance case (gw-backend-ws-01): a text and a binary frame echoed, then a clean close by the client. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ws://127.170.2.1:8082/ws", "ws://127.170.2.1:80/ws", "ws://127.170.2.1:80/routed/chat"})
    void framesGoBothWaysAndTheClientCloses(String url) throws Exception {
        EchoServer backend = mesh.backend("127.170.3.1", url.contains(":8082") || url.contains("/routed") ? 8082 : 8080);
        int closesBefore = closes(backend);
        List<JsonNode> events = run("echo", url);
        assertThat(events).extracting(e -> e.path("event").asText()).containsExactly("open", "message", "message", "close");
        assertThat(events.get(1).path("data").asText()).isEqualTo("Websocket Support!");
        assertThat(events.get(2).path("hex").asText()).isEqualTo("01020304050607");
        assertThat(events.get(3).path("code").asInt()).isEqualTo(1000);
        assertThat(events.get(3).path("wasClean").asBoolean()).as("clean close: %s", events.get(3)).isTrue();
        // the client's close frame went through to the backend
        await().atMost(Duration.ofSeconds(5)).until(() -> closes(backend) > closesBefore);
        assertThat(backend.requests()).contains("WS-CLOSE client 1000");
        if (url.contains("/routed")) {
            assertThat(backend.requests()).anyMatch(r -> r.startsWith("GET /ws/chat ")); // the rule's URLRewrite applied
        }
    }

    @Test
    void theBackendClosesFirst() throws Exception {
        List<JsonNode> events = run("backend-close", "ws://127.170.2.1:8082/ws");
        JsonNode close = events.get(events.size() - 1);
        assertThat(close.path("event").asText()).isEqualTo("close");
        assertThat(close.path("code").asInt()).isEqualTo(4000);
        assertThat(close.path("reason").asText()).isEqualTo("backend says goodbye");
        assertThat(close.path("wasClean").asBoolean()).isTrue();
    }

    /**
     * 24 MiB up and the same back in one message: many times every buffer on the way (HTTP/2
     * windows of both tunnels, the relay's write watermarks), so it only arrives intact if
     * reading pauses and resumes on both connections as they fill and drain.
     */
    @Test
    void aLargeMessageCrossesBothWays() throws Exception {
        List<JsonNode> events = run("large", "ws://127.170.2.1:8082/ws", String.valueOf(24 << 20));
        assertThat(events).anySatisfy(e -> {
            assertThat(e.path("event").asText()).isEqualTo("large");
            assertThat(e.path("size").asInt()).isEqualTo(24 << 20);
            assertThat(e.path("match").asBoolean()).isTrue();
        });
        assertThat(events.get(events.size() - 1).path("code").asInt()).isEqualTo(1000);
        // the outcome closes with the relay: status 101, the relayed bytes counted each way
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            String scrape = stats();
            assertThat(scrape.lines().filter(l -> l.startsWith("istio_requests_total{") && l.contains("response_code=\"101\"")))
                    .isNotEmpty();
            assertThat(scrape.lines().filter(l -> l.startsWith("istio_request_bytes_sum{") && l.contains("response_code=\"101\""))
                    .mapToDouble(WebSocketEndToEndTest::value).sum()).isGreaterThan(24 << 20);
            assertThat(scrape.lines().filter(l -> l.startsWith("istio_response_bytes_sum{") && l.contains("response_code=\"101\""))
                    .mapToDouble(WebSocketEndToEndTest::value).sum()).isGreaterThan(24 << 20);
        });
    }

    @Test
    void aBackendThatDoesNotSwitchIsAnsweredAsAnOrdinaryResponse() throws Exception {
        List<JsonNode> events = run("raw", "http://127.170.2.1:8082/ws-refuse");
        assertThat(events).hasSize(1);
        JsonNode r = events.get(0);
        assertThat(r.path("event").asText()).isEqualTo("response");
        assertThat(r.path("status").asInt()).isEqualTo(200);
        assertThat(r.path("server").asText()).isEqualTo("chat-1");
        assertThat(r.path("upgrade").isNull()).as("no Upgrade header on a 200: %s", r).isTrue();
        // the upgrade request reached the backend with its Upgrade header; the tunnel ends after the answer
        assertThat(r.path("body").asText()).contains("header upgrade=websocket", "header connection=upgrade");
        assertThat(r.path("connection").asText()).isEqualTo("close");
    }

    @Test
    void anUpgradeTheAuthorizationPolicyDeniesGets403() throws Exception {
        List<JsonNode> events = run("raw", "http://127.170.2.1:8082/ws-denied");
        assertThat(events).hasSize(1);
        assertThat(events.get(0).path("event").asText()).isEqualTo("response");
        assertThat(events.get(0).path("status").asInt()).isEqualTo(403);
        assertThat(events.get(0).path("body").asText()).isEqualTo("RBAC: access denied");
        assertThat(mesh.backend("127.170.3.1", 8082).requests()).noneMatch(r -> r.contains("/ws-denied"));
    }

    @Test
    void anAcceptedUpgradeSeenByARawClient() throws Exception {
        List<JsonNode> events = run("raw", "http://127.170.2.1:8082/ws");
        assertThat(events).hasSize(1);
        assertThat(events.get(0).path("event").asText()).isEqualTo("upgrade");
        assertThat(events.get(0).path("status").asInt()).isEqualTo(101);
        assertThat(events.get(0).path("upgrade").asText()).isEqualToIgnoringCase("websocket");
        assertThat(events.get(0).path("server").asText()).isEqualTo("chat-1");
    }

    /**
     * h2c: no RFC 8441 extended CONNECT (the waypoint does not send
     * {@code SETTINGS_ENABLE_CONNECT_PROTOCOL}, as Envoy without {@code allow_connect}, so an RFC 8441
     * client does not try: RFC 8441 §3); a client that sends {@code :protocol} anyway gets a local
     * 400, and an HTTP/2 request carrying {@code upgrade}/{@code connection} is malformed (RFC 9113
     * §8.2.2): its stream is reset with PROTOCOL_ERROR. Neither reaches the backend.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"extended CONNECT", "GET with upgrade headers"})
    void anH2cWebSocketRequestIsResetNotUpgraded(String kind) throws Exception {
        dev.waypoint.testing.HboneTestClient hbone = dev.waypoint.testing.HboneTestClient.connect(mesh.group(),
                mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        try {
            dev.waypoint.testing.HboneTestClient.Answer a = hbone.connect(VIP + ":8082", java.util.Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            io.netty.channel.Channel tunnel = a.tunnel();
            java.util.concurrent.BlockingQueue<Object> frames = new java.util.concurrent.LinkedBlockingQueue<>();
            tunnel.pipeline().addLast(io.netty.handler.codec.http2.Http2FrameCodecBuilder.forClient().validateHeaders(false).build(),
                    new io.netty.handler.codec.http2.Http2MultiplexHandler(new io.netty.channel.ChannelInboundHandlerAdapter()));
            io.netty.handler.codec.http2.Http2StreamChannel stream = new io.netty.handler.codec.http2.Http2StreamChannelBootstrap(tunnel)
                    .handler(new io.netty.channel.ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                            frames.add(msg instanceof io.netty.handler.codec.http2.Http2HeadersFrame h ? "headers " + h.headers().status()
                                    : msg instanceof io.netty.handler.codec.http2.Http2DataFrame d
                                    ? "data " + d.content().toString(StandardCharsets.UTF_8) : msg.getClass().getSimpleName());
                            io.netty.util.ReferenceCountUtil.release(msg);
                        }

                        @Override
                        public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
                            if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame rst) {
                                frames.add("reset " + rst.errorCode());
                            }
                            io.netty.util.ReferenceCountUtil.release(evt);
                        }
                    }).open().get(5, TimeUnit.SECONDS);
            io.netty.handler.codec.http2.Http2Headers h = new io.netty.handler.codec.http2.DefaultHttp2Headers(false)
                    .authority("chat.apps").scheme("http").path("/ws/h2c-ws");
            if (kind.startsWith("extended")) {
                h.method("CONNECT").set(":protocol", "websocket");
            } else {
                h.method("GET").set("connection", "upgrade").set("upgrade", "websocket");
            }
            h.set("sec-websocket-version", "13");
            stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(h, false));
            Object first = frames.poll(10, TimeUnit.SECONDS);
            if (kind.startsWith("extended")) {
                // a CONNECT inside the inner connection is not a request this proxy serves: a local 400
                assertThat(first).isEqualTo("headers 400");
            } else {
                assertThat(first).isEqualTo("reset " + io.netty.handler.codec.http2.Http2Error.PROTOCOL_ERROR.code());
            }
            assertThat(mesh.backend("127.170.3.1", 8082).requests()).noneMatch(r -> r.contains("h2c-ws"));
            tunnel.close();
        } finally {
            hbone.close();
        }
    }

    private static final String UPGRADE = "GET %s HTTP/1.1\r\nHost: chat.apps\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    /**
     * A frame sent in the same write as the upgrade request is read past the request before the
     * backend has answered: it waits as bytes (not parsed as HTTP) and reaches the backend after the 101.
     */
    @Test
    void bytesSentWithTheUpgradeRequestFollowItAfterThe101() throws Exception {
        try (java.net.Socket socket = new java.net.Socket(VIP, 8082)) {
            socket.setSoTimeout(10_000);
            byte[] request = String.format(UPGRADE, "/ws").getBytes(StandardCharsets.US_ASCII);
            byte[] frame = maskedText("early");
            byte[] both = java.util.Arrays.copyOf(request, request.length + frame.length);
            System.arraycopy(frame, 0, both, request.length, frame.length);
            socket.getOutputStream().write(both);
            String got = readUntil(socket, "\u0081\u0005early");
            assertThat(got).startsWith("HTTP/1.1 101 Switching Protocols\r\n");
            assertThat(got.toLowerCase()).contains("upgrade: websocket\r\n", "connection: upgrade\r\n");
        }
    }

    /** An upgrade is the last HTTP request of its tunnel: after a refusal, a request pipelined behind it is not answered. */
    @Test
    void aRequestPipelinedAfterARefusedUpgradeIsNotReadAsHttp() throws Exception {
        EchoServer backend = mesh.backend("127.170.3.1", 8082);
        try (java.net.Socket socket = new java.net.Socket(VIP, 8082)) {
            socket.setSoTimeout(10_000);
            String pipelined = String.format(UPGRADE, "/ws-refuse") + "GET /after-refusal HTTP/1.1\r\nHost: chat.apps\r\n\r\n";
            socket.getOutputStream().write(pipelined.getBytes(StandardCharsets.US_ASCII));
            String got = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1); // until the tunnel ends
            assertThat(got).startsWith("HTTP/1.1 200 OK\r\n");
            assertThat(got.toLowerCase()).contains("connection: close\r\n");
            assertThat(got.split("HTTP/1.1 ", -1)).as("one response: %s", got).hasSize(2);
        }
        assertThat(backend.requests()).noneMatch(r -> r.contains("/after-refusal"));
    }

    /**
     * Backpressure, end to end: while the backend reads nothing, the client's HBONE stream stops
     * taking bytes after a bounded amount (the waypoint reads the tunnel only while the upstream
     * can take more, so no WINDOW_UPDATE comes), and once the backend reads again every byte
     * arrives and is echoed. 24 MiB in 64 KiB frames; an unbounded buffer anywhere in the waypoint
     * would take them all at once. (Slow under paranoid leak detection: ~15 s.)
     */
    @Test
    void aStalledBackendStopsTheClientAndEverythingArrivesAfter() throws Exception {
        int frameSize = 64 << 10;
        int frames = 384; // 24 MiB
        dev.waypoint.testing.HboneTestClient hbone = dev.waypoint.testing.HboneTestClient.connect(mesh.group(),
                mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        try {
            dev.waypoint.testing.HboneTestClient.Answer a = hbone.connect(VIP + ":8082", java.util.Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            io.netty.channel.Channel tunnel = a.tunnel();
            java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicLong pushed = new java.util.concurrent.atomic.AtomicLong();
            StringBuilder head = new StringBuilder();
            java.util.concurrent.CountDownLatch switched = new java.util.concurrent.CountDownLatch(1);
            byte[] payload = new byte[frameSize];
            new java.util.Random(1).nextBytes(payload);
            byte[] frame = maskedBinary(payload);
            Runnable pump = new Runnable() {
                @Override
                public void run() {
                    while (tunnel.isWritable() && pushed.get() < frames) {
                        pushed.incrementAndGet();
                        tunnel.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(frame));
                    }
                }
            };
            tunnel.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                    io.netty.buffer.ByteBuf b = (io.netty.buffer.ByteBuf) msg;
                    if (switched.getCount() > 0) {
                        head.append(b.toString(StandardCharsets.ISO_8859_1));
                        int end = head.indexOf("\r\n\r\n");
                        if (end >= 0) {
                            received.addAndGet(head.length() - end - 4);
                            switched.countDown();
                        }
                    } else {
                        received.addAndGet(b.readableBytes());
                    }
                    b.release();
                }

                @Override
                public void channelWritabilityChanged(io.netty.channel.ChannelHandlerContext ctx) {
                    if (switched.getCount() == 0) {
                        pump.run();
                    }
                    ctx.fireChannelWritabilityChanged();
                }
            });
            tunnel.config().setAutoRead(true);
            tunnel.writeAndFlush(io.netty.buffer.Unpooled.copiedBuffer(String.format(UPGRADE, "/ws"), StandardCharsets.US_ASCII));
            assertThat(switched.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(head.toString()).startsWith("HTTP/1.1 101 ");
            tunnel.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(maskedText("pause 3000")));
            tunnel.eventLoop().execute(pump);
            // while the backend reads nothing: the client is held back after a bounded amount
            await().pollDelay(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> true);
            long whilePaused = pushed.get();
            assertThat(whilePaused * frameSize).as("bytes the client could send while the backend read nothing")
                    .isLessThan(16L << 20); // 6 MiB here: the HTTP/2 windows and socket buffers on the way
            assertThat(received.get()).as("nothing echoed while paused").isZero();
            // the backend reads again: everything arrives, and comes back (a server frame of 64 KiB: a 10-byte header)
            await().atMost(Duration.ofSeconds(60)).until(() -> received.get() >= (long) frames * (frameSize + 10));
            assertThat(pushed.get()).isEqualTo(frames);
            assertThat(received.get()).isEqualTo((long) frames * (frameSize + 10));
            tunnel.close();
        } finally {
            hbone.close();
        }
    }

    private static byte[] maskedBinary(byte[] payload) {
        byte[] mask = {0x5a, 0x33, 0x21, 0x7e};
        byte[] f = new byte[2 + 8 + 4 + payload.length];
        f[0] = (byte) 0x82;
        f[1] = (byte) (0x80 | 127);
        long n = payload.length;
        for (int i = 0; i < 8; i++) {
            f[2 + i] = (byte) (n >>> (56 - 8 * i));
        }
        System.arraycopy(mask, 0, f, 10, 4);
        for (int i = 0; i < payload.length; i++) {
            f[14 + i] = (byte) (payload[i] ^ mask[i % 4]);
        }
        return f;
    }

    private static byte[] maskedText(String text) {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        byte[] mask = {0x11, 0x22, 0x33, 0x44};
        byte[] f = new byte[2 + 4 + payload.length];
        f[0] = (byte) 0x81;
        f[1] = (byte) (0x80 | payload.length);
        System.arraycopy(mask, 0, f, 2, 4);
        for (int i = 0; i < payload.length; i++) {
            f[6 + i] = (byte) (payload[i] ^ mask[i % 4]);
        }
        return f;
    }

    private static String readUntil(java.net.Socket socket, String end) throws IOException {
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[4096];
        while (!sb.toString().contains(end)) {
            int n = socket.getInputStream().read(buf);
            if (n < 0) {
                throw new AssertionError("closed before " + end + ": " + sb);
            }
            sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        return sb.toString();
    }

    private static int closes(EchoServer backend) {
        return (int) backend.requests().stream().filter(r -> r.startsWith("WS-CLOSE")).count();
    }

    private static double value(String line) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }

    private static String stats() throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + mesh.waypoint().adminAddress("stats").getPort() + "/stats/prometheus");
        return HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(uri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    private static List<JsonNode> run(String... args) throws IOException, InterruptedException, URISyntaxException {
        List<String> cmd = new ArrayList<>(List.of(node.toString(), "--experimental-websocket", "--no-warnings",
                Path.of(WebSocketEndToEndTest.class.getResource("/interop/websocket_client.mjs").toURI()).toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(70, TimeUnit.SECONDS)).isTrue();
        List<JsonNode> events = new ArrayList<>();
        for (String line : stdout.split("\n")) {
            if (!line.isBlank()) {
                events.add(JSON.readTree(line));
            }
        }
        assertThat(p.exitValue()).as("node exit; output %s", events).isZero();
        return events;
    }
}
