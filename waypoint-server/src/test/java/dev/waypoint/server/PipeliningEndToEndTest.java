package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pipelined HTTP/1.1 requests in one write: all answered, in order, up to the 128 that Netty's
 * {@code HttpServerCodec} holds unanswered at once; beyond that (found by a hostile-client audit:
 * the tunnel was reset, no response at all, and a stack trace logged) the first 128 are answered
 * in order and the tunnel then ends cleanly, so the client sends the rest again (RFC 9112 §9.3.2).
 * Loopback range 127.56.x.x.
 */
class PipeliningEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 127.56.0.1
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-v1, namespace: apps, labels: {app: web}}
            spec: {serviceAccountName: web}
            status: {podIP: 127.56.1.1}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;

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

    private static final Pattern STATUS = Pattern.compile("HTTP/1\\.1 (\\d{3}) ");
    private static final Pattern PATH = Pattern.compile("x-echo-path: (/p\\d+)", Pattern.CASE_INSENSITIVE);

    @ParameterizedTest(name = "{0} pipelined requests: {1} answered in order, tunnel ended: {2}")
    @CsvSource({"100, 100, false", "128, 128, false", "129, 128, true", "300, 128, true"})
    void pipelinedRequestsAreAnsweredInOrder(int sent, int answered, boolean ended) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect("127.56.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).isEqualTo(200);
            Channel t = a.tunnel();
            StringBuilder got = new StringBuilder();
            t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    synchronized (got) {
                        got.append(((ByteBuf) msg).toString(StandardCharsets.ISO_8859_1));
                    }
                    ((ByteBuf) msg).release();
                }
            });
            StringBuilder requests = new StringBuilder();
            for (int i = 0; i < sent; i++) {
                requests.append("GET /p").append(i).append(" HTTP/1.1\r\nHost: web\r\n\r\n");
            }
            t.writeAndFlush(Unpooled.copiedBuffer(requests, StandardCharsets.US_ASCII));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline && count(got, STATUS) < answered) {
                Thread.sleep(20);
            }
            if (ended) {
                assertThat(t.closeFuture().await(10, TimeUnit.SECONDS)).as("the tunnel ends after the %d", answered).isTrue();
            } else {
                Thread.sleep(200);
                assertThat(t.isActive()).as("keep-alive: the tunnel stays").isTrue();
            }
            String text;
            synchronized (got) {
                text = got.toString();
            }
            assertThat(count(got, STATUS)).isEqualTo(answered);
            Matcher m = PATH.matcher(text);
            int i = 0;
            while (m.find()) {
                assertThat(m.group(1)).as("response %d answers request %d", i, i).isEqualTo("/p" + i);
                i++;
            }
            assertThat(i).isEqualTo(answered);
            assertThat(STATUS.matcher(text).results().map(r -> r.group(1)).distinct()).containsExactly("200");
            t.close();
        }
    }

    /**
     * A request that nominates its own Content-Length in {@code Connection} keeps its framing: its
     * body is not sent unframed on the pooled upstream connection, where it became the head of the
     * next client's request (a hostile-client audit smuggled a DENY-ed path into other clients'
     * exchanges so).
     */
    @org.junit.jupiter.api.Test
    void aBodyWhoseLengthIsNominatedIsNotReadAsTheNextClientsRequest() throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            String smuggled = "GET /smuggled HTTP/1.1\r\nHost: web\r\nX-Swallow: ";
            String attacker = exchange(client, "POST /attack HTTP/1.1\r\nHost: web\r\nConnection: content-length\r\n"
                    + "Content-Length: " + smuggled.length() + "\r\n\r\n" + smuggled);
            assertThat(attacker).containsIgnoringCase("x-echo-path: /attack");
            for (int i = 0; i < 3; i++) {
                String victim = exchange(client, "GET /victim" + i + " HTTP/1.1\r\nHost: web\r\n\r\n");
                assertThat(victim).startsWith("HTTP/1.1 200 ").containsIgnoringCase("x-echo-path: /victim" + i)
                        .doesNotContain("/smuggled");
            }
        }
    }

    /** One request on a tunnel of its own; what came back within a response's time. */
    private static String exchange(HboneTestClient client, String request) throws Exception {
        HboneTestClient.Answer a = client.connect("127.56.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(200);
        Channel t = a.tunnel();
        StringBuilder got = new StringBuilder();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                synchronized (got) {
                    got.append(((ByteBuf) msg).toString(StandardCharsets.ISO_8859_1));
                }
                ((ByteBuf) msg).release();
            }
        });
        t.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline && count(got, STATUS) < 1) {
            Thread.sleep(20);
        }
        Thread.sleep(100); // the rest of the response
        t.close();
        synchronized (got) {
            return got.toString();
        }
    }

    private static int count(StringBuilder got, Pattern p) {
        synchronized (got) {
            return (int) p.matcher(got).results().count();
        }
    }
}
