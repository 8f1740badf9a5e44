package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The packaged jar as a real process: {@code waypoint run}, then SIGTERM while a request is in
 * flight. The request must complete; the process must exit on its own, and the JDK must have had
 * nothing to warn about. On the build's JDK (17) and on Temurin 25 with the image's flags (the
 * JDK of an image built with BASE_IMAGE=eclipse-temurin:25-jre-noble; skipped where none is
 * installed). Loopback 127.23.x.x.
 */
class SigtermIT {
    @TempDir
    Path tmp;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The JVMs the jar is started on: the build's, and JDK 25 with the image's flags. */
    static Stream<Arguments> runtimes() throws Exception {
        // on JDK 24+ as the build's JDK, the one flag that keeps the JDK from warning about Netty's Unsafe
        List<String> build = Runtime.version().feature() >= 24 ? List.of("-Dsun.misc.unsafe.memory.access=allow") : List.of();
        return Stream.of(Arguments.of("the build's JDK", Optional.of(Jdks.current()), build),
                Arguments.of("JDK " + Jdks.IMAGE_FEATURE + " (an image built on Temurin " + Jdks.IMAGE_FEATURE
                        + "), the image's flags", Jdks.image(), imageFlags()));
    }

    /** The Dockerfile ENTRYPOINT's JVM flags, but for its CDS archive (dumped at image build time). */
    private static List<String> imageFlags() throws Exception {
        String dockerfile = Files.readString(Path.of("../Dockerfile")).replace("\\\n", " ");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^ENTRYPOINT (\\[[^\\]]*\\])").matcher(dockerfile);
        assertThat(m.find()).as("ENTRYPOINT [...] in the Dockerfile").isTrue();
        List<String> argv = new ArrayList<>();
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(m.group(1)).forEach(n -> argv.add(n.asText()));
        assertThat(argv.get(0)).isEqualTo("java");
        return argv.subList(1, argv.indexOf("-jar")).stream()
                .filter(f -> !f.startsWith("-XX:SharedArchiveFile=")).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("runtimes")
    void sigtermDrainsInFlightRequestsAndExits(String name, Optional<String> javaCommand, List<String> flags) throws Exception {
        assumeTrue(javaCommand.isPresent(), "no JDK " + Jdks.IMAGE_FEATURE + " installed here (under /usr/lib/jvm)");
        Path jar = Path.of(System.getProperty("waypoint.jar", "target/waypoint.jar"));
        assertThat(jar).exists();
        Path config = Files.createDirectories(tmp.resolve("m"));
        try (InputStream in = SigtermIT.class.getResourceAsStream("/e2e/mesh.yaml")) {
            Files.writeString(config.resolve("mesh.yaml"),
                    new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("127.20.", "127.23."));
        }
        TestCa ca = TestCa.create("cluster.local");
        Path certs = Files.createDirectories(tmp.resolve("certs"));
        ca.issue(new SpiffeId("cluster.local", "istio-system", "waypoint")).writeIstioLayout(certs);
        EventLoopGroup group = EventLoops.newGroup(2, "it");
        TlsMaterial web = ca.issue(new SpiffeId("cluster.local", "apps", "web")).material();
        try (EchoServer e1 = EchoServer.start(group, new InetSocketAddress("127.23.1.1", 8080), "web-v1");
             EchoServer e2 = EchoServer.start(group, new InetSocketAddress("127.23.1.2", 8080), "web-v2");
             DestinationZtunnel z = DestinationZtunnel.start(group, Map.of(
                     InetAddress.getByName("127.23.1.1"), web, InetAddress.getByName("127.23.1.2"), web), 0,
                     hp -> new InetSocketAddress(hp.address(), hp.port()))) {
            int hbone = freePort();
            int health = freePort();
            List<String> argv = new ArrayList<>(List.of(javaCommand.get()));
            argv.addAll(flags);
            argv.addAll(List.of("-jar", jar.toString(), "run", "--config-dir", config.toString(), "--cert-dir", certs.toString(),
                    "--gateway", "istio-system/waypoint", "--listen", "127.0.0.1:" + hbone,
                    "--health", "127.0.0.1:" + health, "--stats", "127.0.0.1:" + freePort(),
                    "--admin", "127.0.0.1:" + freePort(), "--hbone-port", Integer.toString(z.port()), "--workers", "2"));
            Process p = new ProcessBuilder(argv)
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("waypoint.log").toFile()).start();
            try {
                HttpClient http = HttpClient.newHttpClient();
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> http.send(
                        java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + health + "/healthz/ready"))
                                .build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
                try (HboneTestClient client = HboneTestClient.connect(group, new InetSocketAddress("127.0.0.1", hbone),
                        ca.issue(new SpiffeId("cluster.local", "apps", "client")).material())) {
                    Channel t = client.connect("127.23.0.1:80", Map.of()).get(10, TimeUnit.SECONDS).tunnel();
                    BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
                    HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload");
                    HttpUtil.setTransferEncodingChunked(post, true);
                    post.headers().set(io.netty.handler.codec.http.HttpHeaderNames.HOST, "web.apps");
                    t.write(post);
                    t.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer("before SIGTERM;", StandardCharsets.UTF_8)));
                    Thread.sleep(300);

                    p.destroy(); // SIGTERM
                    Thread.sleep(500);
                    assertThat(p.isAlive()).as("still draining the request in flight").isTrue();
                    t.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("after", StandardCharsets.UTF_8)));
                    FullHttpResponse r = Tunnels.take(q);
                    assertThat(r.status().code()).isEqualTo(200);
                    assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("before SIGTERM;after");
                    r.release();
                }
                // the drain ends at the latest at its timeout (20 s) plus one second: a connection
                // whose peer has not closed yet is then closed. (Under heavy load the client's own
                // graceful close sometimes lags and the drain runs to that limit: see the note.)
                assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("exited after draining").isTrue();
                String log = Files.readString(tmp.resolve("waypoint.log"));
                assertThat(log).contains("draining").contains("drained")
                        // the JDK's own warnings (JDK 24+: native access, sun.misc.Unsafe memory access)
                        .doesNotContain("WARNING:");
            } finally {
                p.destroyForcibly();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        }
    }
}
