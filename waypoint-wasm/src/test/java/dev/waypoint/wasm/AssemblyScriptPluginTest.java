package dev.waypoint.wasm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.wasm.TestRequests.Headers;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plugin written with a real proxy-wasm SDK nobody here wrote: AssemblyScript 0.14 with
 * {@code @solo-io/proxy-runtime} 0.1.8 (src/test/plugins/as/headers.ts, built at test time). The
 * SDK emits ABI 0.2.0, allocates through {@code malloc}, finds its root context by the
 * {@code plugin_root_id} property and reads its configuration through the buffer API.
 */
class AssemblyScriptPluginTest {
    private static EventLoop loop;
    private static Path wasm;

    @TempDir
    Path tmp;

    private PrometheusMeterRegistry registry;
    private ConfigSnapshot snapshot;

    @BeforeAll
    static void build() {
        wasm = TestPlugins.assemblyScript("headers");
        loop = new DefaultEventLoop();
    }

    @AfterAll
    static void stop() throws Exception {
        if (loop != null) {
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @BeforeEach
    void compile() {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        WasmPluginSpec spec = new WasmPluginSpec("WasmPlugin", new NamespacedName("apps", "as"),
                List.of(new PolicyTargetRef("", "Service", "echo", null)), false, PluginPhase.AUTHZ, 0,
                wasm.toUri().toString(), null, "as_headers", "{\"from\":\"assemblyscript\"}",
                WasmPluginSpec.FailStrategy.FAIL_CLOSE, Map.of(), List.of(), SourceRef.NONE);
        WasmPluginCompiler compiler = new WasmPluginCompiler(WasmSettings.defaults(tmp, "", Map.of()), "istio-system",
                registry);
        snapshot = TestRequests.snapshot(ResourceSet.builder(TestRequests.WAYPOINT, "cluster.local")
                .wasmPlugins(List.of(spec)).build(), compiler);
    }

    private static <T> T onLoop(Callable<T> c) throws Exception {
        return loop.submit(c).get(10, TimeUnit.SECONDS);
    }

    @Test
    void addsAndRemovesHeadersBothWays() throws Exception {
        WasmFilter f = WasmFilter.at(PluginPhase.AUTHZ);
        Headers h = Headers.of("x-as-remove", "1", "x-other", "2");
        RequestContext rc = TestRequests.request(snapshot, "GET", "/", h);
        assertThat(onLoop(() -> f.onRequest(rc))).isSameAs(FilterResult.CONTINUE);
        assertThat(h.get("x-as-added")).isEqualTo("{\"from\":\"assemblyscript\"}");
        assertThat(h.contains("x-as-remove")).isFalse();
        assertThat(h.get("x-other")).isEqualTo("2");

        Headers res = Headers.of("x-as-secret", "1");
        onLoop(() -> {
            f.onResponse(rc, 200, res);
            f.onComplete(rc);
            return null;
        });
        assertThat(res.get("x-as-response")).isEqualTo("yes");
        assertThat(res.contains("x-as-secret")).isFalse();
        assertThat(snapshot.part(WasmPlugins.PART).debug()).singleElement()
                .satisfies(d -> assertThat(d).containsEntry("abi", "0.2.0"));
        assertThat(registry.scrape()).contains("as_test_requests_total 1.0");
    }

    @Test
    void deniesWithALocalReply() throws Exception {
        RequestContext rc = TestRequests.request(snapshot, "GET", "/", Headers.of("x-as-deny", "1"));
        FilterResult r = onLoop(() -> WasmFilter.at(PluginPhase.AUTHZ).onRequest(rc));
        assertThat(r).isInstanceOf(FilterResult.Reply.class);
        FilterResult.Reply reply = (FilterResult.Reply) r;
        assertThat(reply.rejection().status()).isEqualTo(401);
        assertThat(reply.rejection().body()).isEqualTo("no entry\n");
        assertThat(reply.rejection().message()).isEqualTo("as_denied");
    }
}
