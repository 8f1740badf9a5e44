package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.TlsSecretSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Secrets holding TLS material (what a DestinationRule's {@code credentialName} names) → a
 * {@link TlsSecretSpec}: Istio's two key sets and their precedence, {@code stringData} over
 * {@code data}, the Secrets that are not read, and the errors, none of which quotes a value.
 */
class TlsSecretTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final String S = "m.yaml:1: Secret istio-system/api: ";

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** Secret istio-system/api with {@code type} (none when null) and the rest of its body. */
    private static String secret(String type, String body) {
        return "apiVersion: v1\nkind: Secret\nmetadata: {name: api, namespace: istio-system}\n"
                + (type == null ? "" : "type: " + type + "\n") + body;
    }

    /** @param read the chain|key|ca read, "-" for each absent part; null when no TlsSecretSpec is made */
    record Case(String name, String yaml, String read, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        String c = b64("C");
        String k = b64("K");
        String a = b64("A");
        return Stream.of(
                new Case("a TLS Secret with its CA", secret("kubernetes.io/tls",
                        "data: {tls.crt: " + c + ", tls.key: " + k + ", ca.crt: " + a + "}\n"), "C|K|A", List.of()),
                new Case("a generic Secret", secret("Opaque", "data: {cert: " + c + ", key: " + k + ", cacert: " + a + "}\n"),
                        "C|K|A", List.of()),
                new Case("no type is Opaque", secret(null, "data: {cacert: " + a + "}\n"), "-|-|A", List.of()),
                new Case("generic keys win", secret("Opaque", "data: {cert: " + c + ", key: " + k + ", tls.crt: " + b64("X")
                        + ", tls.key: " + b64("Y") + ", cacert: " + a + ", ca.crt: " + b64("Z") + "}\n"), "C|K|A", List.of()),
                new Case("the TLS pair when the generic one is half there", secret("Opaque", "data: {cert: " + c
                        + ", tls.crt: " + b64("X") + ", tls.key: " + b64("Y") + "}\n"), "X|Y|-", List.of()),
                new Case("stringData wins over data", secret("Opaque", "data: {cacert: " + b64("old") + "}\nstringData: {cacert: new}\n"),
                        "-|-|new", List.of()),
                new Case("an empty value is absent", secret("Opaque", "data: {cacert: '', ca.crt: " + a + "}\n"), "-|-|A", List.of()),
                new Case("base64 over several lines", secret("Opaque", "data:\n  cacert: |\n    " + b64("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                        .substring(0, 20) + "\n    " + b64("ABCDEFGHIJKLMNOPQRSTUVWXYZ").substring(20) + "\n"),
                        "-|-|ABCDEFGHIJKLMNOPQRSTUVWXYZ", List.of()),
                new Case("a chain without its key is no certificate", secret("kubernetes.io/tls", "data: {tls.crt: " + c
                        + ", ca.crt: " + a + "}\n"), "-|-|A", List.of()),
                new Case("a key without its chain is no certificate", secret("Opaque", "stringData: {key: secret-key}\n"),
                        "-|-|-", List.of()),
                new Case("not base64", secret("Opaque", "data: {cacert: 'not base64!', key: 's3cret!'}\n"), null,
                        List.of(S + "data['key']: data['key']: not base64 (expected: base64 of PEM text)",
                                S + "data['cacert']: data['cacert']: not base64 (expected: base64 of PEM text)")),
                new Case("not a string", secret("Opaque", "stringData: {cacert: [a]}\n"), null,
                        List.of(S + "stringData['cacert']: stringData['cacert']: not a string (expected: PEM text)")),
                new Case("an Opaque Secret of other keys is not read", secret("Opaque", "data: {password: " + b64("s3cret") + "}\n"),
                        null, List.of()),
                new Case("another type is not read", secret("kubernetes.io/service-account-token", "data: {ca.crt: " + a + "}\n"),
                        null, List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void translates(Case c) {
        Diagnostics d = new Diagnostics();
        ResourceSet rs;
        try {
            rs = ResourceTranslator.resourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local",
                    ResourceTranslator.translate(List.of(new WireObject(YAML.readTree(c.yaml()), new SourceRef("m.yaml", 1))), d));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> problems = d.problems().stream().map(Object::toString).toList();
        assertThat(problems).containsExactlyElementsOf(c.problems());
        assertThat(String.join("\n", problems)).doesNotContain("s3cret").doesNotContain("secret-key");
        if (c.read() == null) {
            assertThat(rs.tlsSecrets()).isEmpty();
            return;
        }
        assertThat(rs.tlsSecrets()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo(new NamespacedName("istio-system", "api"));
            assertThat(part(s.certificateChain()) + "|" + part(s.privateKey()) + "|" + part(s.caCertificates())).isEqualTo(c.read());
            assertThat(s.toString()).doesNotContain("K").startsWith("TlsSecret[istio-system/api");
        });
    }

    private static String part(String v) {
        return v == null ? "-" : v;
    }
}
