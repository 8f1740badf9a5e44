package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TlsSecretSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.TlsSpec;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DestinationRule {@code tls} origination through {@link HttpUpstreamPool} to real TLS servers on
 * loopback (127.200.2.x) with certificates of a {@link TestCa}: SIMPLE against a CA file, SAN and
 * SNI checks, a wrong CA, {@code insecureSkipVerify}, MUTUAL against a server that requires a
 * client certificate, and files that cannot be read (fail closed, and an error naming the field).
 */
class UpstreamTlsTest {
    static final UpstreamSettings SETTINGS = UpstreamSettings.defaults(15008);
    static final SpiffeId CLIENT = SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/waypoint").orElseThrow();
    @TempDir
    static Path dir;
    static EventLoopGroup group;
    static TestCa ca;
    static TestCa otherCa;
    static Channel simpleServer;
    static Channel mutualServer;

    final Upstreams upstreams = new Upstreams(SETTINGS, new dev.waypoint.lb.hbone.HbonePool(SETTINGS, () -> null));
    final HttpUpstreamPool pool = new HttpUpstreamPool(upstreams, ConnectionOptions.defaults(SETTINGS));

    @BeforeAll
    static void start() throws Exception {
        group = EventLoops.newGroup(1, "upstream-tls-test");
        ca = TestCa.create("cluster.local");
        otherCa = TestCa.create("cluster.local");
        TestCa.Issued server = ca.issueServer("api.example.com", "127.200.2.1");
        server.writeIstioLayout(dir.resolve("server"));
        ca.issue(CLIENT).writeIstioLayout(dir.resolve("client"));
        otherCa.issueServer("api.example.com").writeIstioLayout(dir.resolve("other"));
        SslContext plain = SslContextBuilder.forServer(server.key(), server.chain()).sslProvider(SslProvider.JDK).build();
        SslContext mutual = SslContextBuilder.forServer(server.key(), server.chain()).sslProvider(SslProvider.JDK)
                .trustManager(ca.root()).clientAuth(ClientAuth.REQUIRE).build();
        simpleServer = tlsServer(plain, new InetSocketAddress("127.200.2.1", 0));
        mutualServer = tlsServer(mutual, new InetSocketAddress("127.200.2.2", 0));
    }

    @AfterAll
    static void stop() throws InterruptedException {
        simpleServer.close().sync();
        mutualServer.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** Answers {@code sni=<server name asked for>;client=<client certificate SANs>}. */
    static Channel tlsServer(SslContext ctx, InetSocketAddress bind) throws InterruptedException {
        return new ServerBootstrap().group(group).channel(EventLoops.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        SslHandler ssl = ctx.newHandler(c.alloc());
                        c.pipeline().addLast(ssl, new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
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
                                            client = UpstreamTls.subjectAltNames((X509Certificate) s.getPeerCertificates()[0]).toString();
                                        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                                            // no client certificate
                                        }
                                        byte[] body = ("sni=" + sni + ";client=" + client).getBytes(StandardCharsets.UTF_8);
                                        DefaultFullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                                        res.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
                                        x.writeAndFlush(res);
                                    }
                                });
                    }
                }).bind(bind).sync().channel();
    }

    static String file(String layout, String name) {
        return dir.resolve(layout).resolve(name).toString();
    }

    static TlsSpec simple(String caFile, String sni, List<String> sans, boolean skip) {
        return new TlsSpec(false, caFile, null, null, null, sni, sans, skip);
    }

    static TlsSpec mutual(String caFile) {
        return new TlsSpec(true, caFile, file("client", "cert-chain.pem"), file("client", "key.pem"), null, null, List.of(), false);
    }

    /** One GET through the pool with {@code tls}: the body, or the failure. */
    String get(Channel server, TlsSpec spec) throws Exception {
        return get(server, UpstreamTls.compile(spec));
    }

    /** One GET through the pool with the compiled {@code tls}: the body, or the failure. */
    String get(Channel server, UpstreamTls tls) throws Exception {
        InetSocketAddress a = (InetSocketAddress) server.localAddress();
        Endpoint e = new Endpoint(new HostPort(a.getAddress(), a.getPort()), null, null);
        ConnectionOptions options = ConnectionOptions.of(ConnectionOptions.defaults(SETTINGS), null, tls);
        try {
            return PoolExchange.get(pool, group.next(), e, false, null, options, "api.example.com", Release.END).body();
        } catch (ExecutionException x) {
            Rejection r = RejectedException.of(x.getCause(), Rejection.Reason.INTERNAL);
            return "failed " + r.reason() + ": " + r.message();
        }
    }

    @Test
    void simpleVerifiesTheServerAgainstTheCaFileAndItsSans() throws Exception {
        String root = file("server", "root-cert.pem");
        assertThat(get(simpleServer, simple(root, null, List.of("api.example.com"), false))).isEqualTo("sni=-;client=-");
        assertThat(get(simpleServer, simple(root, null, List.of(), false))).isEqualTo("sni=-;client=-");
        assertThat(get(simpleServer, simple(root, null, List.of("127.200.2.1"), false))).isEqualTo("sni=-;client=-");
        // the SNI is sent, and checked against the SANs when no subjectAltNames are written
        assertThat(get(simpleServer, simple(root, "api.example.com", List.of(), false))).isEqualTo("sni=api.example.com;client=-");
        assertThat(get(simpleServer, simple(root, "other.example.com", List.of(), false)))
                .startsWith("failed UPSTREAM_REFUSED").contains("have none of [other.example.com]");
        assertThat(get(simpleServer, simple(root, null, List.of("other.example.com", "spiffe://x"), false)))
                .startsWith("failed UPSTREAM_REFUSED").contains("[api.example.com, 127.200.2.1] have none of");
    }

    @Test
    void aServerOfAnotherCaIsRefusedUnlessVerificationIsSkipped() throws Exception {
        String wrong = file("other", "root-cert.pem");
        assertThat(get(simpleServer, simple(wrong, null, List.of(), false))).startsWith("failed UPSTREAM_REFUSED")
                .contains("TLS (DestinationRule tls SIMPLE) failed");
        // no caCertificates: the JVM's trust store, which does not hold the test CA
        assertThat(get(simpleServer, simple(null, null, List.of(), false))).startsWith("failed UPSTREAM_REFUSED");
        assertThat(get(simpleServer, simple(wrong, null, List.of("other.example.com"), true))).isEqualTo("sni=-;client=-");
    }

    @Test
    void mutualPresentsTheClientCertificate() throws Exception {
        String root = file("server", "root-cert.pem");
        assertThat(get(mutualServer, mutual(root))).isEqualTo("sni=-;client=[" + CLIENT.uri() + "]");
        // without a client certificate: TLS 1.3 completes the client's handshake before the server
        // checks it, so the refusal is the server's alert and close, which the request sees
        assertThat(get(mutualServer, simple(root, null, List.of(), false))).startsWith("failed");
    }

    @Test
    void unreadableFilesFailClosedWithAnErrorNamingTheField() throws Exception {
        TlsSpec missing = simple(dir.resolve("nope.pem").toString(), null, List.of(), false);
        UpstreamTls t = UpstreamTls.compile(missing);
        assertThat(t.broken()).startsWith("caCertificates: " + dir.resolve("nope.pem") + " cannot be used (NoSuchFileException");
        assertThat(get(simpleServer, missing)).startsWith("failed UPSTREAM_REFUSED").contains("DestinationRule tls caCertificates");
        TlsSpec badKey = new TlsSpec(true, null, file("client", "cert-chain.pem"), file("client", "root-cert.pem"), null,
                null, List.of(), false);
        assertThat(UpstreamTls.compile(badKey).broken()).startsWith("clientCertificate: ");

        Diagnostics d = new Diagnostics();
        DestinationRuleSpec dr = new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new TrafficPolicySpec(null, null, List.of(), null, missing), List.of(), SourceRef.NONE);
        dev.waypoint.model.ConfigSnapshot.compile(1, LbFixtures.resources(LbFixtures.pods(1), List.of(dr)),
                List.of(new EndpointCompiler()), d);
        assertThat(d.problems()).singleElement().satisfies(p -> {
            assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(p.field()).isEqualTo("spec.trafficPolicy.tls.caCertificates");
        });
    }

    static String pem(String layout, String name) throws java.io.IOException {
        return java.nio.file.Files.readString(dir.resolve(layout).resolve(name), StandardCharsets.ISO_8859_1);
    }

    static TlsSecretSpec secret(String name, String chain, String key, String roots) {
        return new TlsSecretSpec(new NamespacedName("istio-system", name), chain, key, roots, SourceRef.NONE);
    }

    static TlsSpec credential(boolean mutual, String name, boolean skip) {
        return new TlsSpec(mutual, null, null, null, name, null, List.of(), skip);
    }

    /** One GET with {@code spec} whose {@code credentialName} is looked up in {@code secrets}. */
    String get(Channel server, TlsSpec spec, Map<String, TlsSecretSpec> secrets) throws Exception {
        return get(server, UpstreamTls.compile(spec, secrets::get, "istio-system"));
    }

    @Test
    void credentialNameReadsTheRootsAndTheClientCertificateFromSecrets() throws Exception {
        String root = pem("server", "root-cert.pem");
        String chain = pem("client", "cert-chain.pem");
        String key = pem("client", "key.pem");
        // SIMPLE: the roots of the named Secret
        assertThat(get(simpleServer, credential(false, "api", false), Map.of("api", secret("api", null, null, root))))
                .isEqualTo("sni=-;client=-");
        // kubernetes:// names the same Secret, with or without the waypoint's namespace
        assertThat(get(simpleServer, credential(false, "kubernetes://api", false), Map.of("api", secret("api", null, null, root))))
                .isEqualTo("sni=-;client=-");
        assertThat(get(simpleServer, credential(false, "kubernetes://istio-system/api", false),
                Map.of("api", secret("api", null, null, root)))).isEqualTo("sni=-;client=-");
        // <name>-cacert wins over the roots of <name> itself (here a CA that did not sign the server)
        assertThat(get(simpleServer, credential(false, "api", false), Map.of("api", secret("api", null, null,
                pem("other", "root-cert.pem")), "api-cacert", secret("api-cacert", null, null, root)))).isEqualTo("sni=-;client=-");
        assertThat(get(simpleServer, credential(false, "api", false), Map.of("api", secret("api", null, null,
                pem("other", "root-cert.pem"))))).startsWith("failed UPSTREAM_REFUSED");
        // MUTUAL: the client certificate and key of the Secret, the roots of the same one
        assertThat(get(mutualServer, credential(true, "client", false), Map.of("client", secret("client", chain, key, root))))
                .isEqualTo("sni=-;client=[" + CLIENT.uri() + "]");
        // ...or of <name>-cacert, and none needed when verification is skipped
        assertThat(get(mutualServer, credential(true, "client", false), Map.of("client", secret("client", chain, key, null),
                "client-cacert", secret("client-cacert", null, null, root)))).isEqualTo("sni=-;client=[" + CLIENT.uri() + "]");
        assertThat(get(mutualServer, credential(true, "client", true), Map.of("client", secret("client", chain, key, null))))
                .isEqualTo("sni=-;client=[" + CLIENT.uri() + "]");
    }

    @Test
    void aCredentialThatIsMissingOrIncompleteFailsClosedWithItsReason() throws Exception {
        String root = pem("server", "root-cert.pem");
        Map<String, String> broken = new java.util.TreeMap<>();
        broken.put("no secret", UpstreamTls.compile(credential(false, "api", false), n -> null, "istio-system").broken());
        broken.put("no roots", UpstreamTls.compile(credential(false, "api", false),
                Map.of("api", secret("api", pem("client", "cert-chain.pem"), pem("client", "key.pem"), null))::get,
                "istio-system").broken());
        broken.put("no client certificate", UpstreamTls.compile(credential(true, "api", false),
                Map.of("api", secret("api", null, null, root))::get, "istio-system").broken());
        broken.put("not a secret", UpstreamTls.compile(credential(false, "configmap://ca", false), n -> null, "istio-system")
                .broken());
        broken.put("not PEM", UpstreamTls.compile(credential(false, "api", false),
                Map.of("api", secret("api", null, null, "not a certificate"))::get, "istio-system").broken());
        broken.put("a key that is not PEM", UpstreamTls.compile(credential(true, "api", false),
                Map.of("api", secret("api", pem("client", "cert-chain.pem"), "not a key", null), "api-cacert",
                        secret("api-cacert", null, null, root))::get, "istio-system").broken());
        broken.put("another namespace", UpstreamTls.compile(credential(false, "kubernetes://apps/api", false),
                Map.of("api", secret("api", null, null, root))::get, "istio-system").broken());
        assertThat(broken).satisfies(b -> {
            assertThat(b.get("no secret")).isEqualTo("credentialName: no TLS Secret istio-system/api nor istio-system/api-cacert "
                    + "(expected: a Secret of type Opaque or kubernetes.io/tls in the waypoint's namespace holding the roots that verify the server)");
            assertThat(b.get("no roots")).isEqualTo("credentialName: the Secret istio-system/api has no cacert (nor ca.crt) "
                    + "(expected: a Secret of type Opaque or kubernetes.io/tls in the waypoint's namespace holding the roots that verify the server)");
            assertThat(b.get("no client certificate")).isEqualTo("credentialName: the Secret istio-system/api has no cert and "
                    + "key (nor tls.crt and tls.key) (expected: a Secret of type Opaque or kubernetes.io/tls in the waypoint's namespace "
                    + "holding the client certificate)");
            assertThat(b.get("not a secret")).startsWith("credentialName: configmap://ca cannot be used");
            assertThat(b.get("not PEM")).startsWith("credentialName: api (Secret istio-system/api) cannot be used (");
            assertThat(b.get("a key that is not PEM")).startsWith("credentialName: api (Secret istio-system/api) cannot be used (");
            assertThat(b.get("another namespace")).isEqualTo("credentialName: kubernetes://apps/api cannot be used (a Secret "
                    + "of another namespace than the waypoint's, istio-system, is not read, as Istio refuses it)");
        });
        // and the request is refused, never sent in plaintext
        assertThat(get(simpleServer, credential(false, "api", false), Map.of())).startsWith("failed UPSTREAM_REFUSED")
                .contains("credentialName");
        // a rotated Secret is another pool key; the same bytes are the same one
        Map<String, TlsSecretSpec> one = Map.of("api", secret("api", null, null, root));
        Map<String, TlsSecretSpec> same = Map.of("api", secret("api", null, null, new String(root)));
        Map<String, TlsSecretSpec> rotated = Map.of("api", secret("api", null, null, pem("other", "root-cert.pem")));
        TlsSpec s = credential(false, "api", false);
        assertThat(UpstreamTls.compile(s, one::get, "istio-system")).isEqualTo(UpstreamTls.compile(s, same::get, "istio-system"))
                .isNotEqualTo(UpstreamTls.compile(s, rotated::get, "istio-system"));
    }

    @Test
    void withoutSniTheRequestsHostIsSentAndChecked() throws Exception {
        String root = file("server", "root-cert.pem");
        UpstreamTls noSni = UpstreamTls.compile(simple(root, null, List.of(), false));
        // Envoy's auto_sni and auto_san_validation, as Istio sets them when sni is not written
        assertThat(get(simpleServer, noSni.forHost("API.example.com:443"))).isEqualTo("sni=api.example.com;client=-");
        assertThat(get(simpleServer, noSni.forHost("other.example.com"))).startsWith("failed UPSTREAM_REFUSED")
                .contains("have none of [other.example.com]");
        // an IP address is no server name, but the certificate must carry it
        assertThat(get(simpleServer, noSni.forHost("127.200.2.1:80"))).isEqualTo("sni=-;client=-");
        assertThat(get(simpleServer, noSni.forHost("127.0.0.9"))).startsWith("failed UPSTREAM_REFUSED")
                .contains("have none of [127.0.0.9]");
        // no Host: nothing to check the certificate against, refused (a client cannot switch the check off)
        assertThat(get(simpleServer, noSni.forHost(null))).startsWith("failed UPSTREAM_REFUSED")
                .contains("the request has no Host");
        assertThat(get(simpleServer, noSni.forHost(""))).startsWith("failed UPSTREAM_REFUSED");
        // a one-label name is sent too (Netty and the JDK leave names without a dot out)
        assertThat(get(simpleServer, UpstreamTls.compile(simple(root, null, List.of(), true)).forHost("reviews:9080")))
                .isEqualTo("sni=reviews;client=-");
        // written subjectAltNames are what is checked; insecureSkipVerify checks nothing; both still send the host
        assertThat(get(simpleServer, UpstreamTls.compile(simple(root, null, List.of("api.example.com"), false))
                .forHost("www.example.com"))).isEqualTo("sni=www.example.com;client=-");
        assertThat(get(simpleServer, UpstreamTls.compile(simple(file("other", "root-cert.pem"), null, List.of(), true))
                .forHost("www.example.com"))).isEqualTo("sni=www.example.com;client=-");
        // a written sni wins over the host
        assertThat(get(simpleServer, UpstreamTls.compile(simple(root, "api.example.com", List.of(), false))
                .forHost("www.example.com"))).isEqualTo("sni=api.example.com;client=-");
        // a connection is per host name, as Envoy keys its pool by the SNI
        assertThat(noSni.forHost("api.example.com")).isEqualTo(noSni.forHost("api.example.com:8443"))
                .isNotEqualTo(noSni.forHost("www.example.com")).isNotEqualTo(noSni);
        assertThat(UpstreamTls.hostName("[::1]:80")).isEqualTo("::1");
        assertThat(UpstreamTls.hostName("Api.Example.com.")).isEqualTo("api.example.com");
    }

    @Test
    void sameSpecAndFilesAreOnePoolKey() {
        TlsSpec s = simple(file("server", "root-cert.pem"), null, List.of(), false);
        assertThat(UpstreamTls.compile(s)).isEqualTo(UpstreamTls.compile(s)).isNotEqualTo(
                UpstreamTls.compile(simple(file("other", "root-cert.pem"), null, List.of(), false)));
        assertThat(Map.of("*.example.com|api.example.com", UpstreamTls.matches("*.example.com", "api.example.com"),
                "*.example.com|a.b.example.com", UpstreamTls.matches("*.example.com", "a.b.example.com"),
                "::1|0:0:0:0:0:0:0:1", UpstreamTls.matches("::1", "0:0:0:0:0:0:0:1")))
                .containsExactlyInAnyOrderEntriesOf(Map.of("*.example.com|api.example.com", true,
                        "*.example.com|a.b.example.com", false, "::1|0:0:0:0:0:0:0:1", true));
    }
}
