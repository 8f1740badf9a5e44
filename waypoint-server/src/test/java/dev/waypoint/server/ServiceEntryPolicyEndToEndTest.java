package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.HboneTestClient;
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
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
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
 * AuthorizationPolicy and RequestAuthentication attached to a ServiceEntry ({@code targetRefs}
 * group {@code networking.istio.io}, kind {@code ServiceEntry}) through the whole waypoint: HTTP
 * and TCP to the VIP of {@code egress/api-ext} are checked against its own policies, while
 * {@code egress/plain-ext} (same endpoints, no policy) and Service {@code egress/api-ext} (same
 * name, other kind) are not. Loopback range 127.210.x.x is reserved for this class.
 */
class ServiceEntryPolicyEndToEndTest {
    static final String ISS = "https://issuer.example";
    static RSAKey key;
    static RSAKey stranger;
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static final List<EchoServer> echoes = new ArrayList<>();
    HboneTestClient client;
    HboneTestClient intruder;

    static String manifests(String jwks) {
        return """
                apiVersion: v1
                kind: Namespace
                metadata: {name: istio-system}
                ---
                apiVersion: v1
                kind: Namespace
                metadata: {name: apps, labels: {istio.io/dataplane-mode: ambient}}
                ---
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: egress
                  labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-system}
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint, namespace: istio-system}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners:
                  - {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: api-ext, namespace: egress}
                spec:
                  hosts: [api.example.test]
                  addresses: [127.210.0.1]
                  ports:
                  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
                  - {number: 9000, name: tcp, protocol: TCP}
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  endpoints: [{address: 127.210.1.1}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: plain-ext, namespace: egress}
                spec:
                  hosts: [plain.example.test]
                  addresses: [127.210.0.2]
                  ports:
                  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
                  - {number: 9000, name: tcp, protocol: TCP}
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  endpoints: [{address: 127.210.1.1}]
                ---
                # exported to the apps namespace only
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: apps-only, namespace: egress}
                spec:
                  hosts: [apps-only.example.test]
                  addresses: [127.210.0.4]
                  ports:
                  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
                  - {number: 9000, name: tcp, protocol: TCP}
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  endpoints: [{address: 127.210.1.1}]
                  exportTo: [apps]
                ---
                # a Service of the same name: a ServiceEntry reference does not reach it
                apiVersion: v1
                kind: Service
                metadata: {name: api-ext, namespace: egress}
                spec:
                  clusterIP: 127.210.0.3
                  selector: {app: api}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: api-1, namespace: egress, labels: {app: api}}
                spec: {serviceAccountName: api}
                status: {podIP: 127.210.1.2}
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: api-ext-access, namespace: egress}
                spec:
                  targetRefs:
                  - {group: networking.istio.io, kind: ServiceEntry, name: api-ext}
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]
                    to: [{operation: {methods: [GET], paths: [/public/*]}}]
                  - from: [{source: {requestPrincipals: [https://issuer.example/alice]}}]
                    to: [{operation: {paths: [/private/*]}}]
                  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]
                    to: [{operation: {ports: ["9000"]}}]
                ---
                apiVersion: security.istio.io/v1
                kind: RequestAuthentication
                metadata: {name: api-ext-jwt, namespace: egress}
                spec:
                  targetRefs:
                  - {group: networking.istio.io, kind: ServiceEntry, name: api-ext}
                  jwtRules:
                  - issuer: https://issuer.example
                    jwks: 'JWKS'
                """.replace("JWKS", jwks);
    }

    @BeforeAll
    static void startMesh() throws Exception {
        key = new RSAKeyGenerator(2048).keyID("k1").generate();
        stranger = new RSAKeyGenerator(2048).keyID("k1").generate();
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), manifests(new JWKSet(key.toPublicJWK()).toString()));
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        for (int port : new int[] {8080, 9000}) {
            echoes.add(EchoServer.start(mesh.group(), new InetSocketAddress("127.210.1.1", port), "api-1"));
        }
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
        intruder = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "intruder"));
    }

    @AfterEach
    void disconnect() {
        client.close();
        intruder.close();
    }

    static String token(RSAKey signer, String sub) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("k1").build(),
                new JWTClaimsSet.Builder().issuer(ISS).subject(sub)
                        .expirationTime(new Date(System.currentTimeMillis() + 3_600_000)).build());
        jwt.sign(new RSASSASigner(signer));
        return jwt.serialize();
    }

    /** Status (and body unless 200) of one request on a fresh tunnel to {@code vip:80}. */
    private static String once(HboneTestClient c, String vip, HttpMethod method, String path, String bearer)
            throws Exception {
        HboneTestClient.Answer a = c.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", vip, a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path);
        req.headers().set(HttpHeaderNames.HOST, "api.example.test");
        if (bearer != null) {
            req.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + bearer);
        }
        t.writeAndFlush(req);
        FullHttpResponse r = Tunnels.take(q);
        try {
            int code = r.status().code();
            return code == 200 ? "200" : code + " " + r.content().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
            t.close();
        }
    }

    /** Bytes through a TCP tunnel to {@code authority}, and what came back before the upstream's FIN. */
    private static String echo(HboneTestClient c, String authority, String payload) throws Exception {
        HboneTestClient.Answer a = c.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT %s: %s", authority, a.body()).isEqualTo(200);
        Channel t = a.tunnel();
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
    void anAllowPolicyOnTheServiceEntryDecidesHttpToItsVip() throws Exception {
        assertThat(once(client, "127.210.0.1", HttpMethod.GET, "/public/a", null)).isEqualTo("200");
        assertThat(once(client, "127.210.0.1", HttpMethod.POST, "/public/a", null)).isEqualTo("403 RBAC: access denied");
        assertThat(once(intruder, "127.210.0.1", HttpMethod.GET, "/public/a", null)).isEqualTo("403 RBAC: access denied");
        assertThat(once(client, "127.210.0.1", HttpMethod.GET, "/private/a", null)).isEqualTo("403 RBAC: access denied");
    }

    @Test
    void otherTargetsAreNotReachedByIt() throws Exception {
        // another ServiceEntry on the same endpoints, and the Service of the same name: no policy
        assertThat(once(intruder, "127.210.0.2", HttpMethod.POST, "/anything", null)).isEqualTo("200");
        assertThat(once(intruder, "127.210.0.3", HttpMethod.POST, "/anything", null)).isEqualTo("200");
    }

    @Test
    void aRequestAuthenticationOnTheServiceEntryValidatesTokensAndFeedsRequestPrincipals() throws Exception {
        assertThat(once(intruder, "127.210.0.1", HttpMethod.POST, "/private/a", token(key, "alice"))).isEqualTo("200");
        assertThat(once(intruder, "127.210.0.1", HttpMethod.POST, "/private/a", token(key, "bob")))
                .isEqualTo("403 RBAC: access denied");
        assertThat(once(intruder, "127.210.0.1", HttpMethod.GET, "/private/a", token(stranger, "alice")))
                .startsWith("401 Jwt");
        // no RequestAuthentication on the other ServiceEntry: its tokens are not even looked at
        assertThat(once(intruder, "127.210.0.2", HttpMethod.GET, "/private/a", token(stranger, "alice"))).isEqualTo("200");
    }

    @Test
    void tcpToTheServiceEntryIsCheckedBeforeTheConnectIsAnswered() throws Exception {
        assertThat(echo(client, "127.210.0.1:9000", "\u0001allowed")).isEqualTo("\u0001allowed");
        HboneTestClient.Answer denied = intruder.connect("127.210.0.1:9000", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(denied.status()).isEqualTo(401);
        assertThat(denied.body()).isEqualTo("RBAC: access denied");
        assertThat(echo(intruder, "127.210.0.2:9000", "\u0001no policy")).isEqualTo("\u0001no policy");
    }

    @Test
    void exportToDecidesWhichCallersSeeTheServiceEntry() throws Exception {
        assertThat(once(intruder, "127.210.0.4", HttpMethod.GET, "/x", null)).as("apps is listed").isEqualTo("200");
        assertThat(echo(client, "127.210.0.4:9000", "\u0001tcp")).isEqualTo("\u0001tcp");
        try (HboneTestClient web = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("web", "client"))) {
            for (String authority : new String[] {"127.210.0.4:80", "127.210.0.4:9000"}) {
                HboneTestClient.Answer a = web.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
                assertThat(a.status()).as(authority).isEqualTo(400);
                assertThat(a.body()).contains("ServiceEntry egress/apps-only, which is not exported to namespace web "
                        + "(exportTo [apps])");
            }
            assertThat(once(web, "127.210.0.2", HttpMethod.GET, "/x", null)).as("no exportTo: everywhere").isEqualTo("200");
        }
    }

    @Test
    void theConfigDumpShowsThePoliciesOfTheServiceEntry() throws Exception {
        HttpResponse<String> dump = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + mesh.waypoint().adminAddress("admin").getPort() + "/config_dump")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(dump.statusCode()).isEqualTo(200);
        assertThat(dump.body()).contains("\"ServiceEntry egress/api-ext\"", "egress/api-ext-access",
                "\"serviceentry egress/api-ext\"").doesNotContain("ServiceEntry egress/plain-ext\"");
    }
}
