package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** WasmPlugin and TrafficExtension YAML → {@link WasmPluginSpec}: the error table and the full records. */
class WasmPluginTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final NamespacedName WAYPOINT = new NamespacedName("apps", "waypoint");

    private record Result(ResourceSet resources, List<String> problems) {}

    private static Result translate(String yaml) {
        try {
            Diagnostics d = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(
                    List.of(new WireObject(YAML.readTree(yaml), new SourceRef("m.yaml", 1))), d);
            return new Result(ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", objects),
                    d.problems().stream().map(Object::toString).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final String WP = """
            apiVersion: extensions.istio.io/v1alpha1
            kind: WasmPlugin
            metadata: {name: wp, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: '', name: echo}]
            """;
    private static final String TE = """
            apiVersion: extensions.istio.io/v1alpha1
            kind: TrafficExtension
            metadata: {name: te, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: '', name: echo}]
            """;

    record Case(String name, String yaml, boolean kept, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final String P = "m.yaml:1: WasmPlugin apps/wp: ";
    private static final String W = "m.yaml:1: warning: WasmPlugin apps/wp: ";
    private static final String PT = "m.yaml:1: TrafficExtension apps/te: ";

    static Stream<Case> cases() {
        return Stream.of(
                new Case("minimal file url", WP + "  url: file:///plugins/a.wasm\n", true, List.of()),
                new Case("no url", WP + "  phase: AUTHN\n", false,
                        List.of(P + "spec.url: url: missing (expected: a module URL: file://, http://, https:// or oci://)")),
                new Case("bad scheme", WP + "  url: ftp://h/a.wasm\n", false,
                        List.of(P + "spec.url: url: ftp://h/a.wasm (expected: a file://, http://, https:// or oci:// URL)")),
                new Case("https without sha256 is warned", WP + "  url: https://h.example/a.wasm\n", true,
                        List.of(W + "spec.url: no sha256: the fetched module is not verified")),
                new Case("bad sha256", WP + "  url: https://h.example/a.wasm\n  sha256: abc\n", false,
                        List.of(P + "spec.sha256: sha256: abc (expected: 64 hexadecimal digits)",
                                W + "spec.url: no sha256: the fetched module is not verified")),
                new Case("oci digest differs from sha256", WP + "  url: ghcr.io/a/b@sha256:" + "1".repeat(64)
                        + "\n  sha256: '" + "2".repeat(64) + "'\n", false,
                        List.of(P + "spec.url: url: ghcr.io/a/b@sha256:" + "1".repeat(64) + " (expected: a digest equal to sha256 "
                                + "2".repeat(64) + ")")),
                new Case("bad phase", WP + "  url: file:///a.wasm\n  phase: ROUTER\n", false,
                        List.of(P + "spec.phase: phase: ROUTER (expected: AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE)")),
                new Case("bad failStrategy", WP + "  url: file:///a.wasm\n  failStrategy: MAYBE\n", false,
                        List.of(P + "spec.failStrategy: failStrategy: MAYBE (expected: FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD)")),
                new Case("NETWORK type", WP + "  url: file:///a.wasm\n  type: NETWORK\n", false,
                        List.of(P + "spec.type: type: NETWORK (expected: HTTP; NETWORK plugins are not supported here)")),
                new Case("unknown field", WP + "  url: file:///a.wasm\n  pluginConfigs: {}\n", false,
                        List.of(P + "spec.pluginConfigs: pluginConfigs: unknown field (expected: one of failStrategy, imagePullPolicy, imagePullSecret, match, phase, pluginConfig, pluginName, priority, selector, sha256, targetRef, targetRefs, type, url, verificationKey, vmConfig)")),
                new Case("bad match mode and port", WP + "  url: file:///a.wasm\n  match: [{mode: BOTH, ports: [{number: 0}]}]\n", false,
                        List.of(P + "spec.match[0].mode: mode: BOTH (expected: UNDEFINED, CLIENT, SERVER or CLIENT_AND_SERVER)",
                                P + "spec.match[0].ports[0].number: number: 0 (expected: 1-65535)")),
                new Case("bad env valueFrom", WP + "  url: file:///a.wasm\n  vmConfig: {env: [{name: A, valueFrom: SECRET}]}\n", false,
                        List.of(P + "spec.vmConfig.env[0].valueFrom: valueFrom: SECRET (expected: INLINE or HOST)")),
                new Case("selector only: kept, attaches to nothing", """
                        apiVersion: extensions.istio.io/v1alpha1
                        kind: WasmPlugin
                        metadata: {name: wp, namespace: apps}
                        spec:
                          selector: {matchLabels: {app: echo}}
                          url: file:///a.wasm
                        """, true, List.of(W + "spec.selector: a waypoint applies WasmPlugin through targetRefs only; this selector-based object is for sidecars and gateways, not here")),
                new Case("TrafficExtension wasm", TE + "  wasm: {url: file:///a.wasm}\n", true, List.of()),
                new Case("TrafficExtension lua", TE + "  lua: {inlineCode: 'function envoy_on_request(h) end'}\n", false,
                        List.of(PT + "spec.lua: lua: {\"inlineCode\":\"function envoy_on_request(h) end\"} (expected: a wasm extension; Lua extensions are not supported by this waypoint (no Lua runtime for the JVM is used))")),
                new Case("TrafficExtension without module", TE + "  phase: AUTHN\n", false,
                        List.of(PT + "spec.wasm: wasm: missing (expected: a wasm module: {url: ...})")),
                new Case("TrafficExtension module field at the top", TE + "  url: file:///a.wasm\n  wasm: {url: file:///a.wasm}\n", false,
                        List.of(PT + "spec.url: url: unknown field (expected: one of lua, match, phase, priority, selector, targetRef, targetRefs, wasm)")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void validates(Case c) {
        Result r = translate(c.yaml());
        assertThat(r.problems()).containsExactlyInAnyOrderElementsOf(c.problems());
        assertThat(r.resources().wasmPlugins()).hasSize(c.kept() ? 1 : 0);
    }

    @Test
    void readsEveryFieldOfAWasmPlugin() {
        Result r = translate(WP + """
                  url: https://plugins.example/add-header.wasm
                  sha256: 'ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789'
                  phase: AUTHZ
                  priority: 10
                  pluginName: add_header
                  failStrategy: FAIL_OPEN
                  pluginConfig: {header: x-added, values: [1, 2], nested: {on: true}}
                  vmConfig:
                    env:
                    - {name: MODE, value: strict}
                    - {name: WASM_TEST_SURELY_UNSET_VAR, valueFrom: HOST}
                  match:
                  - mode: SERVER
                    ports: [{number: 8080}, {number: 9090}]
                """);
        assertThat(r.problems()).isEmpty();
        WasmPluginSpec s = r.resources().wasmPlugins().get(0);
        assertThat(s.kind()).isEqualTo("WasmPlugin");
        assertThat(s.targetRefs()).containsExactly(new PolicyTargetRef("", "Service", "echo", null));
        assertThat(s.phase()).isEqualTo(PluginPhase.AUTHZ);
        assertThat(s.priority()).isEqualTo(10);
        assertThat(s.url()).isEqualTo("https://plugins.example/add-header.wasm");
        assertThat(s.sha256()).isEqualTo("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        assertThat(s.pluginName()).isEqualTo("add_header");
        assertThat(s.failStrategy()).isEqualTo(WasmPluginSpec.FailStrategy.FAIL_OPEN);
        // Istio passes the Struct as JSON text
        assertThat(s.pluginConfig()).isEqualTo("{\"header\":\"x-added\",\"values\":[1,2],\"nested\":{\"on\":true}}");
        assertThat(s.env()).isEqualTo(Map.of("MODE", "strict"));
        assertThat(s.match()).containsExactly(new WasmPluginSpec.TrafficSelector(WasmPluginSpec.Mode.SERVER, List.of(8080, 9090)));
    }

    @Test
    void defaultsAndSchemelessUrlsAreOci() {
        Result r = translate(WP + "  url: ghcr.io/acme/plugin:1.0\n");
        WasmPluginSpec s = r.resources().wasmPlugins().get(0);
        assertThat(s.url()).isEqualTo("oci://ghcr.io/acme/plugin:1.0");
        assertThat(s.phase()).isEqualTo(PluginPhase.UNSPECIFIED);
        assertThat(s.priority()).isZero();
        assertThat(s.failStrategy()).isEqualTo(WasmPluginSpec.FailStrategy.FAIL_CLOSE);
        assertThat(s.pluginConfig()).isNull();
        assertThat(s.pluginName()).isEmpty();
    }

    @Test
    void trafficExtensionCarriesAttachmentAtTheTopAndTheModuleUnderWasm() {
        Result r = translate(TE + """
                  phase: STATS
                  priority: -5
                  wasm:
                    url: file:///plugins/stats.wasm
                    pluginName: stats
                    pluginConfig: {a: b}
                """);
        assertThat(r.problems()).isEmpty();
        WasmPluginSpec s = r.resources().wasmPlugins().get(0);
        assertThat(s.kind()).isEqualTo("TrafficExtension");
        assertThat(s.phase()).isEqualTo(PluginPhase.STATS);
        assertThat(s.priority()).isEqualTo(-5);
        assertThat(s.url()).isEqualTo("file:///plugins/stats.wasm");
        assertThat(s.pluginName()).isEqualTo("stats");
        assertThat(s.pluginConfig()).isEqualTo("{\"a\":\"b\"}");
    }
}
