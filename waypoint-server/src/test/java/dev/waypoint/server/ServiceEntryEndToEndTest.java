package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestDnsServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ServiceEntries through the whole waypoint ({@code e2e/service-entry-mesh.yaml}): HBONE in to a
 * ServiceEntry address, out to its endpoints — static ones outside the mesh (plaintext), a Pod and
 * a WorkloadEntry picked by {@code workloadSelector} inside it (HBONE to their ztunnels), names
 * resolved by a DNS server on a loopback UDP port ({@code resolution: DNS}, cached for the TTL),
 * and {@code resolution: NONE} passing through to the original destination. Loopback range
 * 127.110.x.x.
 */
class ServiceEntryEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static TestDnsServer dns;
    static DestinationZtunnel vmZtunnel;
    static final List<EchoServer> echoes = new ArrayList<>();
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = ServiceEntryEndToEndTest.class.getResourceAsStream("/e2e/service-entry-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        dns = TestDnsServer.start(new InetSocketAddress("127.110.9.1", 0));
        dns.answer("api.example.test", new TestDnsServer.Records(List.of(InetAddress.getByName("127.110.1.3")), 300));
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral(),
                s -> s.withDnsServers(List.of(dns.address())));
        for (String[] e : new String[][] {{"127.110.1.1", "8080", "static-1"}, {"127.110.1.2", "8080", "static-2"},
                {"127.110.1.1", "9000", "static-1"}, {"127.110.1.2", "9000", "static-2"},
                {"127.110.2.1", "8080", "legacy-pod"}, {"127.110.3.1", "8080", "legacy-vm"},
                {"127.110.1.3", "8081", "dns-1"}, {"127.110.1.3", "9001", "dns-1"}, {"127.110.1.4", "7070", "passthrough"}}) {
            echoes.add(EchoServer.start(mesh.group(), new InetSocketAddress(e[0], Integer.parseInt(e[1])), e[2]));
        }
        // the WorkloadEntry's ztunnel, on the mesh's HBONE port, presenting the entry's service account
        vmZtunnel = DestinationZtunnel.start(mesh.group(), Map.of(InetAddress.getByName("127.110.3.1"),
                        mesh.ca().issue(new SpiffeId("cluster.local", "egress", "legacy-vm")).material()),
                mesh.ztunnels().port(), hp -> new InetSocketAddress(hp.address(), hp.port()));
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
        if (vmZtunnel != null) {
            vmZtunnel.close();
        }
        echoes.forEach(EchoServer::close);
        if (dns != null) {
            dns.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() {
        client.close();
    }

    private Channel tunnel(String authority) throws Exception {
        HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        return a.tunnel();
    }

    /** Which echo servers answer {@code n} GETs to {@code authority}, one tunnel, HTTP/1.1. */
    private Set<String> answeredBy(String authority, int n) throws Exception {
        return answeredBy(authority, "/se/", n);
    }

    private Set<String> answeredBy(String authority, String path, int n) throws Exception {
        Channel t = tunnel(authority);
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        Set<String> servers = new HashSet<>();
        for (int i = 0; i < n; i++) {
            FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path + i);
            r.headers().set(HttpHeaderNames.HOST, "example.test");
            t.writeAndFlush(r);
            FullHttpResponse resp = Tunnels.take(q);
            assertThat(resp.status().code()).as("GET %s: %s", authority, resp.content().toString(StandardCharsets.UTF_8))
                    .isEqualTo(200);
            servers.add(resp.headers().get("x-echo-server"));
            resp.release();
        }
        t.close();
        return servers;
    }

    /** Bytes sent through a TCP tunnel and what came back before the upstream's FIN. */
    private String echo(String authority, String payload) throws Exception {
        Channel t = tunnel(authority);
        CompletableFuture<String> echoed = new CompletableFuture<>();
        StringBuilder got = new StringBuilder();
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof ChannelInputShutdownEvent) {
                    echoed.complete(got.toString());
                }
            }
        });
        t.write(Unpooled.copiedBuffer(payload, StandardCharsets.UTF_8));
        t.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        String out = echoed.get(10, TimeUnit.SECONDS);
        t.close();
        return out;
    }

    @Test
    void staticEndpointsOutsideTheMeshArePlaintextAndAllServe() throws Exception {
        int hboneBefore = mesh.ztunnels().seen().size();
        assertThat(answeredBy("127.110.0.1:80", 6)).containsExactlyInAnyOrder("static-1", "static-2");
        assertThat(mesh.ztunnels().seen()).as("no HBONE for MESH_EXTERNAL endpoints").hasSize(hboneBefore);
    }

    @Test
    void anEntryWithoutAddressesIsServedOnTheAddressIstiodAllocated() throws Exception {
        assertThat(answeredBy("127.110.0.20:80", 2)).containsExactly("static-1");
    }

    @Test
    void aTcpPortOfAServiceEntryRelaysBytes() throws Exception {
        assertThat(echo("127.110.0.1:9000", "\u0001tcp through a ServiceEntry")).isEqualTo("\u0001tcp through a ServiceEntry");
    }

    @Test
    void workloadSelectorPicksThePodAndTheWorkloadEntryReachedOverHbone() throws Exception {
        assertThat(answeredBy("127.110.0.2:80", 6)).containsExactlyInAnyOrder("legacy-pod", "legacy-vm");
        assertThat(mesh.ztunnels().seen()).anySatisfy(s -> assertThat(s.authority()).isEqualTo("127.110.2.1:8080"));
        assertThat(vmZtunnel.seen()).anySatisfy(s -> {
            assertThat(s.authority()).isEqualTo("127.110.3.1:8080");
            assertThat(s.peer()).as("the destination sees the waypoint")
                    .isEqualTo(new SpiffeId("cluster.local", "istio-system", "waypoint"));
        });
    }

    @Test
    void dnsNamesAreResolvedOnceWithinTheirTtl() throws Exception {
        // a TCP tunnel waits for the first answer before its CONNECT is answered
        assertThat(echo("127.110.0.3:9001", "resolved")).isEqualTo("resolved");
        assertThat(answeredBy("127.110.0.3:80", 4)).containsExactly("dns-1");
        assertThat(echo("127.110.0.3:9001", "again")).isEqualTo("again");
        assertThat(dns.questions("api.example.test")).as("one A question: the answer's TTL is 300 s").isEqualTo(1);
    }

    @Test
    void httpRouteBackendRefsNameServiceEntriesByHostnameAndByName() throws Exception {
        assertThat(answeredBy("127.110.0.5:80", "/static/", 6)).containsExactlyInAnyOrder("static-1", "static-2");
        assertThat(answeredBy("127.110.0.5:80", "/legacy/", 6)).containsExactlyInAnyOrder("legacy-pod", "legacy-vm");
        // the DNS entry is resolved when the snapshot names it: wait for the answer through its TCP port
        assertThat(echo("127.110.0.3:9001", "warm")).isEqualTo("warm");
        assertThat(answeredBy("127.110.0.5:80", "/dns/", 2)).containsExactly("dns-1");
    }

    @Test
    void resolutionNonePassesThroughToTheOriginalDestination() throws Exception {
        assertThat(echo("127.110.1.4:7070", "straight through")).isEqualTo("straight through");
    }

    @Test
    void aServiceEntryNotBoundHereIsRefused() throws Exception {
        HboneTestClient.Answer a = client.connect("127.110.0.9:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.body()).contains("ServiceEntry apps/unbound has no istio.io/use-waypoint label");
        HboneTestClient.Answer port = client.connect("127.110.0.1:81", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(port.status()).isEqualTo(400);
        assertThat(port.body()).contains("is an address of ServiceEntry egress/static-ext but port 81 is not one of its ports");
    }

    @Test
    void theConfigDumpShowsServiceEntriesTheirBindingsAndEndpoints() throws Exception {
        HttpResponse<String> dump = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(dump.statusCode()).isEqualTo(200);
        assertThat(dump.body())
                .contains("\"127.110.0.1:80\" : \"egress/static-ext static.example.test (http, static)\"")
                .contains("\"egress/legacy:80\" : [ \"127.110.2.1:8080 (hbone spiffe://cluster.local/ns/egress/sa/legacy-pod)\", "
                        + "\"127.110.3.1:8080 (hbone spiffe://cluster.local/ns/egress/sa/legacy-vm)\" ]")
                .contains("\"dns api.example.test:8081 (plaintext)\"")
                .contains("\"kind\" : \"WorkloadEntry\"")
                .contains("bound to this waypoint: hosts [static.example.test]");
    }
}
