package dev.waypoint.server.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
 * nghttpx (nghttp2's proxy, Debian nghttp2-proxy) as the destination node's ztunnel: it terminates
 * the waypoint's outbound HBONE ({@code -s} forward-proxy mode, TLS frontend on the pod's IP with
 * the pod's certificate, {@code --verify-client} against the mesh root) and hands each CONNECT to a
 * tinyproxy that dials the pod's application (an echo server). nghttpx checks the waypoint's chain,
 * not its SPIFFE ID; the waypoint checks nghttpx presents the pod's identity. Pod on 127.41.1.1.
 */
class NghttpxDestinationInteropTest {
    private static final String POD = "127.41.1.1";
    /** tinyproxy listens here (loopback, outside the pod IPs). */
    private static final String PROXY_IP = "127.41.0.1";

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
              containers:
              - name: web
                image: example/web
                ports: [{containerPort: 9080}, {containerPort: 9081}, {containerPort: 9000}]
            status: {podIP: 127.41.1.1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: interop}
            spec:
              clusterIP: 127.41.0.10
              selector: {app: web}
              ports: [{name: http, port: 8080, targetPort: 9080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web-tcp, namespace: interop}
            spec:
              clusterIP: 127.41.0.11
              selector: {app: web}
              ports: [{name: tcp, port: 9000}]
            ---
            # tinyproxy is not allowed to CONNECT to 9081: the destination refuses the CONNECT
            apiVersion: v1
            kind: Service
            metadata: {name: forbidden, namespace: interop}
            spec:
              clusterIP: 127.41.0.12
              selector: {app: web}
              ports: [{name: http, port: 8080, targetPort: 9081}]
            """;

    @TempDir
    static Path tmp;
    private static StandaloneWaypoint mesh;
    private static ExternalProcess tinyproxy;
    private static ExternalProcess nghttpx;
    private static Path tinyproxyLog;
    private static Path accessLog;

    private final List<ExternalProcess> processes = new ArrayList<>();
    private HboneTestClient client;

    @BeforeAll
    static void start() throws Exception {
        Path nghttpxBin = Interop.program("nghttpx", "/usr/sbin/nghttpx", "/usr/bin/nghttpx");
        Path tinyproxyBin = Interop.program("tinyproxy", "/usr/bin/tinyproxy", "/usr/sbin/tinyproxy");
        mesh = new StandaloneWaypoint(tmp);
        mesh.echo(POD, 9080, "web-1");
        mesh.echo(POD, 9081, "web-1-forbidden");
        mesh.echo(POD, 9000, "web-1-tcp");
        Path logs = Files.createDirectories(tmp.resolve("logs"));

        // tinyproxy: a plain HTTP/1.1 forward proxy allowing CONNECT to the pod's ports 9080 and 9000 only
        int proxyPort = Interop.freePort(PROXY_IP);
        tinyproxyLog = logs.resolve("tinyproxy.log");
        Path conf = tmp.resolve("tinyproxy.conf");
        Files.writeString(conf, String.join("\n",
                "Port " + proxyPort,
                "Listen " + PROXY_IP,
                "Timeout 60",
                "MaxClients 64",
                "Allow 127.0.0.0/8",
                "ConnectPort 9080",
                "ConnectPort 9000",
                "DisableViaHeader Yes",
                "LogLevel Connect",
                "LogFile \"" + tinyproxyLog + "\"",
                ""));
        tinyproxy = ExternalProcess.start("tinyproxy", List.of(tinyproxyBin.toString(), "-d", "-c", conf.toString()), logs);
        Interop.awaitListening(PROXY_IP, proxyPort, Duration.ofSeconds(20), tinyproxy);

        // nghttpx: TLS + HTTP/2 frontend on the pod's IP presenting the pod's identity, client certificate required
        Path podCerts = mesh.writeCerts("web-certs", new SpiffeId("cluster.local", "interop", "web"));
        int hbonePort = Interop.freePort(POD);
        accessLog = logs.resolve("nghttpx-access.log");
        nghttpx = ExternalProcess.start("nghttpx", List.of(nghttpxBin.toString(),
                "--conf=/dev/null", "--single-process", "--workers=1",
                "-s", // HTTP/2 proxy mode: CONNECT is forwarded to the backend proxy
                "--frontend=" + POD + "," + hbonePort,
                "--backend=" + PROXY_IP + "," + proxyPort,
                "--verify-client", "--verify-client-cacert=" + podCerts.resolve("root-cert.pem"),
                "--no-ocsp",
                "--errorlog-file=" + logs.resolve("nghttpx-error.log"),
                "--accesslog-file=" + accessLog,
                podCerts.resolve("key.pem").toString(), podCerts.resolve("cert-chain.pem").toString()), logs);
        Interop.awaitListening(POD, hbonePort, Duration.ofSeconds(20), nghttpx);

        mesh.start(MANIFESTS, hbonePort);
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
        for (ExternalProcess p : new ExternalProcess[] {nghttpx, tinyproxy}) {
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
    void cleanup() {
        if (client != null) {
            client.close();
        }
        processes.forEach(ExternalProcess::close);
        processes.clear();
    }

    /** Waits until {@code file} contains {@code text}. */
    private static String awaitInFile(Path file, String text) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            String content = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
            if (content.contains(text)) {
                return content;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(file.getFileName() + " does not contain " + text + ":\n" + content
                        + "\n" + nghttpx.describe() + "\n" + tinyproxy.describe());
            }
            Thread.sleep(50);
        }
    }

    @Test
    void httpRequestReachesThePodThroughNghttpxAndTinyproxy() throws Exception {
        InnerHttp.Result r = InnerHttp.exchange(client, "127.41.0.10:8080", Map.of(),
                InnerHttp.get("/via-nghttpx", "web.interop"), Duration.ofSeconds(15));
        assertThat(r.connectStatus()).as(r.connectBody()).isEqualTo(200);
        assertThat(r.status()).as(r.head() + "\n" + r.body()).isEqualTo(200);
        assertThat(r.header("x-echo-server")).isEqualTo("web-1");
        assertThat(r.body()).startsWith("hello from web-1").contains("path=/via-nghttpx");
        // nghttpx relayed the waypoint's HTTP/2 CONNECT for the pod's address to tinyproxy as HTTP/1.1 CONNECT
        assertThat(awaitInFile(tinyproxyLog, "CONNECT " + POD + ":9080")).contains("CONNECT " + POD + ":9080 HTTP/1.1");
    }

    @Test
    void tcpTunnelThroughNghttpx() throws Exception {
        // a TCP port: the waypoint opens the upstream tunnel through nghttpx before it answers 200
        HboneTestClient.Answer a = client.connect("127.41.0.11:9000", Map.of()).get(15, TimeUnit.SECONDS);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        CompletableFuture<String> echoed = new CompletableFuture<>();
        String payload = "bytes via nghttpx and tinyproxy\n";
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            final StringBuilder b = new StringBuilder();

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                b.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ((ByteBuf) msg).release();
                if (b.length() >= payload.length()) {
                    echoed.complete(b.toString());
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                echoed.complete(b + "<closed>");
            }
        });
        // No half-close round trip here: nghttpx 1.52 does not pass a CONNECT stream's END_STREAM on
        // to its backend (checked with python3-h2 straight against nghttpx: the backend sees EOF only
        // when the HTTP/2 connection goes), so the echo server would never end its side.
        t.writeAndFlush(Unpooled.copiedBuffer(payload, StandardCharsets.US_ASCII));
        assertThat(echoed.get(15, TimeUnit.SECONDS)).isEqualTo(payload);
        t.close();
        awaitInFile(tinyproxyLog, "CONNECT " + POD + ":9000");
    }

    @Test
    void destinationRefusingTheConnectIs503ForTheInnerRequest() throws Exception {
        InnerHttp.Result r = InnerHttp.exchange(client, "127.41.0.12:8080", Map.of(),
                InnerHttp.get("/nope", "forbidden.interop"), Duration.ofSeconds(15));
        assertThat(r.connectStatus()).as(r.connectBody()).isEqualTo(200);
        // tinyproxy answers 403 (port not allowed), nghttpx passes it on as the CONNECT's :status
        assertThat(r.status()).as(r.head() + "\n" + r.body()).isEqualTo(503); // Envoy: 503 UF
        assertThat(r.header("x-waypoint-reason")).isEqualTo("upstream_connect_failure");
        assertThat(r.body()).contains(POD + ":9081").contains("403");
        awaitInFile(tinyproxyLog, "CONNECT " + POD + ":9081");
        // nghttpx's own access log: the waypoint's CONNECT for the pod address, answered 403
        awaitInFile(accessLog, "\"CONNECT " + POD + ":9081 HTTP/2\" 403");
    }

    @Test
    void pythonH2InNghttpxOutEveryHttp2PeerForeign() throws Exception {
        Path python = Interop.pythonWithH2();
        Path certs = mesh.writeCerts("python-client-certs", new SpiffeId("cluster.local", "interop", "python"));
        InetSocketAddress hbone = mesh.waypoint().hboneAddress();
        ExternalProcess p = ExternalProcess.start("hbone_client", List.of(python.toString(),
                Interop.script("hbone_client.py").toString(),
                "--server", hbone.getAddress().getHostAddress() + ":" + hbone.getPort(), "--certs", certs.toString(),
                "--timeout", "20", "--request", "GET /py/{i} HTTP/1.1\\r\\nHost: web.interop\\r\\n\\r\\n",
                "127.41.0.10:8080", "127.41.0.10:8080", "127.41.0.10:8080"), tmp.resolve("logs"));
        processes.add(p);
        assertThat(p.awaitExit(Duration.ofSeconds(45))).as(p.describe()).isZero();
        List<JsonNode> streams = Interop.events(p.lines(), "stream");
        assertThat(streams).hasSize(3);
        for (int i = 0; i < 3; i++) {
            JsonNode s = streams.get(i);
            assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(200);
            assertThat(s.path("inner_status").asInt()).as(s.toString()).isEqualTo(200);
            assertThat(s.path("inner_body").asText()).as(s.toString())
                    .startsWith("hello from web-1").contains("path=/py/" + i + "\n");
            assertThat(s.path("closed").asText()).as(s.toString()).isEqualTo("end_stream");
        }
    }
}
