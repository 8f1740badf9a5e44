package dev.waypoint.server.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.server.TestMesh;
import dev.waypoint.testing.DestinationZtunnel;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * python3-h2 (Debian's, an HTTP/2 stack we did not write) as the inbound HBONE client, i.e. the
 * source node's ztunnel: mutual TLS with a workload certificate, ALPN h2, classic CONNECT with only
 * {@code :method} and {@code :authority}, then HTTP/1.1, h2c or raw TCP in DATA frames. The rest of
 * the mesh is {@link TestMesh} (echo backends, destination-ztunnel stand-ins) on 127.43.x.x.
 */
class PythonH2ClientInteropTest {
    private static final NamespacedName GATEWAY = new NamespacedName("istio-system", "waypoint");
    private static final String WAYPOINT_ID = "spiffe://cluster.local/ns/istio-system/sa/waypoint";
    private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

    private static final String MANIFESTS = """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: istio-system
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
            apiVersion: v1
            kind: Namespace
            metadata:
              name: elsewhere
              labels:
                istio.io/dataplane-mode: ambient
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: waypoint
              namespace: istio-system
              labels:
                istio.io/waypoint-for: service
            spec:
              gatewayClassName: istio-waypoint
              listeners:
              - name: mesh
                port: 15008
                protocol: HBONE
                allowedRoutes:
                  namespaces:
                    from: All            # services of other namespaces may use this waypoint
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-1, namespace: interop, labels: {app: web}}
            spec:
              serviceAccountName: web
              containers: [{name: web, image: example/web, ports: [{containerPort: 9080}]}]
            status: {podIP: 127.43.1.1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web-2, namespace: interop, labels: {app: web}}
            spec:
              serviceAccountName: web
              containers: [{name: web, image: example/web, ports: [{containerPort: 9080}]}]
            status: {podIP: 127.43.1.2}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: tcp-echo-1, namespace: interop, labels: {app: tcp-echo}}
            spec:
              serviceAccountName: tcp-echo
              containers: [{name: echo, image: example/tcp-echo, ports: [{containerPort: 9000}]}]
            status: {podIP: 127.43.1.3}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: grpc-1, namespace: interop, labels: {app: grpc}}
            spec:
              serviceAccountName: grpc
              containers: [{name: grpc, image: example/grpc, ports: [{containerPort: 7070}]}]
            status: {podIP: 127.43.1.4}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: other-1, namespace: elsewhere, labels: {app: other}}
            spec:
              serviceAccountName: other
              containers: [{name: other, image: example/other, ports: [{containerPort: 9080}]}]
            status: {podIP: 127.43.2.1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: interop}
            spec:
              clusterIP: 127.43.0.10
              selector: {app: web}
              ports: [{name: http, port: 8080, targetPort: 9080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: tcp-echo, namespace: interop}
            spec:
              clusterIP: 127.43.0.11
              selector: {app: tcp-echo}
              ports: [{name: tcp, port: 9000}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: grpc, namespace: interop}
            spec:
              clusterIP: 127.43.0.12
              selector: {app: grpc}
              ports: [{name: grpc, port: 7070, appProtocol: kubernetes.io/h2c}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: other, namespace: elsewhere}
            spec:
              clusterIP: 127.43.0.20
              selector: {app: other}
              ports: [{name: http, port: 8080, targetPort: 9080}]
            """;

    @TempDir
    static Path tmp;
    private static TestMesh mesh;
    private static Path clientCerts;
    private static Path python;

    private final List<ExternalProcess> processes = new ArrayList<>();

    @BeforeAll
    static void startMesh() throws Exception {
        python = Interop.pythonWithH2();
        Path manifests = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(manifests.resolve("mesh.yaml"), MANIFESTS);
        mesh = TestMesh.start(manifests, tmp, GATEWAY, TestMesh.Options.ephemeral());
        // the source workload's identity, as its node's ztunnel presents it
        clientCerts = tmp.resolve("client-certs");
        mesh.ca().issue(new SpiffeId("cluster.local", "interop", "client")).writeIstioLayout(clientCerts);
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @AfterEach
    void stopProcesses() {
        processes.forEach(ExternalProcess::close);
        processes.clear();
    }

    /** Runs hbone_client.py to completion; returns its JSON lines. */
    private List<JsonNode> client(String... args) throws Exception {
        InetSocketAddress hbone = mesh.waypoint().hboneAddress();
        List<String> cmd = new ArrayList<>(List.of(python.toString(), Interop.script("hbone_client.py").toString(),
                "--server", hbone.getAddress().getHostAddress() + ":" + hbone.getPort(),
                "--certs", clientCerts.toString(), "--timeout", "20"));
        cmd.addAll(List.of(args));
        ExternalProcess p = ExternalProcess.start("hbone_client-" + processes.size(), cmd, tmp.resolve("logs"));
        processes.add(p);
        int exit = p.awaitExit(Duration.ofSeconds(45));
        assertThat(exit).as("hbone_client.py exit status\n%s", p.describe()).isZero();
        List<JsonNode> out = Interop.jsonLines(p.lines());
        JsonNode tls = out.get(0);
        assertThat(tls.path("event").asText()).isEqualTo("tls");
        // the waypoint negotiated h2 and presented its own identity to a client it did not write
        assertThat(tls.path("alpn").asText()).isEqualTo("h2");
        assertThat(tls.path("version").asText()).isIn("TLSv1.3", "TLSv1.2");
        assertThat(texts(tls.path("peer_uri_sans"))).containsExactly(WAYPOINT_ID);
        assertThat(out.get(out.size() - 1).path("ok").asBoolean()).as(p.describe()).isTrue();
        return out.stream().filter(n -> n.path("event").asText().equals("stream")).toList();
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void connectThenHttp11InsideTheTunnel() throws Exception {
        int before = mesh.ztunnels().seen().size();
        String traceparent = "00-" + TRACE_ID + "-00f067aa0ba902b7-01";
        List<JsonNode> streams = client(
                "--request", "GET /python/{i} HTTP/1.1\\r\\nHost: web.interop\\r\\nUser-Agent: python-h2\\r\\n\\r\\n",
                "--header", "forwarded=for=\"10.9.8.7:43210\";host=web.interop.svc.cluster.local",
                "--header", "baggage=k8s.namespace.name=interop,k8s.deployment.name=client",
                "--header", "traceparent=" + traceparent,
                "127.43.0.10:8080");
        assertThat(streams).hasSize(1);
        JsonNode s = streams.get(0);
        assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(200);
        assertThat(s.path("inner_status").asInt()).as(s.toString()).isEqualTo(200);
        assertThat(s.path("inner_complete").asBoolean()).as(s.toString()).isTrue();
        assertThat(s.path("inner_headers").path("x-echo-server").asText()).isIn("web-1", "web-2");
        assertThat(s.path("inner_body").asText()).startsWith("hello from web-")
                .contains("method=GET", "path=/python/0", "header user-agent=python-h2");
        // the client's END_STREAM after the response ends the tunnel cleanly: the waypoint answers with its own
        assertThat(s.path("closed").asText()).as(s.toString()).isEqualTo("end_stream");

        // and the waypoint re-originated the request over HBONE to the chosen pod's ztunnel
        List<DestinationZtunnel.Seen> seen = mesh.ztunnels().seen();
        assertThat(seen.size()).isGreaterThan(before);
        DestinationZtunnel.Seen out = seen.get(seen.size() - 1);
        assertThat(out.authority()).isIn("127.43.1.1:9080", "127.43.1.2:9080");
        assertThat(out.peer().uri()).isEqualTo(WAYPOINT_ID);
        assertThat(out.headers().get("traceparent")).startsWith("00-" + TRACE_ID + "-").isNotEqualTo(traceparent);
        assertThat(out.headers().get("forwarded")).contains("for=\"10.9.8.7:43210\"");
        assertThat(out.headers().get("baggage")).isEqualTo("k8s.namespace.name=interop,k8s.deployment.name=client");
    }

    @Test
    void authoritiesNotBoundToTheWaypointAre400AndNeverForwarded() throws Exception {
        int before = mesh.ztunnels().seen().size();
        List<JsonNode> streams = client("127.43.0.20:8080", "127.43.99.99:80", "not-an-authority");
        assertThat(streams).hasSize(3);
        JsonNode otherNamespace = streams.get(0);
        JsonNode unknown = streams.get(1);
        JsonNode garbage = streams.get(2);
        for (JsonNode s : streams) {
            assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(400);
            assertThat(s.path("body").asText()).as(s.toString()).isNotBlank();
            assertThat(s.path("closed").asText()).as(s.toString()).isEqualTo("end_stream");
        }
        assertThat(otherNamespace.path("headers").path("x-waypoint-reason").asText()).isEqualTo("target_not_bound");
        assertThat(unknown.path("headers").path("x-waypoint-reason").asText()).isEqualTo("target_not_bound");
        assertThat(garbage.path("headers").path("x-waypoint-reason").asText()).isEqualTo("bad_authority");
        assertThat(mesh.ztunnels().seen()).hasSize(before);
    }

    @Test
    void nonConnectMethodIs400() throws Exception {
        List<JsonNode> streams = client("--method", "GET", "127.43.0.10:8080");
        assertThat(streams).hasSize(1);
        JsonNode s = streams.get(0);
        assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(400);
        assertThat(s.path("headers").path("x-waypoint-reason").asText()).isEqualTo("not_connect");
        assertThat(s.path("body").asText()).contains("CONNECT");
    }

    @Test
    void manyConcurrentConnectStreamsOnOnePythonConnection() throws Exception {
        int n = 12;
        String[] args = new String[n + 2];
        args[0] = "--request";
        args[1] = "GET /stream/{i} HTTP/1.1\\r\\nHost: web.interop\\r\\n\\r\\n";
        for (int i = 0; i < n; i++) {
            args[i + 2] = "127.43.0.10:8080";
        }
        List<JsonNode> streams = client(args);
        assertThat(streams).hasSize(n);
        Set<String> servers = new HashSet<>();
        for (int i = 0; i < n; i++) {
            JsonNode s = streams.get(i);
            assertThat(s.path("index").asInt()).isEqualTo(i);
            assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(200);
            assertThat(s.path("inner_status").asInt()).as(s.toString()).isEqualTo(200);
            // each tunnel got its own answer, not a neighbour's
            assertThat(s.path("inner_body").asText()).as(s.toString()).contains("path=/stream/" + i + "\n");
            assertThat(s.path("closed").asText()).as(s.toString()).isEqualTo("end_stream");
            servers.add(s.path("inner_headers").path("x-echo-server").asText());
        }
        // load balancing across both endpoints of the Service
        assertThat(servers).containsExactlyInAnyOrder("web-1", "web-2");
    }

    @Test
    void h2cInsideTheTunnel() throws Exception {
        // --linger: see h2cTunnelEndsWhenTheClientHalfCloses for why this does not wait for the waypoint's END_STREAM
        List<JsonNode> streams = client("--inner", "h2c", "--path", "/h2c/{i}", "--linger", "1",
                "127.43.0.12:7070", "127.43.0.12:7070");
        assertThat(streams).hasSize(2);
        for (int i = 0; i < 2; i++) {
            JsonNode s = streams.get(i);
            assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(200);
            assertThat(s.path("inner_status").asInt()).as(s.toString()).isEqualTo(200);
            assertThat(s.path("inner_complete").asBoolean()).as(s.toString()).isTrue();
            assertThat(s.path("inner_headers").path("x-echo-server").asText()).isEqualTo("grpc-1");
            assertThat(s.path("inner_body").asText()).startsWith("hello from grpc-1").contains("path=/h2c/" + i + "\n");
        }
    }

    /**
     * After its inner HTTP/2 connection is done (response received, GOAWAY sent), the client
     * half-closes the tunnel (END_STREAM: the source app closed its socket). The waypoint must end
     * its side too, as it does for HTTP/1.1 and TCP tunnels; otherwise the tunnel, its HBONE stream
     * slot and the upstream connection stay open until the tunnel idle timeout (1 h by default).
     */
    @Test
    void h2cTunnelEndsWhenTheClientHalfCloses() throws Exception {
        List<JsonNode> streams = client("--inner", "h2c", "--path", "/h2c/{i}", "--linger", "5", "127.43.0.12:7070");
        assertThat(streams).hasSize(1);
        JsonNode s = streams.get(0);
        assertThat(s.path("inner_status").asInt()).as(s.toString()).isEqualTo(200);
        assertThat(s.path("closed").asText()).as(s.toString()).isIn("end_stream", "reset:0");
    }

    @Test
    void rawTcpInsideTheTunnelWithHalfClose() throws Exception {
        List<JsonNode> streams = client("--inner", "tcp", "--payload", "ping {i} from python\\n",
                "127.43.0.11:9000", "127.43.0.11:9000", "127.43.0.11:9000");
        assertThat(streams).hasSize(3);
        for (int i = 0; i < 3; i++) {
            JsonNode s = streams.get(i);
            assertThat(s.path("status").asInt()).as(s.toString()).isEqualTo(200);
            // the echo backend saw our END_STREAM as EOF and closed its side: all bytes back, then END_STREAM
            assertThat(s.path("inner_body").asText()).as(s.toString()).isEqualTo("ping " + i + " from python\n");
            assertThat(s.path("closed").asText()).as(s.toString()).isEqualTo("end_stream");
        }
    }
}
