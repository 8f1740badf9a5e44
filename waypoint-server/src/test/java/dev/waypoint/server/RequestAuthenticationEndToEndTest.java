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
import com.sun.net.httpserver.HttpServer;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Date;
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

/**
 * RequestAuthentication through the whole waypoint: a RequestAuthentication attached to Service
 * {@code apps/web} with a {@code jwksUri} served by a real HTTP server; Service {@code apps/other}
 * has none; {@code apps/slow}'s keys come from an endpoint that never answers. Loopback range
 * 127.70.x.x is reserved for this class.
 */
class RequestAuthenticationEndToEndTest {
    static final String ISS = "https://issuer.example";
    static RSAKey key;
    static HttpServer jwksServer;
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    HboneTestClient client;

    static String manifests(String jwksUri, String hangingUri) {
        return """
                apiVersion: v1
                kind: Namespace
                metadata: {name: istio-system}
                ---
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: apps
                  labels:
                    istio.io/dataplane-mode: ambient
                    istio.io/use-waypoint: waypoint
                    istio.io/use-waypoint-namespace: istio-system
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint, namespace: istio-system}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners:
                  - {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: apps}
                spec:
                  clusterIP: 127.70.0.1
                  selector: {app: web}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: other, namespace: apps}
                spec:
                  clusterIP: 127.70.0.2
                  selector: {app: web}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: slow, namespace: apps}
                spec:
                  clusterIP: 127.70.0.3
                  selector: {app: web}
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: security.istio.io/v1
                kind: RequestAuthentication
                metadata: {name: slow-jwt, namespace: apps}
                spec:
                  targetRefs:
                  - {kind: Service, name: slow}
                  jwtRules:
                  - issuer: https://issuer.example
                    jwksUri: HANGING_URI
                    timeout: 2s
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: web-1, namespace: apps, labels: {app: web}}
                spec: {serviceAccountName: web}
                status: {podIP: 127.70.1.1}
                ---
                apiVersion: security.istio.io/v1
                kind: RequestAuthentication
                metadata: {name: web-jwt, namespace: apps}
                spec:
                  targetRefs:
                  - {group: "", kind: Service, name: web}
                  jwtRules:
                  - issuer: https://issuer.example
                    jwksUri: JWKS_URI
                    outputClaimToHeaders:
                    - {header: x-jwt-sub, claim: sub}
                """.replace("JWKS_URI", jwksUri).replace("HANGING_URI", hangingUri);
    }

    @BeforeAll
    static void startMesh() throws Exception {
        key = new RSAKeyGenerator(2048).keyID("k1").generate();
        jwksServer = HttpServer.create(new InetSocketAddress("127.70.9.1", 0), 0);
        byte[] jwks = new JWKSet(key.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
        jwksServer.createContext("/jwks", ex -> {
            ex.sendResponseHeaders(200, jwks.length);
            ex.getResponseBody().write(jwks);
            ex.close();
        });
        jwksServer.createContext("/hang", ex -> {
            try {
                Thread.sleep(60_000); // never answers in time
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        jwksServer.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "jwks-test-server");
            t.setDaemon(true);
            return t;
        }));
        jwksServer.start();
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"),
                manifests("http://127.70.9.1:" + jwksServer.getAddress().getPort() + "/jwks",
                        "http://127.70.9.1:" + jwksServer.getAddress().getPort() + "/hang"));
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
        if (jwksServer != null) {
            jwksServer.stop(0);
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

    static String token(String iss, long expEpochSeconds) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("k1").build(),
                new JWTClaimsSet.Builder().issuer(iss).subject("alice").expirationTime(new Date(expEpochSeconds * 1000)).build());
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    static long inAnHour() {
        return System.currentTimeMillis() / 1000 + 3600;
    }

    FullHttpResponse get(String vip, String path, String authorization) throws Exception {
        HboneTestClient.Answer a = client.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        if (authorization != null) {
            r.headers().set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        t.writeAndFlush(r);
        FullHttpResponse res = Tunnels.take(q);
        t.close();
        return res;
    }

    static String body(FullHttpResponse r) {
        try {
            return r.content().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
        }
    }

    @Test
    void aValidTokenPassesAndIsReplacedByItsClaimHeader() throws Exception {
        FullHttpResponse r = get("127.70.0.1", "/hello", "Bearer " + token(ISS, inAnHour()));
        assertThat(r.status().code()).isEqualTo(200);
        String body = body(r);
        assertThat(body).contains("header x-jwt-sub=alice").doesNotContain("header authorization=");
    }

    @Test
    void anExpiredTokenIs401WithTheChallenge() throws Exception {
        FullHttpResponse r = get("127.70.0.1", "/hello?x=1", "Bearer " + token(ISS, System.currentTimeMillis() / 1000 - 3600));
        assertThat(r.status().code()).isEqualTo(401);
        assertThat(r.headers().get("www-authenticate"))
                .isEqualTo("Bearer realm=\"http://web.apps/hello\", error=\"invalid_token\"");
        assertThat(r.headers().get("x-waypoint-reason")).isEqualTo("jwt_authn_access_denied");
        assertThat(body(r)).isEqualTo("Jwt is expired");
    }

    @Test
    void noTokenPasses() throws Exception {
        FullHttpResponse r = get("127.70.0.1", "/hello", null);
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(body(r)).doesNotContain("x-jwt-sub");
    }

    @Test
    void aTokenOfAnUnlistedIssuerIs401() throws Exception {
        FullHttpResponse r = get("127.70.0.1", "/", "Bearer " + token("https://evil.example", inAnHour()));
        assertThat(r.status().code()).isEqualTo(401);
        assertThat(body(r)).isEqualTo("Jwt issuer is not configured");
    }

    @Test
    void aServiceWithoutRequestAuthenticationIgnoresTokensEntirely() throws Exception {
        FullHttpResponse r = get("127.70.0.2", "/", "Bearer garbage");
        assertThat(r.status().code()).isEqualTo(200);
        assertThat(body(r)).contains("header authorization=Bearer garbage");
    }

    @Test
    void aRequestWaitingForKeysGets401AtItsTimeoutAndHoldsUpNoOtherRequest() throws Exception {
        // both tunnels on the one HBONE connection: the same waypoint event loop serves them
        HboneTestClient.Answer slow = client.connect("127.70.0.3:80", Map.of()).get(10, TimeUnit.SECONDS);
        HboneTestClient.Answer fast = client.connect("127.70.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        BlockingQueue<FullHttpResponse> slowQ = Tunnels.http1(slow.tunnel());
        BlockingQueue<FullHttpResponse> fastQ = Tunnels.http1(fast.tunnel());
        long t0 = System.nanoTime();
        slow.tunnel().writeAndFlush(request("/wait", "Bearer " + token(ISS, inAnHour())));
        Thread.sleep(100);
        fast.tunnel().writeAndFlush(request("/fast", null));

        FullHttpResponse f = Tunnels.take(fastQ);
        assertThat(f.status().code()).isEqualTo(200);
        f.release();
        // ordering, not a stopwatch: the waiting request is still unanswered when the other one is done
        assertThat(slowQ).as("answered while the other request waited").isEmpty();
        FullHttpResponse s = Tunnels.take(slowQ);
        long slowMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(s.status().code()).isEqualTo(401);
        assertThat(body(s)).isEqualTo("Jwks remote fetch is failed");
        assertThat(slowMillis).as("not before the rule's 2s timeout").isGreaterThanOrEqualTo(1900L);
        slow.tunnel().close();
        fast.tunnel().close();
    }

    static FullHttpRequest request(String path, String authorization) {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        if (authorization != null) {
            r.headers().set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        return r;
    }

    @Test
    void h2cRequestsAreAuthenticatedToo() throws Exception {
        HboneTestClient.Answer a = client.connect("127.70.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        Channel t = a.tunnel();
        Tunnels.h2c(t);
        for (var c : List.of(Map.entry("Bearer " + token(ISS, inAnHour()), 200),
                Map.entry("Bearer " + token(ISS, System.currentTimeMillis() / 1000 - 3600), 401))) {
            BlockingQueue<FullHttpResponse> q = new java.util.concurrent.LinkedBlockingQueue<>();
            var stream = Tunnels.h2cStream(t, q);
            stream.writeAndFlush(request("/h2", c.getKey()));
            FullHttpResponse r = Tunnels.take(q);
            assertThat(r.status().code()).isEqualTo(c.getValue());
            r.release();
        }
        t.close();
    }

    @Test
    void theConfigDumpListsTheRules() throws Exception {
        var admin = mesh.waypoint().adminAddress("admin");
        var res = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + admin.getPort() + "/config_dump")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(res.body()).contains("\"jwtRules\"").contains("service apps/web").contains("issuer https://issuer.example");
        assertThat(List.of(res.statusCode())).containsExactly(200);
    }
}
