package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestDnsServer;
import io.netty.buffer.Unpooled;
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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * HTTPRoute {@code RequestMirror} filters whose backendRef is a ServiceEntry
 * ({@code e2e/service-entry-mirror-mesh.yaml}): by kind ({@code networking.istio.io/ServiceEntry},
 * another namespace, with a ReferenceGrant) on the rule, and by host ({@code Hostname}) on a
 * backendRef. The copy (host {@code -shadow}) reaches one of the entry's STATIC endpoints on the entry's target port, plaintext (the entry is
 * MESH_EXTERNAL), while the client gets the primary pod's answer; a {@code resolution: DNS} entry
 * gets it at the address its host resolves to; a mirror to an entry without endpoints changes
 * nothing. Loopback range 127.37.x.x.
 */
class ServiceEntryMirrorEndToEndTest {
    @TempDir
    static Path tmp;
    static Path configDir;
    static TestMesh mesh;
    /** egress/audit's two endpoints (port 80 -> 8080), then apps/audit-local's (9000 -> 8081). */
    static final List<EchoServer> audit = new ArrayList<>();
    static EchoServer auditLocal;
    /** egress/audit-dns's endpoint, the address the DNS server gives its host (port 80 -> 8082). */
    static EchoServer auditDns;
    static TestDnsServer dns;
    HboneTestClient client;
    Channel tunnel;
    BlockingQueue<FullHttpResponse> responses;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = ServiceEntryMirrorEndToEndTest.class.getResourceAsStream("/e2e/service-entry-mirror-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        dns = TestDnsServer.start(new InetSocketAddress("127.37.9.1", 0));
        dns.answer("dns-audit.example.test", new TestDnsServer.Records(List.of(InetAddress.getByName("127.37.4.1")), 300));
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> s.withDnsServers(List.of(dns.address())));
        audit.add(EchoServer.start(mesh.group(), new InetSocketAddress("127.37.2.1", 8080), "audit-1"));
        audit.add(EchoServer.start(mesh.group(), new InetSocketAddress("127.37.2.2", 8080), "audit-2"));
        auditLocal = EchoServer.start(mesh.group(), new InetSocketAddress("127.37.3.1", 8081), "audit-local");
        auditDns = EchoServer.start(mesh.group(), new InetSocketAddress("127.37.4.1", 8082), "audit-dns");
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
        audit.forEach(EchoServer::close);
        for (EchoServer e : new EchoServer[] {auditLocal, auditDns}) {
            if (e != null) {
                e.close();
            }
        }
        if (dns != null) {
            dns.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        HboneTestClient.Answer a = client.connect("127.37.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        tunnel = a.tunnel();
        responses = Tunnels.http1(tunnel);
    }

    @AfterEach
    void close() {
        tunnel.close();
        client.close();
    }

    private FullHttpResponse send(HttpMethod method, String path, String body) throws Exception {
        FullHttpRequest r = body == null ? new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path)
                : new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        if (body != null) {
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        }
        tunnel.writeAndFlush(r);
        return Tunnels.take(responses);
    }

    private static List<String> auditRequests() {
        List<String> all = new ArrayList<>();
        audit.forEach(e -> all.addAll(e.requests()));
        return all;
    }

    private static void assertAnsweredByThePrimary(FullHttpResponse r, String body) {
        try {
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.headers().get("x-echo-server")).isEqualTo("web-1");
            if (body != null) {
                assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo(body);
            }
        } finally {
            r.release();
        }
    }

    @Test
    void aMirrorToAServiceEntryByKindReachesOneOfItsStaticEndpointsAndTheClientGetsThePrimarysAnswer() throws Exception {
        int before = auditRequests().size();
        assertAnsweredByThePrimary(send(HttpMethod.POST, "/kind/a?id=1", "mirror me"), "mirror me");
        await().atMost(Duration.ofSeconds(10)).until(() -> auditRequests().size() > before);
        assertThat(auditRequests().subList(before, auditRequests().size())).singleElement().asString()
                .isEqualTo("POST /kind/a?id=1 host=web.apps-shadow");
        // a GET without a body too; the primary never sees copies; the entry without endpoints took nothing from the client
        assertAnsweredByThePrimary(send(HttpMethod.GET, "/kind/b", null), null);
        await().atMost(Duration.ofSeconds(10)).until(() -> auditRequests().size() == before + 2);
        assertThat(mesh.backend("127.37.1.1", 8080).requests()).noneMatch(s -> s.contains("-shadow"));
    }

    @Test
    void aMirrorOnABackendRefToAServiceEntryByHostUsesTheEndpointsPort() throws Exception {
        int before = auditLocal.requests().size();
        assertAnsweredByThePrimary(send(HttpMethod.GET, "/host/x", null), null);
        await().atMost(Duration.ofSeconds(10)).until(() -> auditLocal.requests().size() > before);
        assertThat(auditLocal.requests().get(before)).startsWith("GET /host/x host=web.apps-shadow");
    }

    @Test
    void aMirrorToADnsServiceEntryReachesTheAddressItsHostResolvesTo() throws Exception {
        // the entry's name is resolved once the snapshot names it; a copy made before the first answer is
        // dropped (as a request to it would get 503), so send until one arrives
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            assertAnsweredByThePrimary(send(HttpMethod.GET, "/dns/x", null), null);
            return !auditDns.requests().isEmpty();
        });
        assertThat(auditDns.requests()).allMatch(s -> s.equals("GET /dns/x host=web.apps-shadow"));
        assertThat(dns.questions("dns-audit.example.test")).as("one A question: the answer's TTL is 300 s").isEqualTo(1);
    }

    @Test
    void validateReportsNothingForTheMirrors() {
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
        assertThat(exit).as(printed + err).isZero();
        assertThat(printed).doesNotContain("mirror is dropped", "HTTPRoute apps/web");
    }
}
