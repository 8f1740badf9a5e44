package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.DeniedHttpResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.envoyproxy.envoy.type.v3.StatusCode;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CUSTOM AuthorizationPolicy through the real server against real ext_authz providers: a gRPC
 * {@code envoy.service.auth.v3.Authorization/Check} server (grpc-java, the Envoy API's generated
 * service) on a mesh pod, reached through HBONE, and an HTTP server (the JDK's) on plaintext pods.
 * Both decide as Istio's ext-authz sample does: allow iff the request has {@code x-ext-authz: allow}.
 * The providers come from the {@code istio} ConfigMap among the manifests. Loopback range 127.90.x.x.
 */
class ExtAuthzEndToEndTest {
    private static final String DENIED = "denied by ext_authz for not found header `x-ext-authz: allow` in the request";

    @TempDir
    static Path tmp;
    static TestMesh mesh;
    static Path configDir;
    static Server grpc;
    static HttpServer http;
    static ExecutorService httpThreads;
    static final List<CheckRequest> grpcSeen = new CopyOnWriteArrayList<>();
    static final List<Map<String, String>> httpSeen = new CopyOnWriteArrayList<>();
    HboneTestClient client;

    @BeforeAll
    static void startMesh() throws Exception {
        configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = ExtAuthzEndToEndTest.class.getResourceAsStream("/e2e/ext-authz-mesh.yaml")) {
            Files.write(configDir.resolve("mesh.yaml"), in.readAllBytes());
        }
        Files.writeString(configDir.resolve("policies.yaml"), "");
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
        // the fixtures start an echo backend on every pod port: the providers take theirs, the dead one stays closed
        mesh.backend("127.90.1.10", 9000).close();
        mesh.backend("127.90.1.11", 8000).close();
        mesh.backend("127.90.1.12", 8000).close();
        grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.90.1.10", 9000))
                .addService(new AuthorizationGrpc.AuthorizationImplBase() {
                    @Override
                    public void check(CheckRequest request, StreamObserver<CheckResponse> out) {
                        grpcSeen.add(request);
                        boolean allow = "allow".equals(request.getAttributes().getRequest().getHttp().getHeadersMap()
                                .get("x-ext-authz"));
                        out.onNext(allow ? CheckResponse.newBuilder()
                                .setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                                .setOkResponse(OkHttpResponse.newBuilder()
                                        .addHeaders(header("x-ext-authz-check-result", "allowed"))
                                        .addResponseHeadersToAdd(header("x-ext-authz-allowed", "grpc")))
                                .build()
                                : CheckResponse.newBuilder()
                                .setStatus(com.google.rpc.Status.newBuilder().setCode(7))
                                .setDeniedResponse(DeniedHttpResponse.newBuilder()
                                        .setStatus(HttpStatus.newBuilder().setCode(StatusCode.Forbidden))
                                        .addHeaders(header("x-ext-authz-check-result", "denied"))
                                        .setBody(DENIED))
                                .build());
                        out.onCompleted();
                    }
                }).build().start();
        httpThreads = Executors.newCachedThreadPool();
        http = HttpServer.create(new InetSocketAddress("127.90.1.11", 8000), 16);
        http.setExecutor(httpThreads);
        http.createContext("/", ExtAuthzEndToEndTest::httpCheck);
        http.start();
    }

    private static HeaderValueOption header(String k, String v) {
        return HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(k).setValue(v)).build();
    }

    /** Istio's ext-authz sample, HTTP flavour; {@code /slow*} answers after 3 s. */
    private static void httpCheck(HttpExchange ex) throws java.io.IOException {
        Map<String, String> seen = new java.util.TreeMap<>();
        ex.getRequestHeaders().forEach((k, v) -> seen.put(k.toLowerCase(java.util.Locale.ROOT), String.join(",", v)));
        seen.put(":method", ex.getRequestMethod());
        seen.put(":path", ex.getRequestURI().toString());
        httpSeen.add(seen);
        if (ex.getRequestURI().getPath().startsWith("/slow")) {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        boolean allow = "allow".equals(ex.getRequestHeaders().getFirst("x-ext-authz"));
        byte[] body = allow ? new byte[0] : DENIED.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("x-ext-authz-check-result", allow ? "allowed" : "denied");
        ex.getResponseHeaders().set("x-user", "alice");
        ex.getResponseHeaders().set("x-ext-authz-allowed", "http");
        ex.getResponseHeaders().set("x-not-forwarded", "no");
        ex.sendResponseHeaders(allow ? 200 : 403, body.length == 0 ? -1 : body.length);
        ex.getResponseBody().write(body);
        ex.close();
    }

    @AfterAll
    static void stopMesh() throws Exception {
        if (grpc != null) {
            grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (http != null) {
            http.stop(0);
            httpThreads.shutdownNow();
        }
        if (mesh != null) {
            mesh.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        grpcSeen.clear();
        httpSeen.clear();
    }

    @AfterEach
    void disconnect() throws Exception {
        client.close();
    }

    /** Writes the policies and waits until the waypoint runs the generation that has them. */
    static List<String> policies(String yaml) throws Exception {
        if (!yaml.equals(Files.readString(configDir.resolve("policies.yaml")))) {
            long gen = mesh.waypoint().snapshots().current().generation();
            Files.writeString(configDir.resolve("policies.yaml"), yaml);
            await().atMost(Duration.ofSeconds(10)).until(() -> mesh.waypoint().snapshots().current().generation() > gen);
        }
        return mesh.waypoint().snapshots().current().problems().stream().map(Object::toString).toList();
    }

    static String custom(String provider, String paths) {
        return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: custom, namespace: apps}\n"
                + "spec:\n  targetRefs: [{group: '', kind: Service, name: web}]\n  action: CUSTOM\n"
                + "  provider: {name: " + provider + "}\n  rules: [{to: [{operation: {paths: " + paths + "}}]}]\n";
    }

    /** One GET on a fresh tunnel to web. */
    private FullHttpResponse get(String path, Map<String, String> headers) throws Exception {
        HboneTestClient.Answer a = client.connect("127.90.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        Channel t = a.tunnel();
        BlockingQueue<FullHttpResponse> q = Tunnels.http1(t);
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        headers.forEach(r.headers()::set);
        t.writeAndFlush(r);
        try {
            return Tunnels.take(q);
        } finally {
            t.close();
        }
    }

    private static String text(FullHttpResponse r) {
        try {
            return r.status().code() + " " + r.content().toString(StandardCharsets.UTF_8);
        } finally {
            r.release();
        }
    }

    @Test
    void grpcProviderOverHboneAllowsAndDenies() throws Exception {
        assertThat(policies(custom("ext-grpc", "[/custom*]"))).isEmpty();

        FullHttpResponse allowed = get("/custom", Map.of("x-ext-authz", "allow"));
        assertThat(allowed.headers().get("x-ext-authz-allowed")).as("response_headers_to_add").isEqualTo("grpc");
        assertThat(text(allowed)).startsWith("200 hello from web-v1").contains("header x-ext-authz-check-result=allowed");

        FullHttpResponse denied = get("/custom", Map.of("x-ext-authz", "deny"));
        assertThat(denied.headers().get("x-ext-authz-check-result")).isEqualTo("denied");
        assertThat(text(denied)).isEqualTo("403 " + DENIED);

        assertThat(text(get("/other", Map.of()))).as("not matched: not asked").startsWith("200 hello from web-v1");
        assertThat(grpcSeen).hasSize(2);
        CheckRequest first = grpcSeen.get(0);
        assertThat(first.getAttributes().getSource().getPrincipal()).isEqualTo("spiffe://cluster.local/ns/apps/sa/client");
        assertThat(first.getAttributes().getRequest().getHttp().getPath()).isEqualTo("/custom");
        assertThat(first.getAttributes().getRequest().getHttp().getMethod()).isEqualTo("GET");
        assertThat(first.getAttributes().getRequest().getHttp().getHost()).isEqualTo("web.apps");
        // the provider pod is in the mesh: the call went through its ztunnel, as the waypoint's identity
        assertThat(mesh.ztunnels().seen()).anySatisfy(s -> {
            assertThat(s.authority()).isEqualTo("127.90.1.10:9000");
            assertThat(s.peer().uri()).isEqualTo("spiffe://cluster.local/ns/istio-system/sa/waypoint");
        });
    }

    @Test
    void httpProviderAllowsDeniesAndPassesHeaders() throws Exception {
        assertThat(policies(custom("ext-http", "[/custom*]"))).isEmpty();

        FullHttpResponse allowed = get("/custom?a=1", Map.of("x-ext-authz", "allow", "cookie", "not-for-authz",
                "x-ext-authz-additional-header-override", "from-client"));
        assertThat(allowed.headers().get("x-ext-authz-allowed")).as("headersToDownstreamOnAllow").isEqualTo("http");
        String page = text(allowed);
        assertThat(page).startsWith("200 hello from web-v1").contains("header x-ext-authz-check-result=allowed",
                "header x-user=alice").doesNotContain("x-not-forwarded");

        FullHttpResponse denied = get("/custom", Map.of());
        assertThat(denied.headers().get("x-ext-authz-check-result")).isEqualTo("denied");
        assertThat(denied.headers().contains("x-user")).as("not in headersToDownstreamOnDeny").isFalse();
        assertThat(text(denied)).isEqualTo("403 " + DENIED);

        assertThat(httpSeen).hasSize(2);
        Map<String, String> check = httpSeen.get(0);
        assertThat(check).containsEntry(":path", "/check/custom?a=1").containsEntry(":method", "GET")
                .containsEntry("x-ext-authz", "allow").containsEntry("host", "web.apps")
                .containsEntry("x-ext-authz-additional-header-override", "from-mesh-config")
                .containsEntry("content-length", "0").doesNotContainKey("cookie");
    }

    @Test
    void aDeadProviderAnswersStatusOnErrorUnlessFailOpen() throws Exception {
        assertThat(policies(custom("ext-dead", "[/custom]"))).isEmpty();
        FullHttpResponse r = get("/custom", Map.of("x-ext-authz", "allow"));
        assertThat(r.headers().get("x-waypoint-reason")).isEqualTo("ext_authz_error");
        assertThat(text(r)).isEqualTo("503 ");

        assertThat(policies(custom("ext-dead-open", "[/custom]"))).isEmpty();
        assertThat(text(get("/custom", Map.of()))).startsWith("200 hello from web-v1");
    }

    @Test
    void aSlowProviderTimesOutIntoStatusOnErrorUnlessFailOpen() throws Exception {
        assertThat(policies(custom("ext-slow", "[/slow]"))).isEmpty();
        long t0 = System.nanoTime();
        assertThat(text(get("/slow", Map.of("x-ext-authz", "allow")))).isEqualTo("403 ");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("the 300 ms timeout, not the provider's 3 s")
                .isLessThan(Duration.ofMillis(2500));

        assertThat(policies(custom("ext-slow-open", "[/slow]"))).isEmpty();
        assertThat(text(get("/slow", Map.of()))).startsWith("200 hello from web-v1");
    }

    @Test
    void anUnknownProviderDeniesWhatItsRulesMatch() throws Exception {
        assertThat(policies(custom("nope", "[/custom]"))).singleElement().asString()
                .contains("provider: nope (expected: an envoyExtAuthzHttp or envoyExtAuthzGrpc provider");
        assertThat(text(get("/custom", Map.of("x-ext-authz", "allow")))).isEqualTo("403 RBAC: access denied");
        assertThat(text(get("/other", Map.of()))).startsWith("200 hello from web-v1");
    }

    @Test
    void aCustomAllowStillMeetsADenyPolicy() throws Exception {
        assertThat(policies(custom("ext-grpc", "[/custom*]") + "---\napiVersion: security.istio.io/v1\n"
                + "kind: AuthorizationPolicy\nmetadata: {name: no-admin, namespace: apps}\nspec:\n"
                + "  targetRefs: [{group: '', kind: Service, name: web}]\n  action: DENY\n"
                + "  rules: [{to: [{operation: {paths: [/custom/admin]}}]}]\n")).isEmpty();
        assertThat(text(get("/custom/admin", Map.of("x-ext-authz", "allow")))).isEqualTo("403 RBAC: access denied");
        assertThat(grpcSeen).as("CUSTOM ran first").hasSize(1);
        assertThat(text(get("/custom/x", Map.of("x-ext-authz", "allow")))).startsWith("200 hello from web-v1");
    }
}
