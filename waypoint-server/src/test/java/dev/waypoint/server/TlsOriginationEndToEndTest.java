package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DestinationRule {@code tls} through the real server: a client speaks plaintext HTTP/1.1 in its
 * HBONE tunnel to a Service whose pod is outside the mesh and serves only TLS (a Netty server with
 * a certificate of the test CA); the waypoint originates SIMPLE TLS (CA file, SNI, SAN) or MUTUAL
 * (client certificate files, the server requires one), also to a ServiceEntry's endpoint when the
 * rule names the entry's host. A wrong CA or SAN gets 503 {@code upstream_connect_failure} (flag UF),
 * and the TLS server sees plaintext only when no rule asks for TLS. Loopback range 127.200.x.x.
 */
class TlsOriginationEndToEndTest {
    static final String MESH = E2eManifests.WAYPOINT_AND_APPS + """
            apiVersion: v1
            kind: Service
            metadata: {name: secure, namespace: apps}
            spec:
              clusterIP: 127.200.0.1
              selector: {app: secure}
              ports:
              - {name: http, port: 80, targetPort: 8443}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: secure-v1, namespace: apps, labels: {app: secure, istio.io/dataplane-mode: none}}
            spec: {serviceAccountName: secure}
            status: {podIP: 127.200.1.1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: strict, namespace: apps}
            spec:
              clusterIP: 127.200.0.2
              selector: {app: strict}
              ports:
              - {name: http, port: 80, targetPort: 8443}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: strict-v1, namespace: apps, labels: {app: strict, istio.io/dataplane-mode: none}}
            spec: {serviceAccountName: strict}
            status: {podIP: 127.200.1.2}
            ---
            # in the mesh: HBONE to its ztunnel, and the rule's TLS inside the tunnel
            apiVersion: v1
            kind: Service
            metadata: {name: meshsecure, namespace: apps}
            spec:
              clusterIP: 127.200.0.4
              selector: {app: meshsecure}
              ports:
              - {name: http, port: 80, targetPort: 8443}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: meshsecure-v1, namespace: apps, labels: {app: meshsecure}}
            spec: {serviceAccountName: meshsecure}
            status: {podIP: 127.200.1.4}
            ---
            # outside the mesh, declared by a ServiceEntry: the TLS-only server of secure-v1
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: secure-ext, namespace: apps}
            spec:
              hosts: [secure.example.com]
              addresses: [127.200.0.3]
              ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8443}]
              location: MESH_EXTERNAL
              resolution: STATIC
              endpoints: [{address: 127.200.1.1}]
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    static Path certs;
    static Channel secure;
    static Channel strict;
    static Channel meshSecure;
    static final AtomicInteger plaintextSeen = new AtomicInteger();
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MESH);
        Files.writeString(configDir.resolve("rules.yaml"), "");
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        // the fixtures start an echo backend on every pod port: the TLS servers take them
        mesh.backend("127.200.1.1", 8443).close();
        mesh.backend("127.200.1.2", 8443).close();
        mesh.backend("127.200.1.4", 8443).close();
        certs = Files.createDirectories(tmp.resolve("tls"));
        TestCa.Issued server = mesh.ca().issueServer("secure.example.com");
        server.writeIstioLayout(certs.resolve("server"));
        mesh.ca().issue(dev.waypoint.model.mesh.SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/waypoint")
                .orElseThrow()).writeIstioLayout(certs.resolve("client"));
        TestCa.create("cluster.local").issueServer("x").writeIstioLayout(certs.resolve("other"));
        secure = tlsServer(SslContextBuilder.forServer(server.key(), server.chain()).sslProvider(SslProvider.JDK).build(),
                new InetSocketAddress("127.200.1.1", 8443));
        strict = tlsServer(SslContextBuilder.forServer(server.key(), server.chain()).sslProvider(SslProvider.JDK)
                .trustManager(mesh.ca().root()).clientAuth(ClientAuth.REQUIRE).build(), new InetSocketAddress("127.200.1.2", 8443));
        // behind the pod's ztunnel stand-in, which relays the tunnel's bytes to podIP:8443
        meshSecure = tlsServer(SslContextBuilder.forServer(server.key(), server.chain()).sslProvider(SslProvider.JDK).build(),
                new InetSocketAddress("127.200.1.4", 8443));
    }

    @AfterAll
    static void stopMesh() throws Exception {
        if (secure != null) {
            secure.close().sync();
        }
        if (strict != null) {
            strict.close().sync();
        }
        if (meshSecure != null) {
            meshSecure.close().sync();
        }
        if (mesh != null) {
            mesh.close();
        }
    }

    /** TLS only; answers {@code tls sni=<name> client=<client SANs> path=<path>}. */
    static Channel tlsServer(SslContext ctx, InetSocketAddress bind) throws InterruptedException {
        return new ServerBootstrap().group(mesh.group()).channel(EventLoops.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        SslHandler ssl = ctx.newHandler(c.alloc());
                        c.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext x, Object msg) {
                                // a TLS record starts with 0x16 (handshake); anything else is plaintext
                                io.netty.buffer.ByteBuf b = (io.netty.buffer.ByteBuf) msg;
                                if (b.isReadable() && b.getByte(b.readerIndex()) != 0x16) {
                                    plaintextSeen.incrementAndGet();
                                }
                                x.pipeline().remove(this);
                                x.fireChannelRead(msg);
                            }
                        }, ssl, new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
                                new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext x, FullHttpRequest req) throws Exception {
                                        ExtendedSSLSession s = (ExtendedSSLSession) ssl.engine().getSession();
                                        String sni = "-";
                                        for (SNIServerName n : s.getRequestedServerNames()) {
                                            sni = ((SNIHostName) n).getAsciiName();
                                        }
                                        String client = "-";
                                        try {
                                            X509Certificate leaf = (X509Certificate) s.getPeerCertificates()[0];
                                            client = String.valueOf(leaf.getSubjectAlternativeNames().iterator().next().get(1));
                                        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                                            // none presented
                                        }
                                        byte[] body = ("tls sni=" + sni + " client=" + client + " path=" + req.uri())
                                                .getBytes(StandardCharsets.UTF_8);
                                        DefaultFullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                                        res.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
                                        x.writeAndFlush(res);
                                    }
                                });
                    }
                }).bind(bind).sync().channel();
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
    }

    @AfterEach
    void disconnect() throws Exception {
        client.close();
    }

    /** Writes the rules and waits until the waypoint runs the generation that has them; its warnings and errors. */
    static List<String> rules(String yaml) throws Exception {
        if (!yaml.equals(Files.readString(configDir.resolve("rules.yaml")))) {
            long gen = mesh.waypoint().snapshots().current().generation();
            Files.writeString(configDir.resolve("rules.yaml"), yaml);
            await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
        }
        return mesh.waypoint().snapshots().current().problems().stream().map(Object::toString)
                .filter(p -> !p.contains(": note: ")).toList(); // (the entry's "bound to this waypoint" note)
    }

    static String rule(String service, String tls) {
        return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: " + service
                + ", namespace: apps}\nspec:\n  host: " + service + "\n  trafficPolicy:\n    tls: " + tls + "\n";
    }

    static String file(String layout, String name) {
        return certs.resolve(layout).resolve(name).toString();
    }

    /** One GET on a fresh tunnel to {@code vip} with the Host the servers' certificate names: status and body. */
    private String get(String vip, String path) throws Exception {
        return get(vip, path, "secure.example.com");
    }

    /** One GET on a fresh tunnel to {@code vip} with {@code host}: status and body. */
    private String get(String vip, String path, String host) throws Exception {
        HboneTestClient.Answer a = client.connect(vip + ":80", java.util.Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, host);
        t.writeAndFlush(r);
        try {
            FullHttpResponse res = Tunnels.take(q);
            try {
                return res.status().code() + " " + res.content().toString(StandardCharsets.UTF_8);
            } finally {
                res.release();
            }
        } finally {
            t.close();
        }
    }

    @Test
    void aRuleOnAServiceEntryHostOriginatesTlsToItsEndpoints() throws Exception {
        assertThat(rules("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ext, namespace: apps}\n"
                + "spec:\n  host: secure.example.com\n  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: "
                + file("server", "root-cert.pem") + ", sni: secure.example.com}\n"
                + "    outlierDetection: {consecutive5xxErrors: 2}\n")).isEmpty();
        assertThat(get("127.200.0.3", "/se")).isEqualTo("200 tls sni=secure.example.com client=- path=/se");
        assertThat(admin("/config_dump")).contains("serviceEntryTrafficPolicies").contains("serviceentry apps/secure-ext:80")
                .contains("SIMPLE sni=secure.example.com");
    }

    @Test
    void aRuleOnAServiceInTheMeshIsTlsInsideTheHboneTunnel() throws Exception {
        assertThat(rules(rule("meshsecure", "{mode: SIMPLE, caCertificates: " + file("server", "root-cert.pem")
                + ", sni: secure.example.com, subjectAltNames: [secure.example.com]}"))).isEmpty();
        int plaintext = plaintextSeen.get();
        // the response comes from the TLS server: the rule's TLS ran inside the tunnel to the pod's ztunnel
        assertThat(get("127.200.0.4", "/m")).isEqualTo("200 tls sni=secure.example.com client=- path=/m");
        assertThat(mesh.ztunnels().seen()).anySatisfy(c -> assertThat(c.authority()).isEqualTo("127.200.1.4:8443"));
        assertThat(plaintextSeen.get()).isEqualTo(plaintext);
        rules("");
    }

    static String admin(String path) throws Exception {
        java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
        java.net.InetSocketAddress a = mesh.waypoint().adminAddress("admin");
        return c.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + a.getPort() + path))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void simpleAndMutualOriginateTlsAndBadTrustFailsClosed() throws Exception {
        // SIMPLE against the CA file, with SNI and the SAN checked
        assertThat(rules(rule("secure", "{mode: SIMPLE, caCertificates: " + file("server", "root-cert.pem")
                + ", sni: secure.example.com, subjectAltNames: [secure.example.com]}")
                + "---\n" + rule("strict", "{mode: MUTUAL, caCertificates: " + file("server", "root-cert.pem")
                + ", clientCertificate: " + file("client", "cert-chain.pem") + ", privateKey: " + file("client", "key.pem") + "}")))
                .isEmpty();
        assertThat(get("127.200.0.1", "/a")).isEqualTo("200 tls sni=secure.example.com client=- path=/a");
        // MUTUAL: the server requires a client certificate and sees the waypoint's; no sni is written, so the
        // request's Host is the server name, and the certificate must carry it (Envoy's auto_sni and
        // auto_san_validation, as Istio sets them)
        assertThat(get("127.200.0.2", "/b")).isEqualTo("200 tls sni=secure.example.com client=spiffe://cluster.local/ns/istio-system/sa/waypoint path=/b");
        assertThat(get("127.200.0.2", "/b2", "strict.apps:80")).startsWith("503 upstream_connect_failure")
                .contains("have none of [strict.apps]");

        // a SAN the server does not have, and a CA that did not sign it: 503, never plaintext
        rules(rule("secure", "{mode: SIMPLE, caCertificates: " + file("server", "root-cert.pem")
                + ", subjectAltNames: [other.example.com]}") + "---\n" + rule("strict", "{mode: SIMPLE, caCertificates: "
                + file("other", "root-cert.pem") + "}"));
        assertThat(get("127.200.0.1", "/c")).startsWith("503 upstream_connect_failure")
                .contains("SANs [secure.example.com] have none of [other.example.com]");
        assertThat(get("127.200.0.2", "/d")).startsWith("503 upstream_connect_failure").contains("TLS (DestinationRule tls SIMPLE auto_sni=secure.example.com san=[secure.example.com]) failed");
        // insecureSkipVerify accepts what the CA check refused
        rules(rule("strict", "{mode: MUTUAL, insecureSkipVerify: true"
                + ", clientCertificate: " + file("client", "cert-chain.pem") + ", privateKey: " + file("client", "key.pem") + "}"));
        assertThat(get("127.200.0.2", "/e")).startsWith("200 tls sni=secure.example.com client=spiffe://");

        // a file that is not there: an error naming the field, and 503
        List<String> problems = rules(rule("secure", "{mode: SIMPLE, caCertificates: " + tmp.resolve("missing.pem") + "}"));
        assertThat(problems).singleElement().asString().contains("spec.trafficPolicy.tls.caCertificates")
                .contains("missing.pem");
        assertThat(get("127.200.0.1", "/f")).startsWith("503 upstream_connect_failure").contains("caCertificates");
        // without a rule: plaintext, which the TLS-only pod cannot answer
        rules("");
        assertThat(get("127.200.0.1", "/g")).startsWith("50");
        assertThat(plaintextSeen.get()).isEqualTo(1);
    }

    /** A Secret of {@code namespace} with base64 {@code data} of the files named ({@code key: layout/file}). */
    static String tlsSecret(String namespace, String name, String type, String... keyFiles) throws java.io.IOException {
        StringBuilder data = new StringBuilder();
        for (String kf : keyFiles) {
            String[] p = kf.split(": ");
            String[] f = p[1].split("/");
            data.append("\n  ").append(p[0]).append(": ").append(java.util.Base64.getEncoder().encodeToString(
                    Files.readAllBytes(certs.resolve(f[0]).resolve(f[1]))));
        }
        return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + namespace + "}\ntype: " + type
                + "\ndata:" + data + "\n";
    }

    @Test
    void credentialNameTakesTheSecretsOfTheWaypointsNamespace() throws Exception {
        int plaintext = plaintextSeen.get();
        // a TLS Secret with the client certificate and its CA (kubectl create secret tls ... plus ca.crt), and
        // a generic one holding only the roots; both in the waypoint's namespace, as Istio reads them for a gateway
        String secrets = tlsSecret("istio-system", "strict-client", "kubernetes.io/tls", "tls.crt: client/cert-chain.pem",
                "tls.key: client/key.pem", "ca.crt: server/root-cert.pem") + "---\n"
                + tlsSecret("istio-system", "secure-ca", "Opaque", "cacert: server/root-cert.pem");
        assertThat(rules(secrets + "---\n" + rule("secure", "{mode: SIMPLE, credentialName: secure-ca, sni: secure.example.com}")
                + "---\n" + rule("strict", "{mode: MUTUAL, credentialName: strict-client}"))).isEmpty();
        assertThat(get("127.200.0.1", "/a")).isEqualTo("200 tls sni=secure.example.com client=- path=/a");
        assertThat(get("127.200.0.2", "/b")).isEqualTo("200 tls sni=secure.example.com client=spiffe://cluster.local/ns/istio-system/sa/waypoint path=/b");

        // <name>-cacert is the roots' Secret when there is one: here of a CA that did not sign the server
        List<String> problems = rules(secrets + "---\n" + tlsSecret("istio-system", "strict-client-cacert", "Opaque",
                "ca.crt: other/root-cert.pem") + "---\n" + rule("strict", "{mode: MUTUAL, credentialName: strict-client}"));
        assertThat(problems).isEmpty();
        assertThat(get("127.200.0.2", "/c")).startsWith("503 upstream_connect_failure").contains("TLS (DestinationRule tls MUTUAL auto_sni=secure.example.com san=[secure.example.com]) failed");

        // a Secret of the rule's own namespace is not the waypoint's: an error naming the field, and 503
        problems = rules(tlsSecret("apps", "apps-ca", "Opaque", "cacert: server/root-cert.pem") + "---\n"
                + rule("secure", "{mode: SIMPLE, credentialName: apps-ca}"));
        assertThat(problems).singleElement().asString().contains("spec.trafficPolicy.tls.credentialName")
                .contains("no TLS Secret istio-system/apps-ca");
        assertThat(get("127.200.0.1", "/d")).startsWith("503 upstream_connect_failure").contains("credentialName");

        // the Secret arriving later (a new generation) is used from then on
        assertThat(rules(tlsSecret("istio-system", "apps-ca", "Opaque", "cacert: server/root-cert.pem") + "---\n"
                + rule("secure", "{mode: SIMPLE, credentialName: apps-ca}"))).isEmpty();
        assertThat(get("127.200.0.1", "/e")).isEqualTo("200 tls sni=secure.example.com client=- path=/e");
        assertThat(plaintextSeen.get()).isEqualTo(plaintext);
    }
}
