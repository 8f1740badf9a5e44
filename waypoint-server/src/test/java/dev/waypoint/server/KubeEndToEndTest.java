package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.kube.KubeSettings;
import dev.waypoint.kube.MockKubeApi;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code waypoint run --kube} end to end: the manifests of {@link HttpRouteEndToEndTest}
 * ({@code e2e/routes-mesh.yaml}, moved to this test's loopback range 127.120.x.x) loaded into the
 * fabric8 mock API server (CRUD mode, Gateway API and Istio CRDs as generic resources), and the
 * waypoint started against it with a kubeconfig: it answers as the directory mode does, follows
 * changes, keeps serving while the API server is away, and writes route and policy status.
 */
class KubeEndToEndTest {
    static final String ROUTE = "gateway.networking.k8s.io/v1";
    static final String CONTROLLER = KubeSettings.DEFAULT_CONTROLLER_NAME;

    @TempDir
    static Path tmp;
    static MockKubeApi api;
    static TestMesh mesh;
    static String manifests;
    HboneTestClient client;
    Channel tunnel;
    BlockingQueue<FullHttpResponse> responses;

    @BeforeAll
    static void startMesh() throws Exception {
        try (InputStream in = KubeEndToEndTest.class.getResourceAsStream("/e2e/routes-mesh.yaml")) {
            manifests = new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("127.80.", "127.120.");
        }
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), manifests); // the fixtures' view: backends, pod IPs
        api = MockKubeApi.start("127.120.0.100");
        api.installAllCrds("istio-system");
        api.apply(manifests);
        mesh = TestMesh.startKube(configDir, tmp, new NamespacedName("istio-system", "waypoint"),
                TestMesh.Options.ephemeral(), api.writeKubeconfig(tmp));
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
        if (api != null) {
            api.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        HboneTestClient.Answer a = client.connect("127.120.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
        assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
        tunnel = a.tunnel();
        responses = Tunnels.http1(tunnel);
    }

    @AfterEach
    void close() {
        tunnel.close();
        client.close();
    }

    /** The answers HttpRouteEndToEndTest asserts for the directory mode: path, status, header, value. */
    static Stream<Arguments> sameAnswers() {
        return Stream.of(
                Arguments.of("/v2/items", 200, "x-echo-server", "web-v2"),
                Arguments.of("/v2/items", 200, "x-routed", "yes"),
                Arguments.of("/old", 302, "location", "http://new.example/new"),
                Arguments.of("/nothing/here", 404, "x-waypoint-reason", "route_not_found"),
                Arguments.of("/api/users?id=7", 200, "x-echo-path", "/v1/users?id=7"));
    }

    @ParameterizedTest
    @MethodSource("sameAnswers")
    void answersAsTheDirectoryModeDoes(String path, int status, String header, String value) throws Exception {
        FullHttpResponse r = get(path);
        try {
            assertThat(r.status().code()).isEqualTo(status);
            assertThat(r.headers().get(header)).isEqualTo(value);
        } finally {
            r.release();
        }
    }

    @Test
    void theRouteGetsAcceptedAndResolvedRefsForItsServiceParentUnderOurControllerName() throws Exception {
        JsonNode entry = await().atMost(Duration.ofSeconds(20)).until(() -> ourParent("web"), e -> e != null);
        assertThat(entry.path("parentRef").path("name").asText()).isEqualTo("web");
        assertThat(entry.path("parentRef").path("kind").asText()).isEqualTo("Service");
        assertThat(condition(entry.path("conditions"), "Accepted").path("status").asText()).isEqualTo("True");
        assertThat(condition(entry.path("conditions"), "Accepted").path("reason").asText()).isEqualTo("Accepted");
        assertThat(condition(entry.path("conditions"), "ResolvedRefs").path("status").asText()).isEqualTo("True");
        assertThat(condition(entry.path("conditions"), "Accepted").path("observedGeneration").asLong()).isPositive();
        assertThat(condition(entry.path("conditions"), "Accepted").hasNonNull("lastTransitionTime")).isTrue();
        // written as a patch of the status subresource (the chart grants get/patch on it)
        assertThat(api.statusWrites()).anyMatch(w -> w.startsWith("PATCH ") && w.contains("/httproutes/web/status"));
    }

    @Test
    void anotherControllersStatusEntryIsLeftAloneAndNothingIsWrittenWhenNothingChanged() throws Exception {
        api.apply("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: other, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web-v1, port: 80}]
                  rules: [{backendRefs: [{name: nowhere, port: 80}]}]
                status:
                  parents:
                  - parentRef: {group: "", kind: Service, name: web-v1, port: 80}
                    controllerName: istio.io/gateway-controller
                    conditions: [{type: Accepted, status: "True", reason: Accepted, message: istiod wrote this,
                                  lastTransitionTime: "2026-01-01T00:00:00Z"}]
                """);
        // web-v1 is bound here too (namespace apps uses the waypoint): our entry joins istiod's
        JsonNode ours = await().atMost(Duration.ofSeconds(20)).until(() -> ourParent("other"), e -> e != null);
        assertThat(condition(ours.path("conditions"), "ResolvedRefs").path("status").asText()).isEqualTo("False");
        assertThat(condition(ours.path("conditions"), "ResolvedRefs").path("reason").asText()).isEqualTo("BackendNotFound");
        JsonNode parents = api.status(ROUTE, "HTTPRoute", "apps", "other").path("parents");
        assertThat(parents).hasSize(2);
        assertThat(parents.get(0).path("controllerName").asText()).isEqualTo("istio.io/gateway-controller");
        assertThat(parents.get(0).path("conditions").get(0).path("message").asText()).isEqualTo("istiod wrote this");

        // a new generation that changes nothing about the route: no status write
        int writes = api.statusWrites().size();
        long generation = mesh.waypoint().snapshots().current().generation();
        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: unrelated, namespace: apps}
                spec: {clusterIP: 127.120.0.50, ports: [{name: http, port: 80}]}
                """);
        await().atMost(Duration.ofSeconds(20)).until(() -> mesh.waypoint().snapshots().current().generation() > generation);
        Thread.sleep(1000); // the writer runs after the publish; nothing to wait for but its absence
        assertThat(api.statusWrites()).hasSize(writes);

        api.delete(ROUTE, "HTTPRoute", "apps", "other");
        api.delete("v1", "Service", "apps", "unrelated");
    }

    @Test
    void anAuthorizationPolicyOnABoundServiceGetsOurWaypointAcceptedCondition() throws Exception {
        api.apply("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: allow-all, namespace: apps}
                spec:
                  targetRefs: [{kind: Service, group: "", name: web}]
                  action: ALLOW
                  rules: [{}]
                status:
                  conditions:
                  - {type: WaypointAccepted, status: "True", reason: Accepted, message: bound to istio-system/waypoint}
                """);
        String type = "waypoint.dev/WaypointAccepted";
        JsonNode ours = await().atMost(Duration.ofSeconds(20)).until(() -> condition(
                api.status("security.istio.io/v1", "AuthorizationPolicy", "apps", "allow-all").path("conditions"), type),
                c -> c != null);
        assertThat(ours.path("status").asText()).isEqualTo("True");
        assertThat(ours.path("reason").asText()).isEqualTo("Accepted");
        assertThat(ours.path("message").asText()).isEqualTo("bound to istio-system/waypoint");
        // istiod's own condition stays as it was
        assertThat(condition(api.status("security.istio.io/v1", "AuthorizationPolicy", "apps", "allow-all")
                .path("conditions"), "WaypointAccepted").path("message").asText()).isEqualTo("bound to istio-system/waypoint");
        api.delete("security.istio.io/v1", "AuthorizationPolicy", "apps", "allow-all");
    }

    @Test
    void anUpdateAndADeleteOfTheRouteAreServedAfterTheNextGeneration() throws Exception {
        String moved = manifests.substring(manifests.indexOf("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute"));
        api.apply(moved.replace("hostname: new.example", "hostname: newer.example"));
        awaitAnswer("/old", r -> "http://newer.example/new".equals(r.headers().get("location")));

        api.delete(ROUTE, "HTTPRoute", "apps", "web");
        // no route: the Service's own endpoints answer (no redirect any more)
        awaitAnswer("/old", r -> r.status().code() == 200);

        api.apply(moved);
        awaitAnswer("/old", r -> "http://new.example/new".equals(r.headers().get("location")));
    }

    @Test
    void theIstioConfigMapOfTheRootNamespaceIsTheMeshConfig() throws Exception {
        api.apply("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: istio, namespace: istio-system}
                data:
                  mesh: |
                    trustDomainAliases: [old.example]
                """);
        await().atMost(Duration.ofSeconds(20)).until(() -> mesh.waypoint().snapshots().current().resources().meshConfig()
                .trustDomainAliases().contains("old.example"));
        assertThat(mesh.waypoint().snapshots().current().resources().meshConfig().source().file())
                .isEqualTo("api:ConfigMap/istio-system/istio");
        api.delete("v1", "ConfigMap", "istio-system", "istio");
        await().atMost(Duration.ofSeconds(20)).until(() -> mesh.waypoint().snapshots().current().resources().meshConfig()
                .trustDomainAliases().isEmpty());
    }

    @Test
    void aBrokenUpdateKeepsTheLastGoodRouteServingAndTheStatusSaysWhy() throws Exception {
        String route = manifests.substring(manifests.indexOf("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute"));
        long generation = mesh.waypoint().snapshots().current().generation();
        api.apply(route.replace("{type: Exact, value: /old}", "{type: Bogus, value: /old}"));
        JsonNode accepted = await().atMost(Duration.ofSeconds(20)).until(() -> {
            JsonNode p = ourParent("web");
            return p == null ? null : condition(p.path("conditions"), "Accepted");
        }, c -> c != null && c.path("status").asText().equals("False"));
        assertThat(accepted.path("reason").asText()).isEqualTo("UnsupportedValue");
        assertThat(accepted.path("message").asText()).contains("Bogus");
        assertThat(mesh.waypoint().snapshots().current().generation()).isGreaterThan(generation);
        // the same last-good rule as the directory: the previous version of the route still serves
        FullHttpResponse r = get("/old");
        try {
            assertThat(r.status().code()).isEqualTo(302);
        } finally {
            r.release();
        }
        assertThat(admin("admin", "/config_dump").body()).contains("the previous version");

        api.apply(route);
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            JsonNode p = ourParent("web");
            return p != null && condition(p.path("conditions"), "Accepted").path("status").asText().equals("True");
        });
    }

    @Test
    void whileTheApiServerIsAwayTheLastConfigServesAndReadinessAndConfigDumpSaySo() throws Exception {
        api.goAway();
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> admin("health", "/healthz/ready").body()
                    .contains("unreachable since"));
            HttpResponse<String> ready = admin("health", "/healthz/ready");
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(ready.body()).contains("serving the last good config");
            assertThat(admin("admin", "/config_dump").body()).contains("\"kubernetes\"").contains("\"connected\" : false")
                    .contains("DISCONNECTED");
            FullHttpResponse r = get("/v2/items");
            assertThat(r.status().code()).isEqualTo(200);
            r.release();
        } finally {
            // back, and every watch answered 410 Gone at first: a fresh list sees what changed
            api.goneAtHandshake(10);
            api.comeBack();
        }
        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: web-v3, namespace: apps}
                spec: {clusterIP: 127.120.0.4, ports: [{name: http, port: 80}]}
                """);
        await().atMost(Duration.ofSeconds(90)).until(() -> admin("admin", "/config_dump").body().contains("apps/web-v3"));
        await().atMost(Duration.ofSeconds(60)).until(() -> admin("health", "/healthz/ready").body()
                .contains("watching the Kubernetes API"));
        api.delete("v1", "Service", "apps", "web-v3");
    }

    private void awaitAnswer(String path, java.util.function.Predicate<FullHttpResponse> ok) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
            FullHttpResponse r = get(path);
            try {
                return ok.test(r);
            } finally {
                r.release();
            }
        });
    }

    private FullHttpResponse get(String path) throws Exception {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
        r.headers().set(HttpHeaderNames.HOST, "web.apps");
        tunnel.writeAndFlush(r);
        return Tunnels.take(responses);
    }

    @Test
    void aGrpcRouteGetsItsStatusParentsEntryToo() throws Exception {
        api.apply("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata: {name: grpc, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web-v1, port: 80}]
                  rules: [{backendRefs: [{name: web-v1, port: 80}]}]
                """);
        try {
            JsonNode ours = await().atMost(Duration.ofSeconds(20)).until(() -> ourParent("GRPCRoute", "grpc"), e -> e != null);
            assertThat(ours.path("parentRef").path("name").asText()).isEqualTo("web-v1");
            assertThat(condition(ours.path("conditions"), "Accepted").path("status").asText()).isEqualTo("True");
            assertThat(condition(ours.path("conditions"), "ResolvedRefs").path("status").asText()).isEqualTo("True");
            assertThat(api.statusWrites()).anyMatch(w -> w.startsWith("PATCH ") && w.contains("/grpcroutes/grpc/status"));
        } finally {
            api.delete(ROUTE, "GRPCRoute", "apps", "grpc");
        }
    }

    private static JsonNode ourParent(String route) throws Exception {
        return ourParent("HTTPRoute", route);
    }

    private static JsonNode ourParent(String kind, String route) throws Exception {
        JsonNode status = api.status(ROUTE, kind, "apps", route);
        if (status == null) {
            return null;
        }
        for (JsonNode p : status.path("parents")) {
            if (CONTROLLER.equals(p.path("controllerName").asText())) {
                return p;
            }
        }
        return null;
    }

    private static JsonNode condition(JsonNode conditions, String type) {
        for (JsonNode c : conditions) {
            if (type.equals(c.path("type").asText())) {
                return c;
            }
        }
        return null;
    }

    private static HttpResponse<String> admin(String which, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + mesh.waypoint().adminAddress(which).getPort() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
