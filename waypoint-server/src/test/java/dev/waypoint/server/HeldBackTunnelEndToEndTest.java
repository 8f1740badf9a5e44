package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.transport.EventLoops;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client fills a tunnel toward a backend that stopped reading, so the waypoint holds the tunnel's
 * reading back (its unread DATA frames wait in the tunnel's stream), then drops its HBONE
 * connection. The tunnel must end with the connection — the TCP relay resets its outbound side
 * and records the connection closed; an HTTP exchange records its request as a downstream
 * disconnect — not linger with what it holds until the tunnel idle timeout (an hour). Netty closes
 * such a held-back stream channel only once it is read; {@code ChildStreams} closes it with its
 * connection. Loopback range 127.52.x.x.
 */
class HeldBackTunnelEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: sink, namespace: apps}
            spec:
              clusterIP: 127.52.0.1
              selector: {app: sink}
              ports:
              - {name: tcp, port: 7000}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: sink-v1, namespace: apps, labels: {app: sink}}
            spec: {serviceAccountName: sink}
            status: {podIP: 127.52.1.1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: upload, namespace: apps}
            spec:
              clusterIP: 127.52.0.2
              selector: {app: upload}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: upload-v1, namespace: apps, labels: {app: upload}}
            spec: {serviceAccountName: upload}
            status: {podIP: 127.52.1.2}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: source, namespace: apps}
            spec:
              clusterIP: 127.52.0.3
              selector: {app: source}
              ports:
              - {name: tcp, port: 7000}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: source-v1, namespace: apps, labels: {app: source}}
            spec: {serviceAccountName: source}
            status: {podIP: 127.52.1.3}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    EventLoopGroup clientLoop;

    @BeforeAll
    static void start() throws Exception {
        mesh = TestMesh.startWith(tmp, MANIFESTS);
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void loop() {
        clientLoop = EventLoops.newGroup(1, "held-back-client");
    }

    @AfterEach
    void stopLoop() throws Exception {
        clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void aHeldBackTcpTunnelEndsWithItsClientsConnection() throws Exception {
        EchoServer backend = mesh.backend("127.52.1.1", 7000);
        HboneTestClient client = HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"));
        try {
            HboneTestClient.Answer a = client.connect("127.52.0.1:7000", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            AtomicInteger echoed = new AtomicInteger();
            t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    echoed.addAndGet(((ByteBuf) msg).readableBytes());
                    ReferenceCountUtil.release(msg);
                }
            });
            t.writeAndFlush(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII));
            await().atMost(Duration.ofSeconds(10)).until(() -> echoed.get() == 5); // through, both ways

            backend.stopReading();
            long sent = fillUntilHeldBack(t);
            assertThat(sent).as("bytes the client got into the tunnel before it was held back").isPositive();
            assertThat(value("istio_tcp_connections_closed_total", "sink")).as("held back, still open").isLessThanOrEqualTo(0);
            assertThat(backend.openConnections()).isEqualTo(1);
        } finally {
            client.close(); // the client's HBONE connection goes away with the tunnel held back
        }
        // the tunnel ends with it: recorded closed, and its outbound side reset through to the backend
        await().atMost(Duration.ofSeconds(10)).until(() -> value("istio_tcp_connections_closed_total", "sink") == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> backend.openConnections() == 0);
    }

    @Test
    void aHeldBackUploadEndsWithItsClientsConnection() throws Exception {
        double before = Math.max(0, value("istio_requests_total", "upload"));
        HboneTestClient client = HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"));
        try {
            heldBackUpload(client);
            assertThat(Math.max(0, value("istio_requests_total", "upload"))).as("in flight, not recorded yet").isEqualTo(before);
        } finally {
            client.close();
        }
        // the exchange ends with the connection: one request, recorded as the client's disconnect
        await().atMost(Duration.ofSeconds(10)).until(() -> value("istio_requests_total", "upload") == before + 1);
        assertThat(series("istio_requests_total", "upload")).allSatisfy(l -> assertThat(l).contains("response_flags=\"DC\""));
    }

    @Test
    void aHeldBackUploadEndsWhenTheClientResetsItsTunnel() throws Exception {
        double before = Math.max(0, value("istio_requests_total", "upload"));
        try (HboneTestClient client = HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "resetter"))) {
            Channel t = heldBackUpload(client);
            t.close().sync(); // RST_STREAM CANCEL; the HBONE connection stays
            // the exchange ends with the tunnel: recorded as the client's disconnect
            await().atMost(Duration.ofSeconds(10)).until(() -> value("istio_requests_total", "upload") == before + 1);
            assertThat(series("istio_requests_total", "upload")).allSatisfy(l -> assertThat(l).contains("response_flags=\"DC\""));
        }
    }

    /**
     * A chunked upload with no end toward the upload backend, which reads none of it: the tunnel,
     * filled until the waypoint holds it back.
     */
    private static Channel heldBackUpload(HboneTestClient client) throws Exception {
        mesh.backend("127.52.1.2", 8080).stopReading();
        HboneTestClient.Answer a = client.connect("127.52.0.2:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(200);
        Channel t = a.tunnel();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
            }
        });
        t.writeAndFlush(Unpooled.copiedBuffer("POST /upload HTTP/1.1\r\nHost: upload\r\nTransfer-Encoding: chunked\r\n\r\n",
                StandardCharsets.US_ASCII));
        assertThat(fillUntilHeldBack(t, true)).as("bytes the client got into the tunnel before it was held back").isPositive();
        return t;
    }

    @Test
    void aHeldBackDownloadEndsWithTheDestinationsConnection() throws Exception {
        HboneTestClient client = HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "reader"));
        try {
            double closedBefore = Math.max(0, value("istio_tcp_connections_closed_total", "source"));
            HboneTestClient.Answer a = client.connect("127.52.0.3:7000", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            java.util.concurrent.CompletableFuture<Object> reset = new java.util.concurrent.CompletableFuture<>();
            t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof io.netty.handler.codec.http2.Http2ResetFrame r) {
                        reset.complete(r.errorCode());
                    }
                    ReferenceCountUtil.release(evt);
                }
            });
            // a download the client never reads: the waypoint holds the tunnel's outbound stream back,
            // with the frames the destination sent waiting in it
            t.config().setAutoRead(false);
            EchoServer backend = mesh.backend("127.52.1.3", 7000);
            long start = backend.generatedBytes();
            t.writeAndFlush(Unpooled.copiedBuffer("GET /bytes/" + (1L << 30) + " HTTP/1.1\r\nHost: source\r\n\r\n",
                    StandardCharsets.US_ASCII));
            long[] last = {-1};
            int[] flat = {0};
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(() -> {
                long now = backend.generatedBytes() - start;
                flat[0] = now > 0 && now == last[0] ? flat[0] + 1 : 0;
                last[0] = now;
                return flat[0] >= 8; // production stopped: every window and buffer on the way is full
            });

            // the destination's ztunnel drops its connections: the tunnel's outbound side is gone, so
            // the client's side is reset and the tunnel recorded closed
            mesh.ztunnels().cut(java.net.InetAddress.getByName("127.52.1.3"));
            assertThat(reset.get(10, TimeUnit.SECONDS)).isNotNull();
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    value("istio_tcp_connections_closed_total", "source") == closedBefore + 1);
            t.close();
        } finally {
            client.close();
        }
    }

    private static long fillUntilHeldBack(Channel t) throws InterruptedException {
        return fillUntilHeldBack(t, false);
    }

    /**
     * Writes 16 KiB pieces (HTTP/1.1 chunks when {@code chunked}) while the tunnel takes them, until
     * it has taken nothing for 2 s: windows and socket buffers from here to the backend are full.
     */
    private static long fillUntilHeldBack(Channel t, boolean chunked) throws InterruptedException {
        byte[] piece = new byte[16 << 10];
        java.util.Arrays.fill(piece, (byte) 'x');
        long sent = 0;
        long lastProgress = System.nanoTime();
        while (System.nanoTime() - lastProgress < TimeUnit.SECONDS.toNanos(2)) {
            if (!t.isActive()) {
                throw new AssertionError("tunnel closed while filling it");
            }
            if (t.isWritable()) {
                ByteBuf buf = Unpooled.buffer(piece.length + 16);
                if (chunked) {
                    buf.writeCharSequence(Integer.toHexString(piece.length) + "\r\n", StandardCharsets.US_ASCII);
                }
                buf.writeBytes(piece);
                if (chunked) {
                    buf.writeCharSequence("\r\n", StandardCharsets.US_ASCII);
                }
                t.writeAndFlush(buf);
                sent += piece.length;
                lastProgress = System.nanoTime();
            } else {
                Thread.sleep(20);
            }
        }
        return sent;
    }

    static String scrape() throws Exception {
        return mesh.prometheus();
    }

    static List<String> series(String metric, String service) throws Exception {
        return scrape().lines().filter(l -> l.startsWith(metric + "{"))
                .filter(l -> l.contains("destination_service_name=\"" + service + "\"")).toList();
    }

    /** The sum of {@code service}'s series of {@code metric}, or -1 when it has none. */
    static double value(String metric, String service) throws Exception {
        List<String> lines = series(metric, service);
        return lines.isEmpty() ? -1 : lines.stream().mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
