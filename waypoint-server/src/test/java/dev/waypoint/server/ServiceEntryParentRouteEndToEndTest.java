package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * HTTPRoutes whose parent is a ServiceEntry ({@code e2e/service-entry-parent-mesh.yaml}, Istio's
 * egress waypoint case): a CONNECT to the entry's address sees the route (a path to a second
 * ServiceEntry with a request header, the rest to the entry itself with a response header); a port
 * the parentRef does not name, and the entry without routes, route by default. {@code validate},
 * {@code explain} and {@code /config_dump} show it. Loopback range 127.35.x.x.
 */
class ServiceEntryParentRouteEndToEndTest {
    @TempDir
    static Path tmp;
    static Path configDir;
    static TestMesh mesh;
    static final List<EchoServer> echoes = new ArrayList<>();
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = ServiceEntryParentRouteEndToEndTest.class.getResourceAsStream("/e2e/service-entry-parent-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        echoes.add(EchoServer.start(mesh.group(), new InetSocketAddress("127.35.1.1", 8080), "api"));
        echoes.add(EchoServer.start(mesh.group(), new InetSocketAddress("127.35.2.1", 8080), "api-v2"));
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
        echoes.forEach(EchoServer::close);
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() {
        client.close();
    }

    /** One GET through a tunnel to {@code authority}: "status server x-routed" and the echoed request. */
    private String[] get(String authority, String path) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        try {
            BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
            r.headers().set(HttpHeaderNames.HOST, "api.example.test");
            t.writeAndFlush(r);
            FullHttpResponse resp = Tunnels.take(q);
            try {
                return new String[] {resp.status().code() + " " + resp.headers().get("x-echo-server") + " "
                        + resp.headers().get("x-routed"), resp.content().toString(StandardCharsets.UTF_8)};
            } finally {
                resp.release();
            }
        } finally {
            t.close();
        }
    }

    @Test
    void theRouteOfTheServiceEntrySendsV2ToTheSecondEntryWithItsHeader() throws Exception {
        String[] r = get("127.35.0.1:80", "/v2/items");
        assertThat(r[0]).isEqualTo("200 api-v2 null");
        assertThat(r[1]).contains("header x-route=v2");
    }

    @Test
    void theOtherPathsGoToTheEntryItselfWithTheResponseHeader() throws Exception {
        String[] r = get("127.35.0.1:80", "/items");
        assertThat(r[0]).isEqualTo("200 api api-routes");
        assertThat(r[1]).doesNotContain("x-route=");
    }

    @Test
    void aPortTheParentRefDoesNotNameAndAnEntryWithoutRoutesRouteByDefault() throws Exception {
        assertThat(get("127.35.0.1:8080", "/v2/items")[0]).isEqualTo("200 api null");
        assertThat(get("127.35.0.2:80", "/items")[0]).isEqualTo("200 api-v2 null");
    }

    @Test
    void theConfigDumpShowsTheRoutesUnderTheServiceEntryPort() throws Exception {
        HttpResponse<String> dump = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(dump.statusCode()).isEqualTo(200);
        assertThat(dump.body()).contains("\"ServiceEntry egress/api:80\"", "api-routes.egress.v2", "api-routes.egress.rest")
                .doesNotContain("ServiceEntry egress/api:8080\"", "wrong-port.egress", "foreign.apps");
    }

    @Test
    void explainShowsTheRouteAndValidateTheParentRefsThatAttachNowhere() {
        ExplainTest.Run r = ExplainTest.explainIn(configDir.toString(), "--from", "spiffe://cluster.local/ns/apps/sa/client",
                "GET", "http://127.35.0.1/v2/items");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("target  ServiceEntry egress/api (api.example.test) port 80 (127.35.0.1:80, http)",
                "result  forwarded to ServiceEntry egress/api-v2 (v2.api.example.test):80 on route api-routes.egress.v2");

        StringWriter err = new StringWriter();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int exit;
        try {
            CommandLine cl = new CommandLine(new Main());
            cl.setErr(new PrintWriter(err, true));
            cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
            exit = cl.execute("validate", configDir.toString());
        } finally {
            System.setOut(saved);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(printed).isZero(); // warnings only: the rest of the config serves
        assertThat(printed).contains(
                "HTTPRoute egress/wrong-port: spec.parentRefs[0]: port: 9999 (expected: a port of ServiceEntry egress/api;"
                        + " the parentRef is ignored)",
                "HTTPRoute apps/foreign: spec.parentRefs[0]: namespace: egress (expected: apps, the route's own, or istio-system,"
                        + " the waypoint's: a waypoint uses the routes of a ServiceEntry only from the entry's namespace or its own;"
                        + " the parentRef is ignored)")
                .doesNotContain("api-routes");
    }
}
