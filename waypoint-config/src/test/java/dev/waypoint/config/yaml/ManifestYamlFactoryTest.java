package dev.waypoint.config.yaml;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The parser with the resolver shortcut gives the stock parser's tokens, scalar by scalar: every
 * implicit type SnakeYAML resolves (booleans, nulls, ints in every base, floats, timestamps,
 * merge keys), quoted and tagged scalars, and plain strings of every first character.
 */
class ManifestYamlFactoryTest {
    private static final YAMLFactory STOCK = YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
            .build();
    private static final YAMLFactory OURS = new ManifestYamlFactory(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL));

    static Stream<String> scalars() {
        List<String> s = new ArrayList<>(List.of(
                // plain strings, as manifests are full of
                "app", "svc-12", "example/app:v1", "Ready", "HBONE", "two words", "istio-system", "GET", "/api/1/*",
                "ALLOW", "RequestHeaderModifier", "x-canary", "cluster.local/ns/a/sa/b", "Service", "ünïcode", "日本",
                "_under", "@at", "`tick", "%pct", "$dollar", "(paren", "a:b", "a#b", "Y", "N", "yes", "Yes", "YES",
                "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off",
                "OFF", "y", "n", "tru", "nul", "nulls", "offset", "onward", "yesterday",
                // nulls
                "~", "null", "Null", "NULL", "",
                // ints in every base SnakeYAML resolves, and near misses
                "0", "80", "-1", "+5", "0x1F", "0o17", "017", "0b101", "1_000", "190:20:30", "08", "0x", "1-2",
                "99999999999", "123456789012345678901234567890",
                // floats
                "1.5", "-.5", "+.5", "1e3", "1.0e+3", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "6.8523015e+5",
                "1.", ".", "..", "1.2.3",
                // timestamps, merge, the YAML value key
                "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "<<", "<", "=",
                // quoted
                "\"80\"", "'true'", "\"null\"", "''", "\" \"", "'~'", "\"0x1F\"", "'app'", "\"\"",
                // tagged
                "!!str 80", "!!str true", "!!int '5'", "!!int 0x10", "!!bool yes", "!!float 1", "!!null ''",
                "! 80", "! app", "!custom x", "!!binary aGVsbG8=", "!!timestamp 2001-12-14",
                // block scalars and flow collections
                "|\n  text\n  more", ">\n  folded", "[a, 1, true, ~, '2']", "{a: 1, b: no, c: x}"));
        return s.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scalars")
    void aScalarIsTheTokenTheStockParserGives(String scalar) throws IOException {
        String yaml = "k: " + scalar + "\nl:\n- " + scalar.replace("\n", "\n  ") + "\n";
        assertThat(tokens(OURS, yaml)).isEqualTo(tokens(STOCK, yaml));
    }

    @Test
    void theShortcutIsOnForPlainStringsOnly() {
        assertThat(ManifestYamlFactory.plainString("app")).isTrue();
        assertThat(ManifestYamlFactory.plainString("svc-1")).isTrue();
        assertThat(ManifestYamlFactory.plainString("")).isFalse();
        for (String s : List.of("yes", "no", "true", "false", "on", "off", "null", "~", "1", "-1", "+1", ".5", "<<",
                "!", "&", "*", " ", "Yes", "No", "True", "False", "On", "Off", "Null", "NULL")) {
            assertThat(ManifestYamlFactory.plainString(s)).as(s).isFalse();
        }
    }

    @Test
    void aWholeManifestIsTheSameTokens() throws IOException {
        String yaml = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: a-0
                  namespace: ns-1
                  labels: {app: a, version: v1, enabled: "true", weight: "10"}
                spec:
                  serviceAccountName: a
                  containers:
                  - name: app
                    image: example/app:v1
                    ports:
                    - containerPort: 8080
                    - {name: grpc-port, containerPort: 9090}
                status:
                  podIP: 10.1.0.1
                  conditions: [{type: Ready, status: "True"}]
                ---
                apiVersion: v1
                kind: List
                items:
                - {apiVersion: v1, kind: Namespace, metadata: {name: x}}
                - ~
                """;
        assertThat(tokens(OURS, yaml)).isEqualTo(tokens(STOCK, yaml));
    }

    /** Each token with its text, number type and value, and place; a parse error ends the list with its message. */
    private static List<String> tokens(YAMLFactory factory, String yaml) throws IOException {
        List<String> out = new ArrayList<>();
        try (JsonParser p = factory.createParser(yaml.getBytes(StandardCharsets.UTF_8))) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                String v = p.getText();
                if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                    v += " " + number(p);
                } else if (t == JsonToken.VALUE_EMBEDDED_OBJECT) {
                    v += " " + (p.getEmbeddedObject() instanceof byte[] b ? new String(b, StandardCharsets.UTF_8)
                            : p.getEmbeddedObject());
                }
                out.add(t + " " + v + " @" + p.currentTokenLocation().getLineNr() + ":"
                        + p.currentTokenLocation().getColumnNr());
            }
        } catch (IOException e) {
            out.add("error " + e.getMessage());
        }
        return out;
    }

    private static String number(JsonParser p) {
        try {
            return p.getNumberType() + ":" + p.getNumberValue();
        } catch (IOException e) {
            return "error " + e.getMessage(); // .inf and .nan: the token stands, the value does not convert
        }
    }
}
