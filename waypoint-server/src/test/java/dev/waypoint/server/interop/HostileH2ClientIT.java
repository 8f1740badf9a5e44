package dev.waypoint.server.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.MeshFixtures;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile HTTP/2 peers against the packaged jar, as a real process: {@code hostile_h2.py}
 * (python3-h2's framing layer, Debian's) writes the raw frames a well-behaved stack refuses to
 * send (RFC 9113 floods, CONTINUATION without END_HEADERS, WINDOW_UPDATE 0, windows of 0). After
 * each, the waypoint must have ended or bounded the attack the way RFC 9113 and Netty's limits say,
 * keep serving a well-behaved client, and keep its log readable: a peer's protocol errors are not
 * worth a WARN with a stack trace per stream. Backends and destination-ztunnel stand-ins run in this
 * JVM ({@link MeshFixtures}). Loopback range 127.39.x.x.
 */
class HostileH2ClientIT {
    private static final NamespacedName GATEWAY = new NamespacedName("istio-system", "waypoint");

    @TempDir
    static Path tmp;
    static MeshFixtures mesh;
    static Process waypoint;
    static Path log;
    static Path python;
    static Path clientCerts;
    static InetSocketAddress hbone;
    static Path config;
    static Path jar;

    @BeforeAll
    static void start() throws Exception {
        python = Interop.pythonWithH2();
        Path jar = Path.of(System.getProperty("waypoint.jar", "target/waypoint.jar"));
        assertThat(jar).exists();
        Path config = Files.createDirectories(tmp.resolve("m"));
        try (InputStream in = HostileH2ClientIT.class.getResourceAsStream("/e2e/hostile-more-mesh.yaml")) {
            Files.write(config.resolve("mesh.yaml"), in.readAllBytes());
        }
        mesh = MeshFixtures.start(load(config), tmp, GATEWAY, 0);
        HostileH2ClientIT.config = config;
        HostileH2ClientIT.jar = jar;
        clientCerts = tmp.resolve("client-certs");
        mesh.ca().issue(new SpiffeId("cluster.local", "apps", "client")).writeIstioLayout(clientCerts);
        Launched w = launch(jar, config, "waypoint");
        waypoint = w.process();
        hbone = new InetSocketAddress("127.0.0.1", w.port());
        log = w.log();
    }

    record Launched(Process process, int port, Path log) {}

    /** {@code waypoint run} from the packaged jar, HBONE on 127.0.0.1; returns once it is ready. */
    static Launched launch(Path jar, Path config, String name) throws Exception {
        int port = Interop.freePort("127.0.0.1");
        int health = Interop.freePort("127.0.0.1");
        Path out = tmp.resolve(name + ".log");
        Process p = new ProcessBuilder(List.of(ProcessHandle.current().info().command().orElse("java"), "-jar",
                jar.toString(), "run", "--config-dir", config.toString(), "--cert-dir", mesh.certDir().toString(),
                "--gateway", GATEWAY.namespace() + "/" + GATEWAY.name(), "--listen", "127.0.0.1:" + port,
                "--health", "127.0.0.1:" + health, "--stats", "127.0.0.1:" + Interop.freePort("127.0.0.1"),
                "--admin", "127.0.0.1:" + Interop.freePort("127.0.0.1"), "--hbone-port", Integer.toString(mesh.hbonePort()),
                "--workers", "2"))
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        HttpClient http = HttpClient.newHttpClient();
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> http.send(
                java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + health + "/healthz/ready")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
        return new Launched(p, port, out);
    }

    private static ResourceSet load(Path config) {
        ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor();
        try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(config), GATEWAY, "cluster.local",
                List.of(), exec)) {
            p.start();
            return p.current().resources();
        } finally {
            exec.shutdownNow();
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (waypoint != null) {
            waypoint.destroy();
            if (!waypoint.waitFor(30, TimeUnit.SECONDS)) {
                waypoint.destroyForcibly();
            }
        }
        if (mesh != null) {
            mesh.close();
        }
        if (log != null && Files.exists(log)) {
            // kept for reading after the run (the temp dir goes)
            Files.copy(log, Path.of("target", "HostileH2ClientIT-waypoint.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Runs one attack to its end; returns its JSON report. */
    private static JsonNode attack(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(python.toString(), Interop.script("hostile_h2.py").toString(),
                "--server", "127.0.0.1:" + hbone.getPort(), "--certs", clientCerts.toString()));
        cmd.addAll(List.of(args));
        try (ExternalProcess p = ExternalProcess.start("hostile_h2-" + args[args.length - 1], cmd, tmp.resolve("logs"))) {
            int exit = p.awaitExit(Duration.ofSeconds(60));
            assertThat(exit).as("hostile_h2.py exit status\n%s", p.describe()).isZero();
            List<JsonNode> out = Interop.jsonLines(p.lines());
            assertThat(out).as(p.describe()).hasSize(1);
            return out.get(0);
        }
    }

    /** A well-behaved client still gets an answer, through both web pods. */
    private static void stillServes() throws Exception {
        try (HboneTestClient c = HboneTestClient.connect(mesh.group(), hbone, mesh.workload("apps", "client"))) {
            for (String pod : List.of("127.39.1.1:8080", "127.39.1.2:8080", "127.39.0.1:80")) {
                InnerHttp.Result r = InnerHttp.exchange(c, pod, Map.of(), InnerHttp.get("/ok", "web"), Duration.ofSeconds(10));
                assertThat(r.connectStatus()).as(pod).isEqualTo(200);
                assertThat(r.status()).as(pod).isEqualTo(200);
            }
        }
    }

    private static long logLines() throws Exception {
        try (var lines = Files.lines(log)) {
            return lines.count();
        }
    }

    /** The attack's effect on the log: the lines it added. */
    private static List<String> logSince(long before) throws Exception {
        try (var lines = Files.lines(log)) {
            return lines.skip(before).toList();
        }
    }

    @Test
    void rapidResetFloodEndsTheConnectionWithEnhanceYourCalm() throws Exception {
        JsonNode r = attack("--count", "5000", "--seconds", "10", "rst-flood");
        // Netty's CVE-2023-44487 limit: 200 RST_STREAM per 30 s, then GOAWAY ENHANCE_YOUR_CALM (0xb).
        // The GOAWAY itself may be lost to the TCP reset of a socket closed with unread bytes.
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isTrue();
        assertThat(r.path("seconds").asDouble()).as(r.toString()).isLessThan(5);
        if (!r.path("goaway").isNull()) {
            assertThat(r.path("goaway").path("code").asInt()).as(r.toString()).isEqualTo(0xb);
        }
        stillServes();
    }

    /**
     * "MadeYouReset" (CVE-2025-55163): the client makes the server reset streams (WINDOW_UPDATE of 0
     * on a stream is a stream error, RFC 9113 §6.9), which the RST limit must count too. Each of
     * those stream errors is the client's fault, not the waypoint's: one line at most, not a WARN
     * with a stack trace per stream (thousands of lines a second otherwise).
     */
    @Test
    void streamErrorsThePeerCausesEndTheConnectionAndAreNotLoggedAsWarningsPerStream() throws Exception {
        long before = logLines();
        JsonNode r = attack("--count", "5000", "--seconds", "10", "window-update-zero");
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isTrue();
        assertThat(r.path("seconds").asDouble()).as(r.toString()).isLessThan(5);
        stillServes();
        Thread.sleep(500); // the log of the last streams
        List<String> added = logSince(before);
        assertThat(added.stream().filter(l -> l.contains(" WARN ")).count()).as(String.join("\n", added.subList(0,
                Math.min(60, added.size())))).isLessThanOrEqualTo(1);
        assertThat(added.size()).as("log lines added by one hostile connection").isLessThan(20);
    }

    /**
     * Found by a hostile-client audit: a client whose tunnel the waypoint refuses (400) while its upload is
     * in flight sends on the closed stream; each DATA frame drew an RST_STREAM(STREAM_CLOSED), which
     * Netty's limit of 200 written per 30 s counted, so the whole connection (every tunnel of that
     * identity) got GOAWAY ENHANCE_YOUR_CALM. Those frames are ignorable (RFC 9113 §5.1): the connection
     * stays, and a new tunnel on it is answered. The stream errors the peer causes on live streams are what
     * is counted (the test above).
     */
    @Test
    void anUploadStillInFlightOnARefusedTunnelDoesNotEndTheConnection() throws Exception {
        JsonNode r = attack("--count", "250", "--seconds", "10", "refused-upload");
        assertThat(r.path("goaway").isNull()).as(r.toString()).isTrue();
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isFalse();
        assertThat(r.path("statuses").path("200").asInt()).as("both CONNECTs answered: %s", r).isEqualTo(2);
        assertThat(r.path("inner").asText()).as(r.toString()).startsWith("HTTP/1.1 400");
        stillServes();
    }

    /**
     * Found by a hostile-client audit: a CONNECT over SETTINGS_MAX_CONCURRENT_STREAMS was refused by Netty
     * without creating the stream, so the DATA right behind it named a stream that "does not exist": GOAWAY
     * PROTOCOL_ERROR, and the 100 open tunnels died. Refused by ConcurrentStreams, the stream exists and
     * what follows it is ignored: the connection stays.
     */
    @Test
    void dataBehindARefusedTunnelDoesNotEndTheConnection() throws Exception {
        JsonNode r = attack("--count", "100", "--seconds", "10", "over-limit-data");
        assertThat(r.path("statuses").path("200").asInt()).as(r.toString()).isEqualTo(100);
        assertThat(r.path("resets").path("7").asInt()).as("REFUSED_STREAM: %s", r).isEqualTo(1);
        assertThat(r.path("goaway").isNull()).as(r.toString()).isTrue();
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isFalse();
        stillServes();
    }

    @Test
    void emptyDataFramesEndTheConnection() throws Exception {
        JsonNode r = attack("--count", "1000", "--seconds", "10", "empty-data");
        // Netty's decoderEnforceMaxConsecutiveEmptyDataFrames: 2, then GOAWAY ENHANCE_YOUR_CALM
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isTrue();
        if (!r.path("goaway").isNull()) {
            assertThat(r.path("goaway").path("code").asInt()).as(r.toString()).isEqualTo(0xb);
        }
        stillServes();
    }

    @Test
    void continuationWithoutEndHeadersIsCutOff() throws Exception {
        // header bytes that never end: closed once the block passes 1.25 x SETTINGS_MAX_HEADER_LIST_SIZE
        JsonNode full = attack("--count", "100000", "--size", "16000", "--seconds", "10", "continuation");
        assertThat(full.path("closed").asBoolean()).as(full.toString()).isTrue();
        assertThat(full.path("sent").asInt()).as(full.toString()).isLessThan(1000);
        // empty CONTINUATION frames add no bytes: Netty counts small consecutive CONTINUATIONs instead
        JsonNode empty = attack("--count", "2000000", "--seconds", "10", "empty-continuation");
        assertThat(empty.path("closed").asBoolean()).as(empty.toString()).isTrue();
        assertThat(empty.path("seconds").asDouble()).as(empty.toString()).isLessThan(5);
        stillServes();
    }

    @Test
    void oversizedConnectHeaderBlocks() throws Exception {
        // above SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB), below Netty's 1.25 x: 431 on that stream only
        JsonNode big = attack("--size", "70000", "--seconds", "3", "big-headers");
        assertThat(big.path("statuses").path("431").asInt()).as(big.toString()).isEqualTo(1);
        assertThat(big.path("closed").asBoolean()).as(big.toString()).isFalse();
        // 1 MiB: a connection error (GOAWAY PROTOCOL_ERROR), never decoded
        JsonNode huge = attack("--size", "1048576", "--seconds", "5", "big-headers");
        assertThat(huge.path("closed").asBoolean()).as(huge.toString()).isTrue();
        assertThat(huge.path("statuses").size()).as(huge.toString()).isZero();
        stillServes();
    }

    @Test
    void settingsAndPingFloodsFromAClientThatNeverReadsAreCutOff() throws Exception {
        // the acknowledgements pile up unread: Netty's limit of 10000 queued control frames closes the connection
        for (String flood : List.of("settings-flood", "ping-flood")) {
            JsonNode r = attack("--count", "200000", "--seconds", "10", flood);
            assertThat(r.path("closed").asBoolean()).as(r.toString()).isTrue();
            assertThat(r.path("seconds").asDouble()).as(r.toString()).isLessThan(8);
        }
        stillServes();
    }

    @Test
    void priorityAndWindowUpdateFloodsEndTheConnection() throws Exception {
        // ControlFrameFloods: Envoy's limits (100 PRIORITY per stream opened; 5 + 2 x (streams + 10 x DATA
        // frames sent) WINDOW_UPDATEs), then GOAWAY ENHANCE_YOUR_CALM; a connection error, so no other client's
        for (String flood : List.of("priority-flood", "window-update-flood")) {
            JsonNode r = attack("--count", "100000", "--seconds", "10", flood);
            assertThat(r.path("closed").asBoolean()).as(r.toString()).isTrue();
            assertThat(r.path("goaway").path("code").asInt()).as(r.toString()).isEqualTo(0xb);
            assertThat(r.path("seconds").asDouble()).as(r.toString()).isLessThan(8);
        }
        stillServes();
    }

    @Test
    void aClientWithWindowsOfZeroHoldsOnlyItsOwnTunnels() throws Exception {
        // 100 tunnels each asking for 1 GiB with SETTINGS_INITIAL_WINDOW_SIZE 0 and no WINDOW_UPDATE ever:
        // nothing can move; meanwhile a well-behaved client to the same pods is served
        List<String> cmd = List.of(python.toString(), Interop.script("hostile_h2.py").toString(),
                "--server", "127.0.0.1:" + hbone.getPort(), "--certs", clientCerts.toString(),
                "--count", "100", "--authority", "127.39.1.1:8080", "--seconds", "8", "window-zero");
        try (ExternalProcess p = ExternalProcess.start("hostile_h2-window-zero", cmd, tmp.resolve("logs"))) {
            Thread.sleep(3000);
            stillServes();
            assertThat(p.awaitExit(Duration.ofSeconds(30))).as(p.describe()).isZero();
            JsonNode r = Interop.jsonLines(p.lines()).get(0);
            assertThat(r.path("statuses").path("200").asInt()).as(r.toString()).isEqualTo(100);
            assertThat(r.path("closed").asBoolean()).as(r.toString()).isFalse();
            assertThat(r.path("inner").asText()).as(r.toString()).isEmpty();
        }
        stillServes();
    }

    /**
     * Malformed CONNECTs (RFC 9113 §8.5: classic CONNECT has :method and :authority only; §8.2:
     * lowercase names, no connection-specific fields, no CR/LF in values). Refused with a 400 and a
     * reason where the waypoint decides, or a stream reset PROTOCOL_ERROR where Netty's header
     * validation does (§8.1.1: malformed is a stream error); never a tunnel, never the connection.
     * Each row: header fields in order, then the status (or "reset:1") and the reason.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', textBlock = """
            :method=CONNECT                                                         | 400     | bad_authority
            :method=CONNECT,:authority=127.39.0.1:80,:scheme=https,:path=/          | 400     | not_connect
            :method=CONNECT,:protocol=websocket,:authority=127.39.0.1:80,:scheme=https,:path=/ | 400 | not_connect
            :authority=127.39.0.1:80                                                | 400     | not_connect
            :method=GET,:authority=127.39.0.1:80,:scheme=https,:path=/              | 400     | not_connect
            :method=CONNECT,:authority=user@127.39.0.1:80                           | 400     | bad_authority
            :method=CONNECT,:authority=127.39.0.1                                   | 400     | bad_authority
            :method=CONNECT,:authority=127.39.0.1:0                                 | 400     | bad_authority
            :method=CONNECT,:authority=127.39.0.1:99999                             | 400     | bad_authority
            :method=CONNECT,:authority=[::1]:80                                     | 400     | target_not_bound
            :method=CONNECT,:authority=127.39.0.9:80                                | 400     | target_not_bound
            :method=CONNECT,:authority=127.39.0.6:80                                | 400     | target_not_bound
            :method=CONNECT,:authority=127.39.0.1:80,X-Upper=1                      | reset:1 |
            :method=CONNECT,:authority=127.39.0.1:80,connection=keep-alive          | reset:1 |
            :method=CONNECT,:authority=127.39.0.1:80,:authority=127.39.0.2:9090     | reset:1 |
            :method=CONNECT,:authority=127.39.0.1:80,x-crlf=a<CRLF>x: y             | reset:1 |
            :method=CONNECT,:authority=127.39.0.1:80,te=trailers                    | 200     |
            """)
    void malformedConnectsAreRefusedOnTheirStreamOnly(String fields, String expected, String reason) throws Exception {
        List<String> args = new ArrayList<>();
        for (String h : fields.split(",")) {
            args.add("--header");
            args.add(h.replace("<CRLF>", "\r\n"));
        }
        args.addAll(List.of("--seconds", "3", "headers"));
        JsonNode r = attack(args.toArray(String[]::new));
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isFalse();
        assertThat(r.path("goaway").isNull()).as(r.toString()).isTrue();
        if (expected.startsWith("reset:")) {
            assertThat(r.path("resets").path(expected.substring(6)).asInt()).as(r.toString()).isEqualTo(1);
            assertThat(r.path("statuses").size()).as(r.toString()).isZero();
        } else {
            assertThat(r.path("statuses").path(expected).asInt()).as(r.toString()).isEqualTo(1);
            if (reason != null) {
                assertThat(r.path("inner").asText()).as(r.toString()).startsWith(reason + ":");
            }
        }
    }

    /**
     * Found by a hostile-client audit: Netty refuses a malformed CONNECT's header block before the stream
     * exists, so the DATA right behind it named a stream that "does not exist" and GOAWAY(PROTOCOL_ERROR)
     * ended every tunnel of the connection. The malformed request is its stream's error only (RFC 9113
     * §8.1.1); what follows it is ignored (§5.1): the open tunnel and a new one are answered.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"X-Upper=1", "connection=keep-alive", "te=gzip"})
    void dataBehindAMalformedConnectDoesNotEndTheConnection(String field) throws Exception {
        JsonNode r = attack("--header", ":method=CONNECT", "--header", ":authority=127.39.0.1:80", "--header", field,
                "--seconds", "6", "headers-with-data");
        assertThat(r.path("goaway").isNull()).as(r.toString()).isTrue();
        assertThat(r.path("closed").asBoolean()).as(r.toString()).isFalse();
        assertThat(r.path("resets").path("1").asInt()).as("PROTOCOL_ERROR on the malformed stream: %s", r).isEqualTo(1);
        assertThat(r.path("statuses").path("200").asInt()).as("both good tunnels answered: %s", r).isEqualTo(2);
        stillServes();
    }

    /**
     * SIGTERM while 100 tunnels have requests in flight whose responses cannot move (windows of 0,
     * never a WINDOW_UPDATE) and a well-behaved request is half sent: the well-behaved request
     * completes, and the stuck ones do not hold the process past the drain timeout (20 s, then
     * what is left is closed): it exits on its own.
     */
    @Test
    void sigtermWithStuckTunnelsStillExitsAfterTheDrainTimeout() throws Exception {
        Launched w = launch(jar, config, "sigterm");
        List<String> cmd = List.of(python.toString(), Interop.script("hostile_h2.py").toString(),
                "--server", "127.0.0.1:" + w.port(), "--certs", clientCerts.toString(),
                "--count", "100", "--authority", "127.39.1.1:8080", "--seconds", "60", "window-zero");
        try (ExternalProcess attacker = ExternalProcess.start("hostile_h2-sigterm", cmd, tmp.resolve("logs"));
             HboneTestClient c = HboneTestClient.connect(mesh.group(), new InetSocketAddress("127.0.0.1", w.port()),
                     mesh.workload("apps", "client"))) {
            Thread.sleep(3000); // the 100 tunnels are open and stuck
            HboneTestClient.Answer a = c.connect("127.39.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            io.netty.channel.Channel t = a.tunnel();
            java.util.concurrent.CompletableFuture<String> answer = new java.util.concurrent.CompletableFuture<>();
            StringBuilder got = new StringBuilder();
            t.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                    io.netty.buffer.ByteBuf b = (io.netty.buffer.ByteBuf) msg;
                    got.append(b.toString(java.nio.charset.StandardCharsets.ISO_8859_1));
                    b.release();
                    if (got.indexOf("\r\n0\r\n\r\n") >= 0) { // the echo answers chunked
                        answer.complete(got.toString());
                    }
                }
            });
            t.writeAndFlush(io.netty.buffer.Unpooled.copiedBuffer("POST /upload HTTP/1.1\r\nHost: web\r\n"
                    + "Content-Length: 12\r\n\r\nfirst;", java.nio.charset.StandardCharsets.ISO_8859_1));
            Thread.sleep(300);
            long t0 = System.nanoTime();
            w.process().destroy(); // SIGTERM
            Thread.sleep(500);
            t.writeAndFlush(io.netty.buffer.Unpooled.copiedBuffer("second", java.nio.charset.StandardCharsets.ISO_8859_1));
            try {
                assertThat(answer.get(10, TimeUnit.SECONDS)).startsWith("HTTP/1.1 200").contains("first;", "second");
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("no answer during the drain; got \"" + got + "\", tunnel active " + t.isActive()
                        + "\n" + Files.readString(w.log()), e);
            }
            assertThat(w.process().waitFor(40, TimeUnit.SECONDS)).as("exited after the drain timeout").isTrue();
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
            assertThat(seconds).as("seconds from SIGTERM to exit").isLessThanOrEqualTo(30);
            assertThat(attacker.isAlive() ? "" : attacker.describe()).doesNotContain("Traceback");
        } finally {
            w.process().destroyForcibly();
        }
    }

    /**
     * An h2c connection nested in a tunnel (the gRPC port) gets the same limits as the HBONE
     * connection, and its faults end that tunnel only: the HBONE connection, which a source
     * ztunnel shares between workloads, goes on.
     */
    @Test
    void aHostileInnerHttp2ConnectionEndsOnlyItsTunnel() throws Exception {
        long before = logLines();
        // RST flood inside the tunnel: Netty's limit on the inner codec, the inner connection's GOAWAY
        // ENHANCE_YOUR_CALM reaches the client before the tunnel ends (not a tunnel reset in its place)
        JsonNode rst = attack("--authority", "127.39.0.2:9090", "--count", "5000", "--seconds", "10", "inner-rst-flood");
        assertThat(rst.path("statuses").path("200").asInt()).as(rst.toString()).isEqualTo(1);
        assertThat(rst.path("nested").path("goaway").path("code").asInt()).as(rst.toString()).isEqualTo(11);
        assertThat(rst.path("closed").asBoolean()).as(rst.toString()).isFalse();
        assertThat(rst.path("goaway").isNull()).as(rst.toString()).isTrue();
        // an inner header block above 64 KiB: 431 on that inner stream, the next request on the same inner connection served
        JsonNode big = attack("--authority", "127.39.0.2:9090", "--size", "70000", "--seconds", "10", "inner-big-headers");
        assertThat(big.path("nested").path("statuses").path("431").asInt()).as(big.toString()).isEqualTo(1);
        assertThat(big.path("nested").path("statuses").path("200").asInt()).as(big.toString()).isEqualTo(1);
        // 1 MiB: a connection error of the inner connection: its GOAWAY (PROTOCOL_ERROR, saying why), then the
        // tunnel ends; the HBONE connection stays
        JsonNode huge = attack("--authority", "127.39.0.2:9090", "--size", "1048576", "--seconds", "10", "inner-big-headers");
        assertThat(huge.path("nested").path("goaway").path("code").asInt()).as(huge.toString()).isEqualTo(1);
        assertThat(huge.path("nested").path("goaway").path("debug").asText()).as(huge.toString()).contains("Header size");
        assertThat(huge.path("closed").asBoolean()).as(huge.toString()).isFalse();
        // PRIORITY and WINDOW_UPDATE floods inside the tunnel: Envoy's limits on the inner connection as on the
        // HBONE one (GOAWAY ENHANCE_YOUR_CALM from the inner codec), the HBONE connection goes on
        for (String flood : List.of("inner-priority-flood", "inner-window-update-flood")) {
            JsonNode f = attack("--authority", "127.39.0.2:9090", "--count", "20000", "--seconds", "10", flood);
            assertThat(f.path("nested").path("statuses").path("200").asInt()).as("answered before the flood: " + f).isEqualTo(1);
            assertThat(f.path("nested").path("goaway").path("code").asInt()).as(f.toString()).isEqualTo(11);
            assertThat(f.path("closed").asBoolean()).as(f.toString()).isFalse();
            assertThat(f.path("goaway").isNull()).as(f.toString()).isTrue();
        }
        // 300 inner streams at once: SETTINGS_MAX_CONCURRENT_STREAMS (100) served, the rest REFUSED_STREAM
        JsonNode many = attack("--authority", "127.39.0.2:9090", "--count", "300", "--seconds", "10", "inner-many-streams");
        assertThat(many.path("nested").path("statuses").path("200").asInt()).as(many.toString()).isEqualTo(100);
        assertThat(many.path("nested").path("resets").path("7").asInt()).as(many.toString()).isEqualTo(200);
        stillServes();
        Thread.sleep(500);
        List<String> added = logSince(before);
        // frames the client sent on the tunnel before our reset reached it are ignored (RFC 9113 §5.1):
        // Netty logs each at INFO, one line per frame for as long as the client keeps sending
        assertThat(added).as("frames ignored after a reset are not logged one by one")
                .noneMatch(l -> l.contains("ignoring DATA frame"));
        assertThat(added).noneMatch(l -> l.contains(" WARN "));
    }

    /**
     * h2load (nghttp2-client) with a thousand streams in flight per connection, inside tunnels: a
     * {@link dev.waypoint.testing.SourceZtunnel} stand-in on the Service VIPs wraps each of its
     * connections in a CONNECT, so h2load speaks h2c (prior knowledge) or HTTP/1.1 to the waypoint's
     * inner codec. The inner SETTINGS_MAX_CONCURRENT_STREAMS (100) caps what is in flight; every
     * request is answered, none errs, and a well-behaved client is served meanwhile.
     */
    @Test
    void h2loadWithThousandsOfStreamsInsideTunnels() throws Exception {
        h2load(new String[][] {
                // 20000 requests on one inner h2c connection, up to 1000 concurrent streams asked for
                {"-n", "20000", "-c", "1", "-m", "1000", "http://127.39.0.2:9090/ok"},
                // HTTP/1.1 inside 10 tunnels, 10 pipelined requests each
                {"--h1", "-n", "2000", "-c", "10", "-m", "10", "http://127.39.0.1:80/ok"},
        });
    }

    /**
     * Several tunnels doing h2c at once to one h2c backend share the waypoint's pooled upstream h2c
     * connection, and together want more streams than the backend's SETTINGS_MAX_CONCURRENT_STREAMS
     * (the Netty 4.2 echo server: 100). Those beyond must go to another connection: before, Netty
     * refused their HEADERS locally and about half the requests of {@code -c 2 -m 100} ended 503
     * {@code upstream_reset_before_response_started}.
     */
    @Test
    void h2loadWithSeveralH2cTunnelsAtOnce() throws Exception {
        h2load(new String[][] {
                {"-n", "2000", "-c", "2", "-m", "100", "http://127.39.0.2:9090/ok"},
                {"-n", "10000", "-c", "20", "-m", "100", "http://127.39.0.2:9090/ok"},
        });
    }

    /**
     * openssl s_client (Debian's openssl) at the TLS layer: a client without a certificate, one
     * from another CA, ALPN other than h2, no ALPN, TLS 1.1. None gets an HTTP/2 connection (the
     * server's SETTINGS never arrive); a mesh client with ALPN h2 does.
     */
    @Test
    void tlsClientsThatAreNotMeshHboneClientsAreRefused() throws Exception {
        Path openssl = Interop.program("openssl", "/usr/bin/openssl");
        Path otherCa = tmp.resolve("other-ca-certs");
        if (!Files.exists(otherCa)) {
            dev.waypoint.testing.TestCa.create("cluster.local").issue(new SpiffeId("cluster.local", "apps", "client"))
                    .writeIstioLayout(otherCa);
        }
        String roots = clientCerts.resolve("root-cert.pem").toString();
        String[] mine = {"-cert", clientCerts.resolve("cert-chain.pem").toString(), "-key", clientCerts.resolve("key.pem").toString()};
        String[] theirs = {"-cert", otherCa.resolve("cert-chain.pem").toString(), "-key", otherCa.resolve("key.pem").toString()};
        record Case(String name, List<String> args, boolean h2, String expect) {}
        List<Case> cases = List.of(
                new Case("no client certificate", List.of("-alpn", "h2"), false, "alert certificate required"),
                new Case("certificate of another CA", concat(List.of("-alpn", "h2"), theirs), false, "alert unknown ca"),
                new Case("ALPN http/1.1", concat(List.of("-alpn", "http/1.1"), mine), false, "No ALPN negotiated"),
                new Case("no ALPN", concat(List.of(), mine), false, "No ALPN negotiated"),
                new Case("TLS 1.1", concat(List.of("-tls1_1", "-alpn", "h2"), mine), false, "alert protocol version"),
                new Case("mesh client, ALPN h2", concat(List.of("-alpn", "h2"), mine), true, "ALPN protocol: h2"));
        for (Case c : cases) {
            List<String> cmd = new ArrayList<>(List.of(openssl.toString(), "s_client", "-connect",
                    "127.0.0.1:" + hbone.getPort(), "-CAfile", roots));
            cmd.addAll(c.args());
            Path outFile = tmp.resolve("s_client.out");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(outFile.toFile()).start();
            try {
                // the HTTP/2 preface and an empty SETTINGS, then stdin stays open while the server answers
                p.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u0000\u0000\u0000\u0004\u0000\u0000\u0000\u0000\u0000"
                        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                p.getOutputStream().flush();
                Thread.sleep(1500);
                p.getOutputStream().close(); // s_client ends on EOF
            } catch (java.io.IOException refusedAlready) {
                // s_client already ended: the server refused the handshake
            }
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            String out = Files.readString(outFile, java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(out).as(c.name() + "\n" + out).contains(c.expect());
            // the server's SETTINGS frame header (length 0x00..., type 4, flags 0, stream 0) in the decrypted output
            boolean settings = out.contains("\u0004\u0000\u0000\u0000\u0000\u0000");
            assertThat(settings).as(c.name() + ": got the server's HTTP/2 SETTINGS\n" + out).isEqualTo(c.h2());
        }
        stillServes();
    }

    private static List<String> concat(List<String> a, String[] b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(List.of(b));
        return out;
    }

    private static void h2load(String[][] runs) throws Exception {
        Path h2load = Interop.program("h2load", "/usr/bin/h2load");
        try (dev.waypoint.testing.SourceZtunnel z = dev.waypoint.testing.SourceZtunnel.start(mesh.group(), hbone,
                mesh.workload("apps", "client"), List.of(new InetSocketAddress("127.39.0.2", 9090),
                        new InetSocketAddress("127.39.0.1", 80)))) {
            for (String[] run : runs) {
                List<String> cmd = new ArrayList<>(List.of(h2load.toString(), "-t", "1", "-T", "30", "-N", "10"));
                cmd.addAll(List.of(run));
                try (ExternalProcess p = ExternalProcess.start("h2load", cmd, tmp.resolve("logs"))) {
                    assertThat(p.awaitExit(Duration.ofSeconds(60))).as(p.describe()).isZero();
                    String out = String.join("\n", p.lines());
                    int n = Integer.parseInt(run[java.util.Arrays.asList(run).indexOf("-n") + 1]);
                    assertThat(out).as(out).contains("requests: " + n + " total, " + n + " started, " + n + " done, "
                            + n + " succeeded, 0 failed, 0 errored, 0 timeout");
                    assertThat(out).as(out).contains("status codes: " + n + " 2xx");
                }
                stillServes();
            }
        }
    }
}
