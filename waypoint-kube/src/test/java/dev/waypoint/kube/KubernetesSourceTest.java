package dev.waypoint.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link KubernetesSource} against the fabric8 mock API server (CRUD mode): what it keeps of each
 * object, CRDs that come and go, changes, the API server going away, and 410 Gone at the watch
 * handshake and inside a watch. Loopback 127.120.0.1.
 */
class KubernetesSourceTest {
    static final String BASE = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: apps, labels: {istio.io/use-waypoint: waypoint}}
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-1
              namespace: apps
              labels: {app: web}
              annotations:
                kubectl.kubernetes.io/last-applied-configuration: '{"a huge": "copy"}'
                note: kept
              managedFields:
              - {manager: kubectl, operation: Apply, apiVersion: v1}
              ownerReferences:
              - {apiVersion: apps/v1, kind: ReplicaSet, name: web-abc, uid: "1"}
            spec:
              serviceAccountName: web
              nodeName: node-1
              volumes: [{name: data, emptyDir: {}}]
              containers:
              - name: app
                image: example/web:1
                env: [{name: SECRET, value: "x"}]
                ports: [{name: http, containerPort: 8080}]
            status:
              podIP: 127.120.1.1
              phase: Running
              hostIP: 10.0.0.1
              conditions: [{type: Ready, status: "True", lastProbeTime: null}]
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data: {mesh: "rootNamespace: istio-system", meshNetworks: "networks: {}"}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: other, namespace: istio-system}
            data: {x: y}
            """;

    MockKubeApi api;
    java.nio.file.Path kubeconfig;
    KubernetesSource source;

    @BeforeEach
    void start() throws Exception {
        api = MockKubeApi.start("127.120.0.1");
        api.apply(BASE);
        kubeconfig = api.writeKubeconfig(java.nio.file.Files.createTempDirectory("kube"));
    }

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
        api.close();
    }

    private void startSource() throws InterruptedException {
        source = KubernetesSource.connect(kubeconfig, WatchedKinds.forWaypoint("istio-system", "istio-system"), Clock.systemUTC());
        source.start();
        assertThat(source.awaitSynced(Duration.ofSeconds(20))).as("synced: %s", source.debug()).isTrue();
    }

    private Optional<JsonNode> object(String path) {
        return source.read().stream().filter(f -> f.path().equals(path)).map(f -> f.objects().get(0).tree()).findFirst();
    }

    @Test
    void aRegistrySecretReachesTheWasmPluginNamingItAndAnOpaqueSecretNeverArrives() throws Exception {
        String login = java.util.Base64.getEncoder().encodeToString(
                "{\"auths\":{\"registry.test:5000\":{\"username\":\"alice\",\"password\":\"s3cret\"}}}"
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        api.installCrd(kind("WasmPlugin"));
        api.apply("""
                apiVersion: extensions.istio.io/v1alpha1
                kind: WasmPlugin
                metadata: {name: wp, namespace: apps}
                spec:
                  targetRefs: [{kind: Service, group: '', name: echo}]
                  url: oci://registry.test:5000/wasm/plugin:v1
                  imagePullSecret: regcred
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: regcred, namespace: apps, labels: {a: b}, annotations: {note: x}}
                type: kubernetes.io/dockerconfigjson
                data: {.dockerconfigjson: %s, extra: eA==}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: opaque, namespace: apps}
                type: Opaque
                data: {password: czNjcmV0}
                """.formatted(login));
        startSource();
        JsonNode secret = object("api:Secret/apps/regcred").orElseThrow();
        assertThat(secret).isEqualTo(json("{'apiVersion':'v1','kind':'Secret','metadata':{'name':'regcred','namespace':"
                + "'apps'},'type':'kubernetes.io/dockerconfigjson','data':{'.dockerconfigjson':'" + login + "'}}"));
        assertThat(object("api:Secret/apps/opaque")).isEmpty();
        assertThat(source.debug().toString()).doesNotContain(login).doesNotContain("czNjcmV0").doesNotContain("regcred");

        dev.waypoint.model.Diagnostics d = new dev.waypoint.model.Diagnostics();
        List<dev.waypoint.config.translate.WireObject> wire = source.read().stream().flatMap(f -> f.objects().stream())
                .toList();
        dev.waypoint.model.ResourceSet rs = dev.waypoint.config.translate.ResourceTranslator.resourceSet(
                new dev.waypoint.model.mesh.NamespacedName("apps", "waypoint"), "cluster.local",
                dev.waypoint.config.translate.ResourceTranslator.translate(wire, d));
        assertThat(rs.wasmPlugins()).singleElement().satisfies(p -> assertThat(p.pullCredentials()).isEqualTo(
                new dev.waypoint.model.extension.RegistryCredentials(Map.of("registry.test:5000",
                        new dev.waypoint.model.extension.RegistryCredentials.Login("alice", "s3cret")))));

        // a registry Secret created later arrives through the watch; the Opaque one still never does
        api.apply("""
                apiVersion: v1
                kind: Secret
                metadata: {name: regcred, namespace: apps}
                type: kubernetes.io/dockerconfigjson
                data: {.dockerconfigjson: %s}
                """.formatted(login).replace("regcred", "regcred2"));
        await().atMost(Duration.ofSeconds(10)).until(() -> object("api:Secret/apps/regcred2").isPresent());
        assertThat(object("api:Secret/apps/opaque")).isEmpty();
        // every request for Secrets carries one of the four type selectors (none lists every Secret), and
        // those of the TLS types ask for the waypoint's namespace only
        assertThat(api.secretRequests()).isNotEmpty().allSatisfy(p -> {
            String path = java.net.URLDecoder.decode(p, java.nio.charset.StandardCharsets.UTF_8);
            assertThat(path).containsAnyOf("fieldSelector=type=kubernetes.io/dockerconfigjson",
                    "fieldSelector=type=kubernetes.io/dockercfg", "fieldSelector=type=Opaque", "fieldSelector=type=kubernetes.io/tls");
            if (path.contains("type=Opaque") || path.contains("type=kubernetes.io/tls")) {
                assertThat(path).startsWith("/api/v1/namespaces/istio-system/secrets?");
            }
        });
    }

    @Test
    void theTlsSecretsOfTheWaypointsNamespaceArriveWithTheirTlsKeysOnly() throws Exception {
        api.apply("""
                apiVersion: v1
                kind: Secret
                metadata: {name: client, namespace: istio-system, labels: {a: b}}
                type: kubernetes.io/tls
                data: {tls.crt: Y2VydA==, tls.key: a2V5, ca.crt: Y2E=, tls.ocsp-staple: eA==}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: roots, namespace: istio-system}
                type: Opaque
                data: {cacert: Y2E=, password: czNjcmV0}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: client, namespace: apps}
                type: kubernetes.io/tls
                data: {tls.crt: Y2VydA==, tls.key: a2V5}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: token, namespace: istio-system}
                type: kubernetes.io/service-account-token
                data: {token: czNjcmV0}
                """);
        startSource();
        assertThat(object("api:Secret/istio-system/client").orElseThrow()).isEqualTo(json("{'apiVersion':'v1','kind':'Secret',"
                + "'metadata':{'name':'client','namespace':'istio-system'},'type':'kubernetes.io/tls','data':{'tls.crt':"
                + "'Y2VydA==','tls.key':'a2V5','ca.crt':'Y2E='}}"));
        assertThat(object("api:Secret/istio-system/roots").orElseThrow()).isEqualTo(json("{'apiVersion':'v1','kind':'Secret',"
                + "'metadata':{'name':'roots','namespace':'istio-system'},'type':'Opaque','data':{'cacert':'Y2E='}}"));
        assertThat(object("api:Secret/apps/client")).isEmpty();
        assertThat(object("api:Secret/istio-system/token")).isEmpty();

        // one added later arrives through the watch
        api.apply("""
                apiVersion: v1
                kind: Secret
                metadata: {name: client-cacert, namespace: istio-system}
                type: Opaque
                data: {ca.crt: Y2E=}
                """);
        await().atMost(Duration.ofSeconds(10)).until(() -> object("api:Secret/istio-system/client-cacert").isPresent());
    }

    @Test
    void forbiddenSecretsAreNotReadableAndTheRestIsReady() throws Exception {
        api.forbidSecrets(true);
        startSource(); // ready without them
        for (String type : List.of("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg", "Opaque in istio-system",
                "kubernetes.io/tls in istio-system")) {
            Map<String, Object> d = kindDebug("Secret(type=" + type + ")");
            assertThat(d).containsEntry("state", "NOT_INSTALLED").containsEntry("forbidden", true);
        }
        assertThat(object("api:Namespace/apps")).isPresent();
    }

    @Test
    void objectsAreStrippedToWhatTheTranslatorsRead() throws Exception {
        startSource();
        JsonNode pod = object("api:Pod/apps/web-1").orElseThrow();
        assertThat(pod.path("apiVersion").asText()).isEqualTo("v1");
        assertThat(pod.path("kind").asText()).isEqualTo("Pod");
        assertThat(pod.path("metadata").has("managedFields")).isFalse();
        // the workload derivation's part of the owner references (PodWorkloads): not the uid
        assertThat(pod.path("metadata").path("ownerReferences")).isEqualTo(json(
                "[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'web-abc'}]"));
        assertThat(pod.path("metadata").has("resourceVersion")).isFalse();
        assertThat(pod.path("metadata").path("annotations").has(ObjectStripper.LAST_APPLIED)).isFalse();
        assertThat(pod.path("metadata").path("annotations").path("note").asText()).isEqualTo("kept");
        assertThat(pod.path("spec")).isEqualTo(json(
                "{'serviceAccountName':'web','nodeName':'node-1','containers':[{'name':'app','ports':[{'containerPort':8080,'name':'http'}]}]}"));
        assertThat(pod.path("status")).isEqualTo(json(
                "{'phase':'Running','podIP':'127.120.1.1','conditions':[{'status':'True','type':'Ready'}]}"));
        // the mesh config: the istio ConfigMap of the root namespace, its mesh key only
        assertThat(object("api:ConfigMap/istio-system/istio").orElseThrow().path("data"))
                .isEqualTo(json("{'mesh':'rootNamespace: istio-system'}"));
        assertThat(object("api:ConfigMap/istio-system/other")).isEmpty();
        assertThat(object("api:Namespace/apps")).isPresent();
    }

    @Test
    void anEnvoyFilterRateLimitIsWatchedAsInTheDirectoryMode() throws Exception {
        // the README's "--kube: the same kinds as the directory mode"; EnvoyFilter was not watched
        api.installCrd(kind("EnvoyFilter"));
        api.apply("""
                apiVersion: networking.istio.io/v1alpha3
                kind: EnvoyFilter
                metadata: {name: web-ratelimit, namespace: apps}
                spec:
                  targetRefs: [{kind: Service, group: "", name: web}]
                  configPatches:
                  - applyTo: HTTP_FILTER
                    patch:
                      operation: INSERT_BEFORE
                      value:
                        name: envoy.filters.http.local_ratelimit
                        typed_config:
                          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
                          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                          value:
                            stat_prefix: http_local_rate_limiter
                            token_bucket: {max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s}
                """);
        startSource();
        assertThat(state("EnvoyFilter")).isEqualTo("WATCHING");
        assertThat(object("api:EnvoyFilter/apps/web-ratelimit")).isPresent();
        dev.waypoint.model.Diagnostics d = new dev.waypoint.model.Diagnostics();
        List<dev.waypoint.config.translate.WireObject> wire = source.read().stream().flatMap(f -> f.objects().stream())
                .toList();
        dev.waypoint.model.ResourceSet rs = dev.waypoint.config.translate.ResourceTranslator.resourceSet(
                new dev.waypoint.model.mesh.NamespacedName("apps", "waypoint"), "cluster.local",
                dev.waypoint.config.translate.ResourceTranslator.translate(wire, d));
        assertThat(d.problems()).as("%s", d.problems()).noneMatch(p -> p.severity() == dev.waypoint.model.Diagnostics.Severity.ERROR);
        assertThat(rs.localRateLimits()).singleElement().satisfies(l -> {
            assertThat(l.name()).isEqualTo(new dev.waypoint.model.mesh.NamespacedName("apps", "web-ratelimit"));
            assertThat(l.maxTokens()).isEqualTo(10);
        });
    }

    @Test
    void aKindWithoutItsCrdIsSkippedUntilTheCrdAppearsAndGoesWithIt() throws Exception {
        startSource(); // no CRDs installed: synced anyway
        WatchedKind routes = kind("HTTPRoute");
        assertThat(state("HTTPRoute")).isEqualTo("NOT_INSTALLED");

        api.installCrd(routes);
        api.apply("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: web, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules: [{backendRefs: [{name: web, port: 80}]}]
                """);
        await().atMost(Duration.ofSeconds(20)).until(() -> object("api:HTTPRoute/apps/web").isPresent());
        assertThat(state("HTTPRoute")).isEqualTo("WATCHING");

        api.deleteCrd(routes);
        await().atMost(Duration.ofSeconds(20)).until(() -> object("api:HTTPRoute/apps/web").isEmpty());
        assertThat(state("HTTPRoute")).isEqualTo("NOT_INSTALLED");
    }

    @Test
    void withoutRbacForCrdsEachCustomKindIsWatchedDirectlyAndA404MeansNotInstalled() throws Exception {
        api.forbidCrdReads(true);
        api.notServed("gateways", true); // no Gateway CRD: a real API server answers 404
        api.installCrd(kind("HTTPRoute"));
        api.apply("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: web, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules: [{backendRefs: [{name: web, port: 80}]}]
                """);
        startSource();
        assertThat(object("api:HTTPRoute/apps/web")).isPresent();
        assertThat(state("HTTPRoute")).isEqualTo("WATCHING");
        assertThat(state("Gateway")).isEqualTo("NOT_INSTALLED");

        // the CRD appears: picked up at the next try (every 30 s)
        api.notServed("gateways", false);
        api.apply("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint, namespace: istio-system}
                spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
                """);
        await().atMost(Duration.ofSeconds(45)).until(() -> object("api:Gateway/istio-system/waypoint").isPresent());
    }

    @Test
    void createsUpdatesAndDeletesChangeTheVersionAndTheContent() throws Exception {
        startSource();
        long v0 = source.version();
        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: apps}
                spec: {clusterIP: 127.120.0.10, ports: [{name: http, port: 80}]}
                """);
        await().atMost(Duration.ofSeconds(20)).until(() -> object("api:Service/apps/web").isPresent());
        assertThat(source.version()).isGreaterThan(v0);

        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: apps}
                spec: {clusterIP: 127.120.0.10, ports: [{name: http, port: 8080}]}
                """);
        await().atMost(Duration.ofSeconds(20)).until(() ->
                object("api:Service/apps/web").orElseThrow().path("spec").path("ports").get(0).path("port").asInt() == 8080);

        // a change only to status or resourceVersion leaves the stripped object equal: no new version
        long v1 = source.version();
        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: apps}
                spec: {clusterIP: 127.120.0.10, ports: [{name: http, port: 8080}]}
                status: {loadBalancer: {}}
                """);
        Thread.sleep(500); // nothing to wait for: the absence of a change
        assertThat(source.version()).isEqualTo(v1);

        api.delete("v1", "Service", "apps", "web");
        await().atMost(Duration.ofSeconds(20)).until(() -> object("api:Service/apps/web").isEmpty());
    }

    @Test
    void theLastObjectsKeepServingWhileTheApiServerIsAwayAndChangesArriveAfterItCameBack() throws Exception {
        startSource();
        api.goAway();
        await().atMost(Duration.ofSeconds(30)).until(() -> !source.health().connected());
        assertThat(source.health().detail()).contains("unreachable since").contains("serving the last good config");
        assertThat(object("api:Pod/apps/web-1")).isPresent();

        api.comeBack();
        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: after, namespace: apps}
                spec: {clusterIP: 127.120.0.11, ports: [{name: http, port: 80}]}
                """);
        await().atMost(Duration.ofSeconds(60)).until(() -> object("api:Service/apps/after").isPresent());
        await().atMost(Duration.ofSeconds(30)).until(() -> source.health().connected());
        assertThat(object("api:Pod/apps/web-1")).isPresent();
    }

    @Test
    void a410AtTheWatchHandshakeListsAgain() throws Exception {
        startSource();
        api.goAway();
        await().atMost(Duration.ofSeconds(30)).until(() -> !source.health().connected());
        api.goneAtHandshake(1000);
        api.comeBack();
        // deleted while every watch is refused with 410: only a new list can see it
        api.delete("v1", "Pod", "apps", "web-1");
        await().atMost(Duration.ofSeconds(60)).until(() -> relists("Pod") > 0);
        api.goneAtHandshake(0);
        await().atMost(Duration.ofSeconds(60)).until(() -> object("api:Pod/apps/web-1").isEmpty());
        await().atMost(Duration.ofSeconds(30)).until(() -> source.health().connected());
    }

    @Test
    void a410ErrorEventInsideAWatchListsAgain() throws Exception {
        startSource();
        api.goAway();
        await().atMost(Duration.ofSeconds(30)).until(() -> !source.health().connected());
        api.goneInWatch(1000);
        api.comeBack();
        await().atMost(Duration.ofSeconds(30)).until(() -> api.watchRequests() > 30);
        api.goneInWatch(0);
        api.apply("""
                apiVersion: v1
                kind: Service
                metadata: {name: late, namespace: apps}
                spec: {clusterIP: 127.120.0.12, ports: [{name: http, port: 80}]}
                """);
        await().atMost(Duration.ofSeconds(60)).until(() -> object("api:Service/apps/late").isPresent());
        await().atMost(Duration.ofSeconds(30)).until(() -> source.health().connected());
    }

    private static JsonNode json(String singleQuoted) throws Exception {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(singleQuoted.replace('\'', '"'));
    }

    private static WatchedKind kind(String name) {
        return WatchedKinds.forWaypoint("istio-system", "istio-system").stream().filter(k -> k.kind().equals(name)).findFirst().orElseThrow();
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> kindDebug(String kind) {
        for (Object o : (List<Object>) source.debug().get("kinds")) {
            Map<String, Object> m = (Map<String, Object>) o;
            if (m.get("kind").toString().startsWith(kind + ".") || m.get("kind").equals(kind)) {
                return m;
            }
        }
        throw new AssertionError(kind);
    }

    private String state(String kind) {
        return (String) kindDebug(kind).get("state");
    }

    private int relists(String kind) {
        return (Integer) kindDebug(kind).get("relists");
    }
}
