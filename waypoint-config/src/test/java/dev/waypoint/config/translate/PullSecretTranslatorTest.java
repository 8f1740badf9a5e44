package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.RegistryCredentials;
import dev.waypoint.model.extension.RegistryCredentials.Login;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Registry Secrets ({@code kubernetes.io/dockerconfigjson}, {@code kubernetes.io/dockercfg}) →
 * the logins a WasmPlugin's {@code imagePullSecret} gets: the table of good and bad Secrets, the
 * lookup in the plugin's namespace, and that no message or {@code toString} shows a password.
 */
class PullSecretTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final NamespacedName WAYPOINT = new NamespacedName("apps", "waypoint");

    private static final String PLUGIN = """
            apiVersion: extensions.istio.io/v1alpha1
            kind: WasmPlugin
            metadata: {name: wp, namespace: apps}
            spec:
              targetRefs: [{kind: Service, group: '', name: echo}]
              url: oci://registry.test:5000/wasm/plugin:v1
              imagePullSecret: regcred
            """;

    private record Result(WasmPluginSpec plugin, List<String> problems) {}

    private static Result translate(String... yamls) {
        try {
            Diagnostics d = new Diagnostics();
            List<WireObject> wire = new ArrayList<>();
            for (String y : yamls) {
                wire.add(new WireObject(YAML.readTree(y), new SourceRef("m.yaml", 1)));
            }
            ResourceSet rs = ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", ResourceTranslator.translate(wire, d));
            return new Result(rs.wasmPlugins().isEmpty() ? null : rs.wasmPlugins().get(0),
                    d.problems().stream().map(Object::toString).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A Secret {@code regcred} with {@code value} under {@code section} ({@code data} or {@code stringData}). */
    private static String secret(String namespace, String type, String section, String value) {
        String key = type.endsWith("dockercfg") ? ".dockercfg" : ".dockerconfigjson";
        return "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred, namespace: " + namespace + "}\ntype: " + type
                + "\n" + section + ":\n  '" + key + "': '" + value.replace("'", "''") + "'\n";
    }

    private static final String JSON = "kubernetes.io/dockerconfigjson";
    private static final String CFG = "kubernetes.io/dockercfg";
    private static final String S = "m.yaml:1: Secret apps/regcred: ";
    private static final Map<String, Login> ALICE = Map.of("registry.test:5000", new Login("alice", "s3cret"));

    record Case(String name, String secret, Map<String, Login> logins, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> secrets() {
        String auth = b64("alice:s3cret");
        return Stream.of(
                new Case("dockerconfigjson with auth", secret("apps", JSON, "data",
                        b64("{\"auths\":{\"registry.test:5000\":{\"auth\":\"" + auth + "\"}}}")), ALICE, List.of()),
                new Case("dockerconfigjson with username and password, key with scheme and path", secret("apps", JSON,
                        "data", b64("{\"auths\":{\"https://registry.test:5000/v1/\":{\"username\":\"alice\","
                                + "\"password\":\"s3cret\"}}}")), ALICE, List.of()),
                new Case("dockercfg (no auths wrapper)", secret("apps", CFG, "data",
                        b64("{\"registry.test:5000\":{\"auth\":\"" + auth + "\",\"email\":\"a@b\"}}")), ALICE, List.of()),
                new Case("stringData, not base64", secret("apps", JSON, "stringData",
                        "{\"auths\":{\"registry.test:5000\":{\"auth\":\"" + auth + "\"}}}"), ALICE, List.of()),
                new Case("a password with a colon", secret("apps", JSON, "data",
                        b64("{\"auths\":{\"registry.test:5000\":{\"auth\":\"" + b64("alice:s3:cret") + "\"}}}")),
                        Map.of("registry.test:5000", new Login("alice", "s3:cret")), List.of()),
                new Case("another registry only", secret("apps", JSON, "data",
                        b64("{\"auths\":{\"other.test\":{\"auth\":\"" + auth + "\"}}}")),
                        Map.of("other.test", new Login("alice", "s3cret")), List.of()),
                new Case("in another namespace: not the plugin's", secret("other", JSON, "data",
                        b64("{\"auths\":{\"registry.test:5000\":{\"auth\":\"" + auth + "\"}}}")), null, List.of()),
                new Case("not base64", secret("apps", JSON, "data", "%%%" + "s3cret"), null,
                        List.of(S + "data['.dockerconfigjson']: data['.dockerconfigjson']: not base64 (expected: base64 "
                                + "of the .dockerconfigjson JSON)")),
                new Case("not JSON", secret("apps", JSON, "data", b64("s3cret")), null,
                        List.of(S + "data['.dockerconfigjson']: data['.dockerconfigjson']: not a JSON object (expected: "
                                + "{\"auths\": {registry: {auth: ...}}})")),
                new Case("no auths", secret("apps", JSON, "data", b64("{\"registry.test:5000\":{\"auth\":\"" + auth
                        + "\"}}")), null, List.of(S + "data['.dockerconfigjson']: data['.dockerconfigjson']: no auths "
                        + "object (expected: {\"auths\": {registry: {auth: ...}}})")),
                new Case("auth without a colon", secret("apps", JSON, "data",
                        b64("{\"auths\":{\"registry.test:5000\":{\"auth\":\"" + b64("s3cret") + "\"}}}")), null,
                        List.of(S + "data['.dockerconfigjson']: data['.dockerconfigjson'] auths.registry.test:5000: no "
                                + "login (expected: auth, base64 of user:password, or username and password)")),
                new Case("the wrong data key for its type", secret("apps", CFG, "stringData", "x")
                        .replace("'.dockercfg'", "'.dockerconfigjson'"), null,
                        List.of(S + "data['.dockercfg']: data['.dockercfg']: missing (expected: the registry logins of a "
                                + "Secret of type kubernetes.io/dockercfg)")),
                new Case("an Opaque Secret is not read", secret("apps", "Opaque", "data",
                        b64("{\"auths\":{\"registry.test:5000\":{\"auth\":\"" + auth + "\"}}}")), null, List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("secrets")
    void aSecretGivesThePluginItsLogins(Case c) {
        Result r = translate(PLUGIN, c.secret());
        assertThat(r.problems()).as(c.name()).isEqualTo(c.problems());
        assertThat(r.problems()).allSatisfy(p -> assertThat(p).doesNotContain("s3cret").doesNotContain("alice"));
        assertThat(r.plugin().imagePullSecret()).isEqualTo("regcred");
        if (c.logins() == null) {
            assertThat(r.plugin().pullCredentials()).isNull();
        } else {
            assertThat(r.plugin().pullCredentials()).isEqualTo(new RegistryCredentials(c.logins()));
        }
        assertThat(r.plugin().toString()).doesNotContain("s3cret").doesNotContain("alice");
    }

    @Test
    void aPluginWithoutTheSecretHasNoLoginsAndNoWarningForTheField() {
        Result r = translate(PLUGIN);
        assertThat(r.problems()).isEmpty();
        assertThat(r.plugin().imagePullSecret()).isEqualTo("regcred");
        assertThat(r.plugin().pullCredentials()).isNull(); // the wasm compiler reports it (a load error)
        assertThat(new RegistryCredentials(ALICE).forRegistry("Registry.Test:5000")).isEqualTo(ALICE.get("registry.test:5000"));
    }

    @Test
    void aBadSecretNameAndANonOciUrl() {
        assertThat(translate(PLUGIN.replace("regcred", "Reg_Cred")).problems()).containsExactly(
                "m.yaml:1: WasmPlugin apps/wp: spec.imagePullSecret: imagePullSecret: Reg_Cred (expected: the name of a "
                        + "Secret in the plugin's namespace)");
        Result r = translate(PLUGIN.replace("oci://registry.test:5000/wasm/plugin:v1", "http://h.test/p.wasm"));
        assertThat(r.problems()).contains("m.yaml:1: warning: WasmPlugin apps/wp: spec.imagePullSecret: ignored: only "
                + "oci:// modules are pulled with registry logins");
    }
}
