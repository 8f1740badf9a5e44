package dev.waypoint.wasm;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.RegistryCredentials;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Module loading: {@code http://} downloads verified against {@code sha256} and cached on disk by
 * digest (a cached module is not downloaded again), what each kind of bad url reports, and plugins
 * kept across generations while their spec is unchanged. The module is served by the JDK's HTTP
 * server on an ephemeral loopback port.
 */
class WasmPluginCompilerTest {
    private static byte[] module;
    private static String digest;

    @TempDir
    Path tmp;

    private HttpServer http;
    private final AtomicInteger downloads = new AtomicInteger();

    @BeforeAll
    static void build() throws Exception {
        module = Files.readAllBytes(TestPlugins.c("add_header"));
        digest = ModuleSource.sha256(module);
    }

    @BeforeEach
    void serve() throws Exception {
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/plugin.wasm", ex -> {
            downloads.incrementAndGet();
            ex.sendResponseHeaders(200, module.length);
            ex.getResponseBody().write(module);
            ex.close();
        });
        registry();
        http.createContext("/missing.wasm", ex -> {
            ex.sendResponseHeaders(404, -1);
            ex.close();
        });
        http.start();
    }

    @AfterEach
    void stop() {
        http.stop(0);
    }

    private String url(String path) {
        return "http://127.0.0.1:" + http.getAddress().getPort() + path;
    }

    private static WasmPluginSpec spec(String url, String sha256) {
        return new WasmPluginSpec("WasmPlugin", new NamespacedName("apps", "p"),
                List.of(new PolicyTargetRef("", "Service", "echo", null)), false, PluginPhase.UNSPECIFIED, 0, url, sha256,
                "", null, WasmPluginSpec.FailStrategy.FAIL_CLOSE, Map.of(), List.of(), new SourceRef("p.yaml", 1));
    }

    private WasmPluginCompiler compiler() {
        return new WasmPluginCompiler(WasmSettings.defaults(tmp.resolve("cache"), "", Map.of()), "istio-system",
                new SimpleMeterRegistry());
    }

    private static ResourceSet resources(WasmPluginSpec spec) {
        return ResourceSet.builder(TestRequests.WAYPOINT, "cluster.local").wasmPlugins(List.of(spec)).build();
    }

    @Test
    void anHttpModuleIsVerifiedCachedByDigestAndNotDownloadedAgain() throws Exception {
        Diagnostics d = new Diagnostics();
        WasmPlugins part = compiler().compile(resources(spec(url("/plugin.wasm"), digest)), d);
        assertThat(d.problems()).isEmpty();
        assertThat(part.debug()).singleElement().satisfies(m -> {
            assertThat(m).containsEntry("state", "loaded").containsEntry("sha256", digest).containsEntry("abi", "0.2.1");
        });
        assertThat(Files.readAllBytes(tmp.resolve("cache").resolve(digest + ".wasm"))).isEqualTo(module);
        assertThat(downloads).hasValue(1);

        // a new process (new compiler) with the server gone: served from the cache
        http.stop(0);
        Diagnostics d2 = new Diagnostics();
        WasmPlugins again = compiler().compile(resources(spec(url("/plugin.wasm"), digest)), d2);
        assertThat(d2.problems()).isEmpty();
        assertThat(again.debug()).singleElement().satisfies(m -> assertThat(m).containsEntry("state", "loaded"));
        assertThat(downloads).hasValue(1);
    }

    // --- a registry stand-in, from the OCI distribution spec: manifests and blobs behind a Bearer token ---

    /** The one login the stand-in's private repositories take: alice / s3cret. */
    private static final String BASIC = "Basic " + java.util.Base64.getEncoder()
            .encodeToString("alice:s3cret".getBytes(StandardCharsets.UTF_8));

    private final AtomicInteger pulls = new AtomicInteger();
    private byte[] manifest;
    private byte[] compatManifest;
    private byte[] compatLayer;

    private void registry() throws Exception {
        manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"sha256:"
                + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
                + "\"layers\":[{\"mediaType\":\"" + OciPull.WASM_LAYER + "\",\"digest\":\"sha256:" + digest
                + "\",\"size\":" + module.length + "}]}").getBytes(StandardCharsets.UTF_8);
        // Istio's compat format: a docker image whose one layer is a tar.gz holding plugin.wasm (made by tar)
        Path dir = Files.createDirectories(tmp.resolve("image"));
        Files.write(dir.resolve("plugin.wasm"), module);
        Path layer = tmp.resolve("layer.tar.gz");
        Process p = new ProcessBuilder("tar", "-czf", layer.toString(), "-C", dir.toString(), "plugin.wasm")
                .redirectErrorStream(true).start();
        assertThat(p.waitFor()).as(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
        compatLayer = Files.readAllBytes(layer);
        compatManifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                + "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"sha256:"
                + ModuleSource.sha256(compatLayer) + "\",\"size\":" + compatLayer.length + "}]}").getBytes(StandardCharsets.UTF_8);
        http.createContext("/token", ex -> {
            String q = ex.getRequestURI().getRawQuery();
            boolean ok = q != null && q.contains("service=registry.test") && q.contains("scope=repository%3Awasm");
            byte[] b = "{\"token\":\"t0k\"}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(ok ? 200 : 400, ok ? b.length : -1);
            if (ok) {
                ex.getResponseBody().write(b);
            }
            ex.close();
        });
        // a registry's token service that hands tokens to a login only (Basic), and the repositories behind it
        http.createContext("/private-token", ex -> {
            boolean ok = BASIC.equals(ex.getRequestHeaders().getFirst("Authorization"));
            byte[] b = "{\"access_token\":\"priv\"}".getBytes(StandardCharsets.UTF_8);
            if (!ok) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"registry.test\"");
            }
            ex.sendResponseHeaders(ok ? 200 : 401, ok ? b.length : -1);
            if (ok) {
                ex.getResponseBody().write(b);
            }
            ex.close();
        });
        http.createContext("/v2/", ex -> {
            String path = ex.getRequestURI().getPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (path.startsWith("/v2/private/")) { // Bearer, with the token only a login gets
                if (!"Bearer priv".equals(auth)) {
                    ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"http://127.0.0.1:"
                            + http.getAddress().getPort() + "/private-token\",service=\"registry.test\","
                            + "scope=\"repository:private/plugin:pull\"");
                    ex.sendResponseHeaders(401, -1);
                    ex.close();
                    return;
                }
                auth = "Bearer t0k";
                path = "/v2/wasm/" + path.substring("/v2/private/".length());
            } else if (path.startsWith("/v2/basic/")) { // a registry that asks for Basic itself
                if (!BASIC.equals(auth)) {
                    ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"registry.test\"");
                    ex.sendResponseHeaders(401, -1);
                    ex.close();
                    return;
                }
                auth = "Bearer t0k";
                path = "/v2/wasm/" + path.substring("/v2/basic/".length());
            }
            if (!"Bearer t0k".equals(auth)) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"http://127.0.0.1:"
                        + http.getAddress().getPort() + "/token\",service=\"registry.test\",scope=\"repository:wasm/plugin:pull\"");
                ex.sendResponseHeaders(401, -1);
                ex.close();
                return;
            }
            byte[] body = null;
            String manifestDigest = "sha256:" + ModuleSource.sha256(manifest);
            if (path.equals("/v2/wasm/plugin/manifests/v1") || path.equals("/v2/wasm/plugin/manifests/" + manifestDigest)) {
                body = manifest;
            } else if (path.equals("/v2/wasm/plugin/manifests/sha256:" + "0".repeat(64))) {
                body = manifest; // a registry answering something else than what the digest names
            } else if (path.equals("/v2/wasm/compat/manifests/latest")) {
                body = compatManifest;
            } else if (path.equals("/v2/wasm/plugin/blobs/sha256:" + digest)) {
                pulls.incrementAndGet();
                body = module;
            } else if (path.equals("/v2/wasm/compat/blobs/sha256:" + ModuleSource.sha256(compatLayer))) {
                body = compatLayer;
            }
            ex.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
            if (body != null) {
                ex.getResponseBody().write(body);
            }
            ex.close();
        });
    }

    private String oci(String ref) {
        return "oci://127.0.0.1:" + http.getAddress().getPort() + "/" + ref;
    }

    @Test
    void anOciModuleIsPulledWithATokenVerifiedAndCached() throws Exception {
        String byDigest = "wasm/plugin@sha256:" + ModuleSource.sha256(manifest);
        for (String ref : new String[] {"wasm/plugin:v1", byDigest, "wasm/compat"}) {
            Diagnostics d = new Diagnostics();
            WasmPlugins part = compiler().compile(resources(spec(oci(ref), null)), d);
            assertThat(d.problems()).as(ref).isEmpty();
            assertThat(part.debug()).singleElement().satisfies(m ->
                    assertThat(m).as(ref).containsEntry("state", "loaded").containsEntry("sha256", digest));
        }
        assertThat(Files.readAllBytes(tmp.resolve("cache").resolve(digest + ".wasm"))).isEqualTo(module);
        assertThat(pulls).hasValue(2);
        // with its sha256 given and cached, not pulled again (the registry may be gone)
        http.stop(0);
        Diagnostics d = new Diagnostics();
        assertThat(compiler().compile(resources(spec(oci("wasm/plugin:v1"), digest)), d).debug()).singleElement()
                .satisfies(m -> assertThat(m).containsEntry("state", "loaded"));
        assertThat(d.problems()).isEmpty();
    }

    private WasmPluginSpec withSecret(String ref, RegistryCredentials credentials) {
        WasmPluginSpec s = spec(oci(ref), null);
        return new WasmPluginSpec(s.kind(), s.name(), s.targetRefs(), false, s.phase(), 0, s.url(), null, "", null,
                s.failStrategy(), Map.of(), List.of(), s.source(), "regcred", credentials);
    }

    private RegistryCredentials login(String registry, String user, String password) {
        return new RegistryCredentials(Map.of(RegistryCredentials.registryKey(registry),
                new RegistryCredentials.Login(user, password)));
    }

    static Stream<Arguments> pullsWithALogin() {
        // repository, the secret's registry key ("" = this registry as host:port), user, password, error (null: pulled)
        return Stream.of(
                Arguments.of("private/plugin:v1", "", "alice", "s3cret", null),
                Arguments.of("private/plugin:v1", "http://", "alice", "s3cret", null), // a key with scheme and path
                Arguments.of("basic/plugin:v1", "", "alice", "s3cret", null),
                Arguments.of("private/plugin:v1", "", "alice", "wrong", "/private-token answered 401 (expected: 200; "
                        + "with the imagePullSecret's login)"),
                Arguments.of("basic/plugin:v1", "", "alice", "wrong", "/v2/basic/plugin/manifests/v1 answered 401 with "
                        + "the imagePullSecret's login (expected: 200)"),
                Arguments.of("private/plugin:v1", "other.registry:5000", "alice", "s3cret", "/private-token answered 401 "
                        + "(expected: 200; anonymous: imagePullSecret has no login for this registry)"),
                Arguments.of("basic/plugin:v1", "other.registry:5000", "alice", "s3cret", "the registry asks for a login "
                        + "(imagePullSecret has none for this registry)"),
                Arguments.of("private/plugin:v1", null, null, null, "imagePullSecret regcred: no Secret of type "
                        + "kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg of that name in namespace apps"));
    }

    @ParameterizedTest(name = "{0} {1} {3} -> {4}")
    @MethodSource
    void pullsWithALogin(String ref, String registry, String user, String password, String error) {
        String self = "127.0.0.1:" + http.getAddress().getPort();
        RegistryCredentials c = registry == null ? null : login(registry.isEmpty() ? self
                : registry.equals("http://") ? "http://" + self + "/v1/" : registry, user, password);
        Diagnostics d = new Diagnostics();
        WasmPlugins part = compiler().compile(resources(withSecret(ref, c)), d);
        if (error == null) {
            assertThat(d.problems()).isEmpty();
            assertThat(part.debug()).singleElement().satisfies(m ->
                    assertThat(m).containsEntry("state", "loaded").containsEntry("sha256", digest));
            return;
        }
        assertThat(d.problems()).singleElement().satisfies(p -> {
            assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(p.field()).isEqualTo("spec.url");
            assertThat(p.message()).contains(error).contains("failStrategy FAIL_CLOSE: requests are denied with 403")
                    .doesNotContain("s3cret").doesNotContain("wrong");
        });
        assertThat(part.debug()).singleElement().satisfies(m -> assertThat(m).containsEntry("state", "failed")
                .extracting(Object::toString).asString().doesNotContain("s3cret").doesNotContain("wrong"));
    }

    @Test
    void anUnchangedSpecKeepsItsPluginAcrossGenerations() {
        WasmPluginCompiler c = compiler();
        WasmPluginSpec s = spec(url("/plugin.wasm"), digest);
        Plugin first = c.compile(resources(s), new Diagnostics()).all().get(0);
        Plugin second = c.compile(resources(s), new Diagnostics()).all().get(0);
        Plugin changed = c.compile(resources(new WasmPluginSpec(s.kind(), s.name(), s.targetRefs(), false, s.phase(), 5,
                s.url(), s.sha256(), "", null, s.failStrategy(), Map.of(), List.of(), s.source())), new Diagnostics()).all().get(0);
        assertThat(second).isSameAs(first); // its VMs (and what the plugin keeps in them) live on
        assertThat(changed).isNotSameAs(first);
        assertThat(downloads).hasValue(1); // the new Plugin reuses the cached, compiled module
    }

    static Stream<Arguments> badUrls() {
        return Stream.of(
                Arguments.of("/plugin.wasm", "0".repeat(64), "sha256 of "),
                Arguments.of("/missing.wasm", null, "answered 404 (expected: 200)"),
                Arguments.of("oci:///wasm/nope:1", null, "/v2/wasm/nope/manifests/1 answered 404 (expected: 200)"),
                Arguments.of("oci:///wasm/plugin@sha256:" + "0".repeat(64), null, "does not match its digest"),
                // nothing listens on port 1: the JDK's ConnectException has no message of its own (it read "null")
                Arguments.of("oci://127.0.0.1:1/wasm/plugin:1", null, "cannot be loaded: ConnectException"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void badUrls(String path, String sha256, String message) {
        Diagnostics d = new Diagnostics();
        String u = path.startsWith("/") ? url(path) : path.replace("oci:///", "oci://127.0.0.1:" + http.getAddress().getPort() + "/");
        WasmPlugins part = compiler().compile(resources(spec(u, sha256)), d);
        assertThat(d.problems()).singleElement().satisfies(p -> {
            assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(p.where()).isEqualTo(new SourceRef("p.yaml", 1));
            assertThat(p.name()).isEqualTo(new NamespacedName("apps", "p"));
            assertThat(p.field()).isEqualTo("spec.url");
            assertThat(p.message()).contains(message).contains("failStrategy FAIL_CLOSE: requests are denied with 403");
        });
        assertThat(part.debug()).singleElement().satisfies(m -> assertThat(m).containsEntry("state", "failed"));
    }
}
