package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.transport.EventLoops;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One TCP tunnel carrying a bulk download through the waypoint, HBONE in and HBONE out (the path
 * of {@code benchmarks/run-e2e.sh}'s {@code bulk} kind): every byte arrives, in order, and a
 * client that stops reading holds the backend back after a bounded amount instead of the waypoint
 * buffering it (the HBONE connections' TLS record batching and write-buffer water marks must not
 * loosen that). The body is the echo backend's {@code GET /bytes/N} (a b c … z a b …), requested
 * through the tunnel on a port declared TCP, so the waypoint relays it without parsing it.
 * Loopback range 127.34.x.x.
 */
class BulkTunnelEndToEndTest {
    private static final String VIP = "127.34.0.1:7000";
    private static final String POD = "127.34.1.1";

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    /** The client on an event loop of its own: the fixtures' loops also run the backend and the ztunnel. */
    EventLoopGroup clientLoop;
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        Path config = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = BulkTunnelEndToEndTest.class.getResourceAsStream("/e2e/bulk-mesh.yaml")) {
            Files.copy(in, config.resolve("mesh.yaml"));
        }
        mesh = TestMesh.start(config, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        clientLoop = EventLoops.newGroup(1, "bulk-client");
        client = HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() throws Exception {
        client.close();
        clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @Test
    void aBulkDownloadArrivesWholeAndInOrder() throws Exception {
        long size = 64L << 20;
        HboneTestClient.Answer a = client.connect(VIP, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(200);
        Channel t = a.tunnel();
        BodyCheck check = new BodyCheck();
        t.pipeline().addLast(check);
        t.writeAndFlush(Unpooled.copiedBuffer("GET /bytes/" + size + " HTTP/1.1\r\nHost: bulk\r\n\r\n",
                StandardCharsets.US_ASCII));
        await().atMost(Duration.ofSeconds(60)).until(() -> check.body.get() >= size || check.error.get() != null);
        assertThat(check.error.get()).as("first wrong byte").isNull();
        assertThat(check.head.toString()).startsWith("HTTP/1.1 200").contains("content-length: " + size);
        assertThat(check.body.get()).isEqualTo(size);
        t.close();
    }

    @Test
    void aClientThatStopsReadingHoldsTheBackendBack() throws Exception {
        HboneTestClient.Answer a = client.connect(VIP, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(200);
        Channel t = a.tunnel();
        SlowReader.holdsTheBackendBack(t, mesh.backend(POD, 7000), "bulk");
    }

    @Test
    void clientsThatNeverReadDoNotStallOtherClientsOfTheSamePod() throws Exception {
        // one client opens tunnels to the pod, asks for bulk downloads and never reads them
        EventLoopGroup hostileLoop = EventLoops.newGroup(1, "bulk-hostile");
        List<HboneTestClient> good = new java.util.ArrayList<>();
        try (HboneTestClient hostile = HboneTestClient.connect(hostileLoop, mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "hostile"))) {
            List<Channel> stuck = new java.util.ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Channel t = hostile.connect(VIP, Map.of()).get(10, TimeUnit.SECONDS).tunnel();
                t.config().setOption(io.netty.channel.ChannelOption.AUTO_READ, false);
                t.writeAndFlush(Unpooled.copiedBuffer("GET /bytes/" + (256L << 20) + " HTTP/1.1\r\nHost: bulk\r\n\r\n",
                        StandardCharsets.US_ASCII));
                stuck.add(t);
            }
            Thread.sleep(3000); // the stuck downloads fill every window they can

            // other clients of the same pod, on connections of their own (one lands on the hostile one's
            // event loop, whose pooled upstream connections it would share), are still served, whole
            for (int c = 0; c < 3; c++) {
                good.add(HboneTestClient.connect(clientLoop, mesh.waypoint().hboneAddress(), mesh.workload("apps", "good")));
            }
            for (HboneTestClient g : good) {
                long size = 1L << 20;
                Channel t = g.connect(VIP, Map.of()).get(10, TimeUnit.SECONDS).tunnel();
                BodyCheck check = new BodyCheck();
                t.pipeline().addLast(check);
                t.writeAndFlush(Unpooled.copiedBuffer("GET /bytes/" + size + " HTTP/1.1\r\nHost: bulk\r\n\r\n",
                        StandardCharsets.US_ASCII));
                await().atMost(Duration.ofSeconds(20)).until(() -> check.body.get() >= size || check.error.get() != null);
                assertThat(check.error.get()).isNull();
                t.close().sync();
            }
            for (Channel t : stuck) {
                t.close().sync();
            }
        } finally {
            for (HboneTestClient g : good) {
                g.close();
            }
            hostileLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Reads the response head, then checks every body byte against the backend's pattern. */
    private static final class BodyCheck extends ChannelInboundHandlerAdapter {
        final StringBuilder head = new StringBuilder();
        final AtomicLong body = new AtomicLong();
        final AtomicReference<String> error = new AtomicReference<>();
        private boolean inBody;
        private byte[] scratch = new byte[64 << 10];

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                int n = buf.readableBytes();
                if (scratch.length < n) {
                    scratch = new byte[n];
                }
                // one bulk read per buffer: under paranoid leak detection every access records a trace
                buf.readBytes(scratch, 0, n);
                int i = 0;
                while (!inBody && i < n) {
                    head.append((char) scratch[i++]);
                    inBody = head.length() >= 4 && head.lastIndexOf("\r\n\r\n") == head.length() - 4;
                }
                long at = body.get();
                for (; i < n && error.get() == null; i++, at++) {
                    byte want = (byte) ('a' + (at % (64 << 10)) % 26);
                    if (scratch[i] != want) {
                        error.set("body byte " + at + ": " + scratch[i] + " (expected " + want + ")");
                    }
                }
                body.set(at);
            } finally {
                buf.release();
            }
        }
    }
}
