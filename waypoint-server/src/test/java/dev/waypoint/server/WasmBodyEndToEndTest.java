package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bodies through WasmPlugins on the real server: a proxy-wasm plugin in C against the raw ABI
 * (waypoint-wasm/src/test/plugins/c/body.c, built with Debian's clang at test time) that holds a
 * body until its end (Pause on every earlier piece) and rewrites it to another length, for the
 * request (the echo backend streams back what it received) and for the response, over HTTP/1.1
 * and h2c inner requests sent in several pieces; a body held past the limit (413 or a reset), a local reply
 * from a body callback, a streaming rewrite. Loopback range 127.180.x.x.
 */
class WasmBodyEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    static Path plugin;
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        plugin = buildPlugin(tmp);
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = WasmBodyEndToEndTest.class.getResourceAsStream("/e2e/wasm-body-mesh.yaml")) {
            Files.write(configDir.resolve("mesh.yaml"), in.readAllBytes());
        }
        Files.writeString(configDir.resolve("plugins.yaml"), "");
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    /** clang --target=wasm32-wasi, as waypoint-wasm's TestPlugins does; skipped without clang unless CI is set. */
    static Path buildPlugin(Path dir) throws Exception {
        Path clang = Path.of("/usr/bin/clang");
        String missing = "toolchain missing: clang --target=wasm32-wasi (.ci/run installs clang lld wasi-libc "
                + "libclang-rt-14-dev-wasm32)";
        if (!Files.isExecutable(clang)) {
            if (System.getenv("CI") != null) {
                fail(missing);
            }
            assumeTrue(false, missing);
        }
        Path src = Path.of("../waypoint-wasm/src/test/plugins/c/body.c");
        if (!Files.exists(src)) {
            src = Path.of("waypoint-wasm/src/test/plugins/c/body.c");
        }
        Path out = dir.resolve("body.wasm");
        Process p = new ProcessBuilder(clang.toString(), "--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
                "-o", out.toString(), src.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0).as("clang: %s", log).isTrue();
        return out;
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() throws Exception {
        client.close();
    }

    /** Writes the plugin manifest (mode: its pluginConfig) and waits until the waypoint runs it. */
    static void plugin(String mode) throws Exception {
        String yaml = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: body\n"
                + "  namespace: apps\nspec:\n  targetRefs: [{group: '', kind: Service, name: web}]\n  url: "
                + plugin.toUri() + "\n  pluginConfig: {mode: " + mode + "}\n";
        if (yaml.equals(Files.readString(configDir.resolve("plugins.yaml")))) {
            return;
        }
        long gen = mesh.waypoint().snapshots().current().generation();
        Files.writeString(configDir.resolve("plugins.yaml"), yaml);
        await().atMost(Duration.ofSeconds(30)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
        assertThat(mesh.waypoint().snapshots().current().problems()).as("problems").isEmpty();
    }

    private Channel tunnel() throws Exception {
        HboneTestClient.Answer a = client.connect("127.180.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        return a.tunnel();
    }

    /** One HTTP/1.1 POST whose body leaves in {@code pieces} (flushed one by one), with or without content-length. */
    private FullHttpResponse post1(boolean contentLength, String... pieces) throws Exception {
        Channel t = tunnel();
        try {
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            write(t, contentLength, pieces);
            return Tunnels.take(q);
        } finally {
            t.close();
        }
    }

    /** The same over h2c: one stream, the body in DATA frames. */
    private FullHttpResponse post2(String... pieces) throws Exception {
        Channel t = tunnel();
        try {
            Tunnels.h2c(t);
            BlockingQueue<FullHttpResponse> q = new LinkedBlockingQueue<>();
            Http2StreamChannel s = Tunnels.h2cStream(t, q);
            write(s, true, pieces);
            return Tunnels.take(q);
        } finally {
            t.close();
        }
    }

    private static void write(Channel ch, boolean contentLength, String... pieces) {
        HttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload");
        head.headers().set(HttpHeaderNames.HOST, "web.apps");
        if (contentLength) {
            HttpUtil.setContentLength(head, String.join("", pieces).getBytes(StandardCharsets.UTF_8).length);
        } else {
            HttpUtil.setTransferEncodingChunked(head, true);
        }
        ch.writeAndFlush(head);
        for (int i = 0; i < pieces.length; i++) {
            var buf = Unpooled.copiedBuffer(pieces[i], StandardCharsets.UTF_8);
            ch.writeAndFlush(i == pieces.length - 1 ? new DefaultLastHttpContent(buf) : new DefaultHttpContent(buf));
        }
    }

    private static String body(FullHttpResponse r) {
        return r.content().toString(StandardCharsets.UTF_8);
    }

    @Test
    void aPluginHoldsTheRequestBodyUntilItsEndAndRewritesItOverHttp1() throws Exception {
        plugin("request");
        for (boolean contentLength : new boolean[] {true, false}) {
            FullHttpResponse r = post1(contentLength, "hello ", "wasm ", "world");
            try {
                assertThat(r.status().code()).isEqualTo(200);
                // the echo backend streams back what it received: the whole body, rewritten, longer
                // than the content-length the client sent (which the waypoint dropped); chunked, the
                // empty last chunk is a body callback of its own
                assertThat(body(r)).as("content-length %s", contentLength)
                        .matches("<hello wasm world>\\|chunks=[1-4]\\|request rewritten by wasm\n");
            } finally {
                r.release();
            }
        }
    }

    @Test
    void aPluginRewritesTheRequestBodyOverH2c() throws Exception {
        plugin("request");
        FullHttpResponse r = post2("first,", "second,", "third");
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(body(r)).startsWith("<first,second,third>|chunks=").endsWith("|request rewritten by wasm\n");
        } finally {
            r.release();
        }
    }

    @Test
    void aPluginHoldsTheResponseBodyUntilItsEndAndRewritesIt() throws Exception {
        plugin("response");
        FullHttpResponse r1 = post1(true, "echo ", "me");
        FullHttpResponse r2 = post2("echo ", "me ", "too");
        try {
            assertThat(r1.status().code()).isEqualTo(200);
            assertThat(body(r1)).startsWith("<echo me>|chunks=").endsWith("|response rewritten by wasm\n");
            assertThat(body(r2)).startsWith("<echo me too>|chunks=").endsWith("|response rewritten by wasm\n");
        } finally {
            r1.release();
            r2.release();
        }
    }

    @Test
    void aStreamingPluginRewritesEachPieceAsItPasses() throws Exception {
        plugin("stream");
        FullHttpResponse r = post1(true, "abc", "def");
        try {
            // upper-cased on the way in, and again (no-op) on the way out
            assertThat(body(r)).isEqualTo("ABCDEF");
        } finally {
            r.release();
        }
    }

    /**
     * The plugin holds more than 1 MiB. The echo backend answers the head as soon as the request
     * head reaches it (before the body), so, as in Envoy, which of the two answers the client gets
     * depends on that race: a 413 {@code Payload Too Large} while no response has started, else the
     * stream ends (a reset: for HTTP/1.1 the tunnel closes) before the response completes. Never a
     * complete 200.
     */
    @Test
    void aBodyHeldPastTheLimitIsRefused() throws Exception {
        plugin("request");
        Channel t = tunnel();
        BlockingQueue<Object> got = new LinkedBlockingQueue<>();
        t.pipeline().addLast(new io.netty.handler.codec.http.HttpClientCodec(),
                new io.netty.channel.ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof io.netty.handler.codec.http.HttpResponse res) {
                            got.add(res.status().code());
                        }
                        if (msg instanceof io.netty.handler.codec.http.HttpContent c) {
                            got.add(c.content().toString(StandardCharsets.UTF_8));
                            if (msg instanceof io.netty.handler.codec.http.LastHttpContent) {
                                got.add("end");
                            }
                        }
                        io.netty.util.ReferenceCountUtil.release(msg);
                    }

                    @Override
                    public void channelInactive(io.netty.channel.ChannelHandlerContext ctx) {
                        got.add("closed");
                    }
                });
        String quarter = "x".repeat(256 * 1024);
        write(t, true, quarter, quarter, quarter, quarter, quarter, "end");
        Object status = got.poll(10, TimeUnit.SECONDS);
        StringBuilder rest = new StringBuilder();
        for (Object o = got.poll(10, TimeUnit.SECONDS); o != null; o = got.poll(10, TimeUnit.SECONDS)) {
            rest.append(o).append(o.equals("end") || o.equals("closed") ? "" : "|");
            if (o.equals("end") || o.equals("closed")) {
                break;
            }
        }
        t.close();
        if (Integer.valueOf(413).equals(status)) {
            assertThat(rest.toString()).isEqualTo("Payload Too Large|end");
        } else {
            assertThat(status).isEqualTo(200);
            assertThat(rest.toString()).as("reset before the response completed").endsWith("closed");
        }
    }

    @Test
    void aBodyCallbackAnswersWithALocalReply() throws Exception {
        plugin("deny");
        FullHttpResponse r = post1(true, "this is ", "forbidden", " stuff");
        try {
            assertThat(r.status().code()).isEqualTo(400);
            assertThat(body(r)).isEqualTo("the body says forbidden\n");
        } finally {
            r.release();
        }
        FullHttpResponse ok = post2("harmless");
        try {
            assertThat(ok.status().code()).isEqualTo(200);
            assertThat(body(ok)).isEqualTo("harmless");
        } finally {
            ok.release();
        }
    }

    /** One GET on a fresh tunnel with {@code headers}. */
    private FullHttpResponse get(Map<String, String> headers) throws Exception {
        Channel t = tunnel();
        try {
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            io.netty.handler.codec.http.FullHttpRequest r = new io.netty.handler.codec.http.DefaultFullHttpRequest(
                    HttpVersion.HTTP_1_1, HttpMethod.GET, "/asked");
            r.headers().set(HttpHeaderNames.HOST, "web.apps");
            headers.forEach(r.headers()::set);
            t.writeAndFlush(r);
            return Tunnels.take(q);
        } finally {
            t.close();
        }
    }

    /**
     * proxy_grpc_call, unary, to a gRPC Service (appProtocol grpc: HTTP/2 to the pod over HBONE):
     * the echo backend sends the message back with grpc-status 0, so on_grpc_receive sees "ping";
     * a non-gRPC answer (the echo's /status/503) closes with 14 as Envoy maps a 503; an unknown
     * cluster is BadArgument.
     */
    @Test
    void aPluginCallsAGrpcServiceAndResumesWithItsAnswer() throws Exception {
        plugin("grpc");
        FullHttpResponse ok = get(Map.of("x-grpc-cluster", "outbound|9000||grpc.apps.svc.cluster.local"));
        try {
            assertThat(ok.status().code()).isEqualTo(200);
            assertThat(body(ok)).contains("header x-grpc-reply=ping\n").doesNotContain("x-grpc-status", "x-grpc-error");
        } finally {
            ok.release();
        }
        FullHttpResponse failed = get(Map.of("x-grpc-cluster", "outbound|9000||grpc.apps.svc.cluster.local",
                "x-grpc-service", "status", "x-grpc-method", "503"));
        try {
            assertThat(body(failed)).contains("header x-grpc-status=14\n").doesNotContain("x-grpc-reply");
        } finally {
            failed.release();
        }
        FullHttpResponse unknown = get(Map.of("x-grpc-cluster", "outbound|9000||nope.apps.svc.cluster.local"));
        try {
            assertThat(body(unknown)).contains("header x-grpc-error=02\n");
        } finally {
            unknown.release();
        }
    }
}
