package dev.waypoint.wasm;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
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
                Arguments.of("oci://ghcr.io/acme/plugin:1", null, "oci:// modules are not pulled by this waypoint"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void badUrls(String path, String sha256, String message) {
        Diagnostics d = new Diagnostics();
        String u = path.startsWith("/") ? url(path) : path;
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
