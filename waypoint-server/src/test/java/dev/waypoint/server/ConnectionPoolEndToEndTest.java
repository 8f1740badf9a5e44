package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DestinationRule {@code connectionPool} fields through the whole waypoint: on TCP tunnels
 * {@code tcp.idleTimeout} (an idle tunnel is reset after it, not after the listener's hour) and
 * {@code tcp.maxConnectionDuration} (a busy tunnel is reset when it is up), as Istio's waypoint sets
 * them on its TCP proxy; on HTTP requests {@code http.h2UpgradePolicy: UPGRADE} (an HTTP/1.1 client's
 * request reaches the backend as HTTP/2) and {@code http.useClientProtocol} (a port declaring h2c
 * gets the client's HTTP/1.1). A Service without a rule is the control for each. Loopback range 127.53.x.x.
 */
class ConnectionPoolEndToEndTest {
    static final String MANIFESTS = E2eManifests.WAYPOINT_AND_APPS
            + service("idle", 1, "{name: tcp, port: 7000}")
            + service("aged", 2, "{name: tcp, port: 7000}")
            + service("plain", 3, "{name: tcp, port: 7000}")
            + service("upgraded", 4, "{name: http, port: 80, targetPort: 8080}")
            + service("h2c", 5, "{name: web, port: 80, targetPort: 8080, appProtocol: kubernetes.io/h2c}")
            + service("h2c-as-client", 6, "{name: web, port: 80, targetPort: 8080, appProtocol: kubernetes.io/h2c}")
            + """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: idle, namespace: apps}
            spec:
              host: idle
              trafficPolicy: {connectionPool: {tcp: {idleTimeout: 600ms}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: aged, namespace: apps}
            spec:
              host: aged
              trafficPolicy: {connectionPool: {tcp: {maxConnectionDuration: 1s}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: upgraded, namespace: apps}
            spec:
              host: upgraded
              trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: h2c-as-client, namespace: apps}
            spec:
              host: h2c-as-client
              trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}
            """;

    private static String service(String name, int n, String port) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %1$s, namespace: apps}
                spec:
                  clusterIP: 127.53.0.%2$d
                  selector: {app: %1$s}
                  ports:
                  - %3$s
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: %1$s-v1, namespace: apps, labels: {app: %1$s}}
                spec: {serviceAccountName: %1$s}
                status: {podIP: 127.53.1.%2$d}
                ---
                """.formatted(name, n, port);
    }

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

    /** An open TCP tunnel to {@code vip:7000} whose echoed bytes are counted. */
    private static Channel tcpTunnel(HboneTestClient client, String vip, AtomicInteger echoed) throws Exception {
        HboneTestClient.Answer a = client.connect(vip + ":7000", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", vip, a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                echoed.addAndGet(((ByteBuf) msg).readableBytes());
                ReferenceCountUtil.release(msg);
            }
        });
        return t;
    }

    private static void send(Channel t, String s) {
        t.writeAndFlush(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
    }

    @Test
    void tcpIdleTimeoutResetsAnIdleTunnel() throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            AtomicInteger idleEcho = new AtomicInteger();
            AtomicInteger plainEcho = new AtomicInteger();
            Channel idle = tcpTunnel(client, "127.53.0.1", idleEcho);
            Channel plain = tcpTunnel(client, "127.53.0.3", plainEcho);
            send(idle, "hello");
            send(plain, "hello");
            await().atMost(Duration.ofSeconds(10)).until(() -> idleEcho.get() == 5 && plainEcho.get() == 5);
            // nothing either way: the rule's 600 ms, not the listener's hour
            assertThat(idle.closeFuture().await(10, TimeUnit.SECONDS)).as("idle tunnel closed by tcp.idleTimeout").isTrue();
            // the same idleness without a rule: still open, and still relays
            assertThat(plain.isActive()).isTrue();
            send(plain, "again");
            await().atMost(Duration.ofSeconds(10)).until(() -> plainEcho.get() == 10);
            plain.close();
        }
    }

    @Test
    void tcpMaxConnectionDurationEndsABusyTunnel() throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            AtomicInteger agedEcho = new AtomicInteger();
            AtomicInteger plainEcho = new AtomicInteger();
            Channel aged = tcpTunnel(client, "127.53.0.2", agedEcho);
            Channel plain = tcpTunnel(client, "127.53.0.3", plainEcho);
            long start = System.nanoTime();
            // never idle: a byte every 100 ms each way; the aged tunnel still ends after its second
            while (aged.isActive() && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10)) {
                send(aged, "x");
                send(plain, "x");
                Thread.sleep(100);
            }
            assertThat(aged.isActive()).as("busy tunnel ended by tcp.maxConnectionDuration").isFalse();
            assertThat(agedEcho.get()).as("it relayed until then").isPositive();
            assertThat(plain.isActive()).isTrue();
            int before = plainEcho.get();
            send(plain, "y");
            await().atMost(Duration.ofSeconds(10)).until(() -> plainEcho.get() > before);
            plain.close();
        }
    }

    /** One HTTP/1.1 GET in its own tunnel to {@code vip:80}: the protocol the backend saw. */
    private static String protocolSeenByBackend(String vip) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"))) {
            HboneTestClient.Answer a = client.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            Channel tunnel = a.tunnel();
            BlockingQueue<FullHttpResponse> responses = Tunnels.http1(tunnel);
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
            r.headers().set(HttpHeaderNames.HOST, "svc.apps");
            tunnel.writeAndFlush(r);
            FullHttpResponse res = Tunnels.take(responses);
            try {
                assertThat(res.status().code()).as("%s: %s", vip, res.content().toString(StandardCharsets.UTF_8)).isEqualTo(200);
                return res.headers().get("x-echo-protocol");
            } finally {
                res.release();
                tunnel.close();
            }
        }
    }

    @Test
    void h2UpgradePolicyAndUseClientProtocolPickTheUpstreamVersion() throws Exception {
        // a port declaring HTTP: HTTP/1.1 upstream, unless the rule says UPGRADE
        assertThat(protocolSeenByBackend("127.53.0.4")).isEqualTo("HTTP/2.0");
        // a port declaring h2c: HTTP/2 upstream, unless the rule says useClientProtocol
        assertThat(protocolSeenByBackend("127.53.0.5")).isEqualTo("HTTP/2.0");
        assertThat(protocolSeenByBackend("127.53.0.6")).isEqualTo("HTTP/1.1");
    }
}
