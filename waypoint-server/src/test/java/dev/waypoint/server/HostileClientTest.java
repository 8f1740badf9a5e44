package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that misbehave on purpose. After each, the waypoint must still serve a well-behaved
 * client. Loopback range 127.22.x.x.
 */
class HostileClientTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void start() throws Exception {
        Path config = Files.createDirectories(tmp.resolve("m"));
        try (InputStream in = HostileClientTest.class.getResourceAsStream("/e2e/hostile-mesh.yaml")) {
            Files.copy(in, config.resolve("mesh.yaml"));
        }
        ListenerSettings d = ListenerSettings.defaults(new InetSocketAddress("127.0.0.1", 0));
        ListenerSettings short1s = new ListenerSettings(d.bind(), d.maxConcurrentStreams(), d.streamWindow(),
                d.connectionWindow(), d.maxFrameSize(), d.maxHeaderListSize(), Duration.ofSeconds(1),
                d.connectionIdleTimeout(), d.tunnelIdleTimeout(), d.sniffTimeout(), d.maxInitialLineLength(),
                d.maxHeaderSize(), d.drainTimeout());
        TestMesh.Options e = TestMesh.Options.ephemeral();
        mesh = TestMesh.start(config, tmp, new NamespacedName("istio-system", "waypoint"),
                new TestMesh.Options(e.listen(), e.health(), e.admin(), e.stats(), 0, 2, short1s));
    }

    @AfterAll
    static void stop() {
        mesh.close();
    }

    /** A well-behaved client still gets answers. */
    private static void stillServes() throws Exception {
        try (HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            Channel t = c.connect("127.22.0.1:80", Map.of()).get(10, TimeUnit.SECONDS).tunnel();
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            io.netty.handler.codec.http.FullHttpRequest ok = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ok");
            ok.headers().set(io.netty.handler.codec.http.HttpHeaderNames.HOST, "web.apps");
            t.writeAndFlush(ok);
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).isEqualTo(200);
            r.release();
        }
    }

    @Test
    void socketsThatNeverHandshakeAreClosed() throws Exception {
        try (Socket s = new Socket()) {
            s.connect(mesh.waypoint().hboneAddress());
            s.setSoTimeout(5000);
            long t0 = System.nanoTime();
            // send nothing: the 1 s handshake timeout must close us (read returns -1 or resets)
            int read;
            try {
                read = s.getInputStream().read();
            } catch (java.net.SocketException reset) {
                read = -1;
            }
            assertThat(read).isEqualTo(-1);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(4000);
        }
        stillServes();
    }

    @Test
    void plaintextAndGarbageAreRefusedAtTheTlsLayer() throws Exception {
        for (String junk : new String[] {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                "\u0000\u0001\u0002garbage"}) {
            try (Socket s = new Socket()) {
                s.connect(mesh.waypoint().hboneAddress());
                s.setSoTimeout(5000);
                OutputStream out = s.getOutputStream();
                out.write(junk.getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                byte[] buf = new byte[4096];
                int total = 0;
                try {
                    for (int n; (n = s.getInputStream().read(buf)) > 0; ) {
                        total += n;
                    }
                } catch (java.net.SocketException reset) {
                    // closed hard: fine
                }
                assertThat(new String(buf, 0, Math.min(total, buf.length), StandardCharsets.ISO_8859_1))
                        .doesNotContain("HTTP/");
            }
        }
        stillServes();
    }

    @Test
    void rapidResetFloodEndsThatConnectionOnly() throws Exception {
        HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "attacker"));
        Channel conn = c.channel();
        // CVE-2023-44487: open streams and reset them at once, many times
        for (int i = 0; i < 2000 && conn.isActive(); i++) {
            io.netty.util.concurrent.Future<Http2StreamChannel> f = new Http2StreamChannelBootstrap(conn).open().await();
            if (!f.isSuccess()) {
                break; // the waypoint already closed the connection
            }
            Http2StreamChannel s = f.getNow();
            s.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT").authority("127.22.0.1:80")));
            s.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> !conn.isActive());
        c.close();
        stillServes();
    }

    @Test
    void oversizedConnectHeadersAreRefused() throws Exception {
        try (HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            // above the advertised 64 KiB SETTINGS_MAX_HEADER_LIST_SIZE, below Netty's 1.25x connection-error line
            String big = "x".repeat(70_000);
            Throwable failure = null;
            HboneTestClient.Answer a = null;
            try {
                a = c.connect("127.22.0.1:80", Map.of("x-big", big)).get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                failure = e.getCause(); // stream reset or connection closed: both refuse it
            }
            assertThat(failure).isNull();
            assertThat(a.status()).isEqualTo(431);
            assertThat(a.tunnel()).isNull();
        }
        stillServes();
    }

    @Test
    void manyTunnelsOnOneConnectionAreCappedByMaxConcurrentStreams() throws Exception {
        try (HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            int ok = 0;
            int refused = 0;
            java.util.List<Channel> open = new java.util.ArrayList<>();
            for (int i = 0; i < 110; i++) {
                try {
                    HboneTestClient.Answer a = c.connect("127.22.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
                    if (a.status() == 200) {
                        ok++;
                        open.add(a.tunnel());
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    refused++; // beyond SETTINGS_MAX_CONCURRENT_STREAMS: refused by the peer
                }
            }
            assertThat(ok).isEqualTo(100);
            assertThat(refused).isEqualTo(10);
            open.forEach(Channel::close);
        }
        stillServes();
    }
}
