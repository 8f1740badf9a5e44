package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
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
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input against the policy stages of the real server: huge and malformed tokens, JWKS
 * endpoints that are down or answer garbage, a thousand policies on one Service, and policies
 * swapped under load. Loopback range 127.90.2.x-127.90.4.x (the rest of 127.90.x.x is
 * {@link ExtAuthzEndToEndTest}'s).
 */
class HostileAuthzEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    static HttpServer jwksServer;
    static RSAKey key;
    HboneTestClient client;
    HboneTestClient other;

    static String manifests(String jwks) {
        StringBuilder b = new StringBuilder("""
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
                kind: Pod
                metadata: {name: web-1, namespace: apps, labels: {app: web}}
                spec: {serviceAccountName: web}
                status: {podIP: 127.90.3.1}
                """);
        String[][] services = {{"web", "127.90.2.1"}, {"down", "127.90.2.2"}, {"garbage", "127.90.2.3"},
                {"many", "127.90.2.4"}, {"churn", "127.90.2.5"}};
        for (String[] s : services) {
            b.append("---\napiVersion: v1\nkind: Service\nmetadata: {name: ").append(s[0])
                    .append(", namespace: apps}\nspec:\n  clusterIP: ").append(s[1])
                    .append("\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n");
        }
        String[][] rules = {{"web", jwks + "/jwks"}, {"down", "http://127.90.4.2:1/jwks"}, {"garbage", jwks + "/garbage"}};
        for (String[] r : rules) {
            b.append("---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: ").append(r[0])
                    .append(", namespace: apps}\nspec:\n  targetRefs: [{kind: Service, name: ").append(r[0])
                    .append("}]\n  jwtRules:\n  - {issuer: https://issuer.example, jwksUri: '").append(r[1])
                    .append("', timeout: 1s}\n");
        }
        return b.toString();
    }

    @BeforeAll
    static void startMesh() throws Exception {
        key = new RSAKeyGenerator(2048).keyID("k1").generate();
        byte[] jwks = new JWKSet(key.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
        jwksServer = HttpServer.create(new InetSocketAddress("127.90.4.1", 0), 0);
        jwksServer.createContext("/jwks", ex -> {
            ex.sendResponseHeaders(200, jwks.length);
            ex.getResponseBody().write(jwks);
            ex.close();
        });
        jwksServer.createContext("/garbage", ex -> {
            byte[] junk = "{\"keys\": [{\"kty\": \"RSA\", \"n\": 42}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, junk.length);
            ex.getResponseBody().write(junk);
            ex.close();
        });
        jwksServer.start();
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"),
                manifests("http://127.90.4.1:" + jwksServer.getAddress().getPort()));
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
        other = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "other"));
    }

    @AfterEach
    void disconnect() throws Exception {
        client.close();
        other.close();
    }

    /** Replaces {@code name} atomically (as kubelet swaps a ConfigMap) and waits for the generation that has it. */
    static void write(String name, String yaml) throws Exception {
        long gen = mesh.waypoint().snapshots().current().generation();
        Path t = configDir.resolve("." + name + ".tmp");
        Files.writeString(t, yaml);
        Files.move(t, configDir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        await().atMost(Duration.ofSeconds(20)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
    }

    record Reply(int status, String body, Map<String, String> headers) {}

    /** One request on a tunnel that is open already. */
    static Reply exchange(Channel t, BlockingQueue<FullHttpResponse> q, String path, Map<String, String> headers)
            throws Exception {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "svc.apps");
        headers.forEach(r.headers()::set);
        t.writeAndFlush(r);
        FullHttpResponse res = Tunnels.take(q);
        try {
            Map<String, String> h = new java.util.TreeMap<>();
            res.headers().forEach(e -> h.put(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue()));
            return new Reply(res.status().code(), res.content().toString(StandardCharsets.UTF_8), h);
        } finally {
            res.release();
        }
    }

    static Reply once(HboneTestClient c, String vip, String path, Map<String, String> headers) throws Exception {
        HboneTestClient.Answer a = c.connect(vip + ":80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        try {
            return exchange(t, Tunnels.http1(t), path, headers);
        } finally {
            t.close();
        }
    }

    private static String b64(String s) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void hugeAndMalformedTokensAre431Or401AndNothingBreaks() throws Exception {
        String web = "127.90.2.1";
        String nearLimit = "x".repeat(60 << 10);
        String overLimit = "x".repeat(70 << 10);
        String none = b64("{\"alg\":\"none\"}") + "." + b64("{\"iss\":\"https://issuer.example\",\"sub\":\"s\"}") + ".";
        List<String> bad = List.of("not-a-jwt", "a.b.c", "..", "....", b64("{") + "." + b64("}") + ".sig", none,
                b64("{\"alg\":\"RS256\",\"kid\":\"k1\"}") + "." + b64("[1,2,3]") + "." + b64("sig"),
                nearLimit, nearLimit.replace('x', '.'), "\u00e9\u00e8", "%00%ff");
        for (String token : bad) {
            Reply r = once(client, web, "/", Map.of("authorization", "Bearer " + token));
            assertThat(r.status()).as("token %s", token.length() > 40 ? token.substring(0, 40) + "..." : token).isEqualTo(401);
            assertThat(r.headers()).containsKey("www-authenticate");
        }
        Reply huge = once(client, web, "/", Map.of("authorization", "Bearer " + overLimit));
        assertThat(huge.status()).isEqualTo(431);
        // many headers, each carrying a token-looking value: still one verdict
        Map<String, String> many = new java.util.LinkedHashMap<>();
        for (int i = 0; i < 200; i++) {
            many.put("x-jwt-" + i, "Bearer " + "y".repeat(200));
        }
        many.put("authorization", "Bearer a.b.c");
        assertThat(once(client, web, "/", many).status()).isEqualTo(401);
        // the waypoint is fine afterwards: a request without a token passes authn
        assertThat(once(client, web, "/", Map.of()).status()).isEqualTo(200);
    }

    @Test
    void aJwksEndpointThatIsDownOrAnswersGarbageRejectsTokensAndLetsTheRestThrough() throws Exception {
        for (String vip : List.of("127.90.2.2", "127.90.2.3")) {
            String token = b64("{\"alg\":\"RS256\",\"kid\":\"k1\"}") + "." + b64("{\"iss\":\"https://issuer.example\"}") + ".c2ln";
            long t0 = System.nanoTime();
            Reply r = once(client, vip, "/", Map.of("authorization", "Bearer " + token));
            assertThat(r.status()).as(vip).isEqualTo(401);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("at most the rule's 1 s timeout, and some slack")
                    .isLessThan(Duration.ofSeconds(5));
            assertThat(once(client, vip, "/", Map.of()).status()).as("no token: authn passes").isEqualTo(200);
        }
        // the slow JWKS endpoint is RequestAuthenticationEndToEndTest's (a request waits up to the rule's timeout)
    }

    @Test
    void aThousandPoliciesOnOneServiceDecideCorrectly() throws Exception {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            b.append("---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-").append(i)
                    .append(", namespace: apps}\nspec:\n  targetRefs: [{group: '', kind: Service, name: many}]\n  rules:\n")
                    .append("  - from: [{source: {principals: [cluster.local/ns/apps/sa/client]}}]\n")
                    .append("    to: [{operation: {methods: [GET], paths: [/p").append(i).append(", /p").append(i).append("/*]}}]\n");
        }
        for (int j = 0; j < 10; j++) {
            b.append("---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-").append(j)
                    .append(", namespace: apps}\nspec:\n  targetRefs: [{group: '', kind: Service, name: many}]\n")
                    .append("  action: DENY\n  rules: [{to: [{operation: {paths: [/p").append(j * 100).append("/admin]}}]}]\n");
        }
        write("many.yaml", b.toString());
        assertThat(mesh.waypoint().snapshots().current().problems()).isEmpty();

        HboneTestClient.Answer a = client.connect("127.90.2.4:80", Map.of()).get(10, TimeUnit.SECONDS);
        Channel t = a.tunnel();
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        try {
            for (int i = 0; i < 1000; i += 37) {
                assertThat(exchange(t, q, "/p" + i, Map.of()).status()).as("/p%d", i).isEqualTo(200);
                assertThat(exchange(t, q, "/p" + i + "/x", Map.of()).status()).as("/p%d/x", i).isEqualTo(200);
                int expected = i % 100 == 0 ? 403 : 200;
                assertThat(exchange(t, q, "/p" + i + "/admin", Map.of()).status()).as("/p%d/admin", i).isEqualTo(expected);
            }
            assertThat(exchange(t, q, "/p999", Map.of()).status()).isEqualTo(200);
            assertThat(exchange(t, q, "/p900/admin", Map.of()).status()).isEqualTo(403);
            assertThat(exchange(t, q, "/p1000", Map.of()).status()).as("no policy allows it").isEqualTo(403);
            assertThat(exchange(t, q, "/p12x", Map.of()).status()).as("exact, not prefix").isEqualTo(403);
        } finally {
            t.close();
        }
        assertThat(once(other, "127.90.2.4", "/p1", Map.of()).status()).as("wrong principal").isEqualTo(403);
    }

    /**
     * Generation A: ALLOW /a*, DENY /a/deny, the route sets x-gen: A. Generation B: ALLOW /b*, DENY
     * /b/deny, the route sets x-gen: B. A request that saw policies of one generation and the
     * route of another would come back 200 with the other generation's x-gen.
     */
    static String generation(String g) {
        String p = g.toLowerCase(java.util.Locale.ROOT);
        return """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: allow-@p@, namespace: apps}
                spec:
                  targetRefs: [{group: '', kind: Service, name: churn}]
                  rules: [{to: [{operation: {paths: [/@p@, /@p@/*]}}]}]
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: deny-@p@, namespace: apps}
                spec:
                  targetRefs: [{group: '', kind: Service, name: churn}]
                  action: DENY
                  rules: [{to: [{operation: {paths: [/@p@/deny]}}]}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: churn, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: churn, port: 80}]
                  rules:
                  - filters:
                    - type: RequestHeaderModifier
                      requestHeaderModifier: {set: [{name: x-gen, value: @G@}]}
                    backendRefs: [{name: churn, port: 80}]
                """.replace("@p@", p).replace("@G@", g);
    }

    @Test
    void policiesSwappedUnderLoadAreNeverSeenHalfApplied() throws Exception {
        write("churn.yaml", generation("A"));
        assertThat(mesh.waypoint().snapshots().current().problems()).isEmpty();
        AtomicBoolean stop = new AtomicBoolean();
        List<String> violations = new CopyOnWriteArrayList<>();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<Integer>> workers = new ArrayList<>();
        String[] paths = {"/a", "/b", "/a/deny", "/b/deny", "/a/x", "/b/x"};
        for (int w = 0; w < 4; w++) {
            int offset = w;
            workers.add(pool.submit(() -> {
                int n = 0;
                HboneTestClient.Answer ans = client.connect("127.90.2.5:80", Map.of()).get(10, TimeUnit.SECONDS);
                Channel t = ans.tunnel();
                BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
                try {
                    while (!stop.get()) {
                        String path = paths[(n + offset) % paths.length];
                        Reply r = exchange(t, q, path, Map.of());
                        n++;
                        String gen = r.body().contains("header x-gen=A") ? "A" : r.body().contains("header x-gen=B") ? "B" : "-";
                        String outcome = path + " " + r.status() + " " + gen;
                        seen.add(outcome);
                        boolean ok = switch (r.status()) {
                            // allowed: by the generation whose prefix it is, routed by that same generation
                            case 200 -> !path.endsWith("/deny") && path.startsWith("/" + gen.toLowerCase(java.util.Locale.ROOT));
                            case 403 -> r.body().equals("RBAC: access denied");
                            default -> false;
                        };
                        if (!ok) {
                            violations.add(outcome + " " + r.body().lines().findFirst().orElse(""));
                        }
                    }
                } finally {
                    t.close();
                }
                return n;
            }));
        }
        try {
            for (int i = 0; i < 6; i++) {
                write("churn.yaml", generation(i % 2 == 0 ? "B" : "A"));
            }
        } finally {
            stop.set(true);
        }
        int total = 0;
        for (Future<Integer> f : workers) {
            total += f.get(30, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertThat(violations).as("inconsistent answers out of %d", total).isEmpty();
        assertThat(seen).as("both generations served under load (%d requests)", total)
                .contains("/a 200 A", "/b 200 B", "/a 403 -", "/b 403 -");
        assertThat(total).isGreaterThan(100);
    }
}
