package dev.waypoint.server.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.transport.HalfClose;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node's own HTTP/2 stack ({@code node:http2}, which we did not write) as the destination node's
 * ztunnel: it terminates the waypoint's outbound HBONE (mutual TLS, ALPN h2, CONNECT) and reports
 * what it saw, including the client certificate the waypoint presented. Pods on 127.42.x.x:
 * {@code web-1} (Node presents web's identity, as ztunnel would) and {@code api-1} (Node presents
 * an impostor's identity: the waypoint must refuse to send it anything).
 */
class NodeHttp2DestinationInteropTest {
    private static final String WEB_POD = "127.42.1.1";
    private static final String API_POD = "127.42.1.2";
    private static final String TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

    private static final String MANIFESTS = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: istio-system}
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: interop
              labels:
                istio.io/dataplane-mode: ambient
                istio.io/use-waypoint: waypoint
                istio.io/use-waypoint-namespace: istio-system
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: waypoint
              namespace: istio-system
              labels: {istio.io/waypoint-for: service}
            spec:
              gatewayClassName: istio-waypoint
              listeners:
              - name: mesh
                port: 15008
                protocol: HBONE
                allowedRoutes: {namespaces: {from: All}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-1, namespace: interop, labels: {app: web}}
            spec:
              serviceAccountName: web
              containers: [{name: web, image: example/web, ports: [{containerPort: 9080}, {containerPort: 9000}]}]
            status: {podIP: 127.42.1.1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: api-1, namespace: interop, labels: {app: api}}
            spec:
              serviceAccountName: api
              containers: [{name: api, image: example/api, ports: [{containerPort: 9080}, {containerPort: 9000}]}]
            status: {podIP: 127.42.1.2}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: interop}
            spec:
              clusterIP: 127.42.0.10
              selector: {app: web}
              ports: [{name: http, port: 8080, targetPort: 9080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web-tcp, namespace: interop}
            spec:
              clusterIP: 127.42.0.11
              selector: {app: web}
              ports: [{name: tcp, port: 9000}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: interop}
            spec:
              clusterIP: 127.42.0.20
              selector: {app: api}
              ports: [{name: http, port: 8080, targetPort: 9080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: api-tcp, namespace: interop}
            spec:
              clusterIP: 127.42.0.21
              selector: {app: api}
              ports: [{name: tcp, port: 9000}]
            """;

    @TempDir
    static Path tmp;
    private static StandaloneWaypoint mesh;
    /** Node as web-1's ztunnel, presenting web's identity. */
    private static ExternalProcess webZtunnel;
    /** Node on api-1's IP, presenting the WRONG identity (sa/impostor instead of sa/api). */
    private static ExternalProcess impostorZtunnel;

    private HboneTestClient client;

    @BeforeAll
    static void start() throws Exception {
        Path node = Interop.node();
        mesh = new StandaloneWaypoint(tmp);
        mesh.echo(WEB_POD, 9080, "web-1");
        mesh.echo(WEB_POD, 9000, "web-1-tcp");
        mesh.echo(API_POD, 9080, "api-1");
        mesh.echo(API_POD, 9000, "api-1-tcp");
        Path webCerts = mesh.writeCerts("web-certs", new SpiffeId("cluster.local", "interop", "web"));
        Path impostorCerts = mesh.writeCerts("impostor-certs", new SpiffeId("cluster.local", "interop", "impostor"));
        webZtunnel = startNode(node, "node-web", WEB_POD + ":0", webCerts);
        // ztunnel's HBONE port is the same on every node: the impostor listens on the port Node picked for web
        int hbonePort = port(webZtunnel);
        impostorZtunnel = startNode(node, "node-impostor", API_POD + ":" + hbonePort, impostorCerts);
        port(impostorZtunnel);
        mesh.start(MANIFESTS, hbonePort);
    }

    private static ExternalProcess startNode(Path node, String name, String listen, Path certs) throws Exception {
        return ExternalProcess.start(name, List.of(node.toString(), Interop.script("dest_ztunnel.js").toString(),
                "--listen", listen, "--cert", certs.resolve("cert-chain.pem").toString(),
                "--key", certs.resolve("key.pem").toString(), "--ca", certs.resolve("root-cert.pem").toString()),
                tmp.resolve("logs"));
    }

    private static int port(ExternalProcess p) throws Exception {
        String line = p.awaitLine(l -> l.contains("\"listening\""), Duration.ofSeconds(20));
        return Interop.JSON.readTree(line).path("port").asInt();
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
        for (ExternalProcess p : new ExternalProcess[] {webZtunnel, impostorZtunnel}) {
            if (p != null) {
                p.close();
            }
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group, mesh.waypoint().hboneAddress(), mesh.workload("interop", "client"));
    }

    @AfterEach
    void disconnect() {
        if (client != null) {
            client.close();
        }
    }

    private static List<JsonNode> connects(ExternalProcess p) {
        return Interop.events(p.lines(), "connect");
    }

    private static List<JsonNode> sessions(ExternalProcess p) {
        return Interop.events(p.lines(), "session");
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void waypointPresentsItsIdentityAndSendsPodAuthorityAndZtunnelHeaders() throws Exception {
        InnerHttp.Result r = InnerHttp.exchange(client, "127.42.0.10:8080", Map.of(),
                InnerHttp.get("/via-node", "web.interop"), Duration.ofSeconds(15));
        assertThat(r.connectStatus()).as(r.connectBody()).isEqualTo(200);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).startsWith("hello from web-1").contains("path=/via-node");

        // HTTP requests may ride on a pooled upstream connection (its CONNECT was sent by the request
        // that opened it); a TCP tunnel always gets its own outbound CONNECT with its own headers
        int before = connects(webZtunnel).size();
        String inboundTrace = "00-" + TRACE_ID + "-b7ad6b7169203331-01";
        HboneTestClient.Answer a = client.connect("127.42.0.11:9000", Map.of(
                "forwarded", "for=\"10.1.2.3:5555\";host=web-tcp.interop.svc.cluster.local",
                "baggage", "k8s.cluster.name=Kubernetes,k8s.namespace.name=interop,k8s.deployment.name=client",
                "traceparent", inboundTrace)).get(15, TimeUnit.SECONDS);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        JsonNode seen = Interop.awaitEvents(webZtunnel, "connect", before + 1, Duration.ofSeconds(5)).get(before);
        a.tunnel().close();
        assertThat(seen.path("method").asText()).isEqualTo("CONNECT");
        // the pod's IP and target port, not the Service VIP: the waypoint already load-balanced
        assertThat(seen.path("authority").asText()).isEqualTo(WEB_POD + ":9000");
        // the waypoint's own identity, as client, to a TLS stack we did not write
        assertThat(texts(seen.path("peer_uri_sans"))).containsExactly(StandaloneWaypoint.WAYPOINT_ID);
        assertThat(seen.path("alpn").asText()).isEqualTo("h2");
        JsonNode h = seen.path("headers");
        assertThat(h.has(":path")).as(h.toString()).isFalse();
        assertThat(h.has(":scheme")).as(h.toString()).isFalse();
        assertThat(h.path("forwarded").asText()).as(h.toString()).contains("for=\"10.1.2.3:5555\"");
        assertThat(h.path("baggage").asText()).isEqualTo(
                "k8s.cluster.name=Kubernetes,k8s.namespace.name=interop,k8s.deployment.name=client");
        // same trace, new span (the waypoint is a hop)
        assertThat(h.path("traceparent").asText()).matches("00-" + TRACE_ID + "-[0-9a-f]{16}-01")
                .isNotEqualTo(inboundTrace);
        assertThat(sessions(webZtunnel)).isNotEmpty().allSatisfy(s ->
                assertThat(texts(s.path("peer_uri_sans"))).containsExactly(StandaloneWaypoint.WAYPOINT_ID));
    }

    @Test
    void withoutInboundHeadersTheWaypointStillSendsForwardedAndTraceparent() throws Exception {
        int before = connects(webZtunnel).size();
        HboneTestClient.Answer a = client.connect("127.42.0.11:9000", Map.of()).get(15, TimeUnit.SECONDS);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        JsonNode h = Interop.awaitEvents(webZtunnel, "connect", before + 1, Duration.ofSeconds(5)).get(before).path("headers");
        a.tunnel().close();
        // for= the downstream peer (the source ztunnel's address)
        assertThat(h.path("forwarded").asText()).as(h.toString()).matches("for=\"127\\.0\\.0\\.1:\\d+\".*");
        assertThat(h.path("traceparent").asText()).as(h.toString()).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}");
    }

    @Test
    void concurrentTunnelsAreMultiplexedOnOneHboneConnectionToNode() throws Exception {
        int before = connects(webZtunnel).size();
        List<CompletableFuture<InnerHttp.Result>> all = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int n = i;
            all.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return InnerHttp.exchange(client, "127.42.0.10:8080", Map.of(),
                            InnerHttp.get("/many/" + n, "web.interop"), Duration.ofSeconds(15));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (int i = 0; i < all.size(); i++) {
            InnerHttp.Result r = all.get(i).get(20, TimeUnit.SECONDS);
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(r.body()).contains("path=/many/" + i + "\n");
        }
        assertThat(Interop.awaitEvents(webZtunnel, "connect", before + 6, Duration.ofSeconds(5))).hasSize(before + 6);
        // one data-plane thread, one pool: every CONNECT so far rode one TLS connection to Node
        assertThat(sessions(webZtunnel)).as(webZtunnel.describe()).hasSize(1);
    }

    @Test
    void tcpTunnelThroughNodeEchoesAndHalfCloses() throws Exception {
        HboneTestClient.Answer a = client.connect("127.42.0.11:9000", Map.of()).get(15, TimeUnit.SECONDS);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        CompletableFuture<String> echoed = new CompletableFuture<>();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            final StringBuilder b = new StringBuilder();

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                b.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ((ByteBuf) msg).release();
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    echoed.complete(b.toString()); // END_STREAM came back after the echo
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                echoed.completeExceptionally(new AssertionError("tunnel closed without END_STREAM; got: " + b));
            }
        });
        t.writeAndFlush(Unpooled.copiedBuffer("raw bytes through node:http2\n", StandardCharsets.US_ASCII));
        HalfClose.shutdownOutput(t);
        assertThat(echoed.get(15, TimeUnit.SECONDS)).isEqualTo("raw bytes through node:http2\n");
        t.close();
        assertThat(connects(webZtunnel)).anySatisfy(c -> assertThat(c.path("authority").asText()).isEqualTo(WEB_POD + ":9000"));
    }

    @Test
    void destinationPresentingTheWrongIdentityGets502AndNoConnect() throws Exception {
        InnerHttp.Result r = InnerHttp.exchange(client, "127.42.0.20:8080", Map.of(),
                InnerHttp.get("/secret", "api.interop"), Duration.ofSeconds(15));
        // the tunnel to an HTTP port opens; the inner request is refused by the waypoint itself
        assertThat(r.connectStatus()).as(r.connectBody()).isEqualTo(200);
        assertThat(r.status()).as(r.head() + "\n" + r.body()).isIn(502, 503);
        assertThat(r.header("x-waypoint-reason")).isEqualTo("upstream_connect_failure");
        assertThat(r.body()).contains("spiffe://cluster.local/ns/interop/sa/impostor")
                .contains("expected: spiffe://cluster.local/ns/interop/sa/api");

        // TCP port: the upstream is connected before answering the CONNECT, so the CONNECT itself fails
        HboneTestClient.Answer tcp = client.connect("127.42.0.21:9000", Map.of()).get(15, TimeUnit.SECONDS);
        assertThat(tcp.status()).as(tcp.body()).isIn(502, 503);
        assertThat(tcp.headers().get("x-waypoint-reason")).hasToString("upstream_connect_failure");
        assertThat(tcp.body()).contains("sa/impostor");

        // Node completed TLS (it checks the chain only) but the waypoint sent it nothing
        assertThat(sessions(impostorZtunnel)).as(impostorZtunnel.describe()).isNotEmpty();
        assertThat(connects(impostorZtunnel)).as(impostorZtunnel.describe()).isEmpty();
    }
}
