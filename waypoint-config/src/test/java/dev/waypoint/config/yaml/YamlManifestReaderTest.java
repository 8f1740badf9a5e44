package dev.waypoint.config.yaml;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.translate.WireObject;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * YAML as people write it by hand and {@code kubectl} reads it (go-yaml): anchors, aliases and
 * merge keys resolved, a byte order mark and CRLF line ends, document markers with comments.
 * Each case is one file; the expected column is its objects' trees in JSON, joined by {@code ;},
 * or the file-level error.
 */
class YamlManifestReaderTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            alias of a mapping         | `a: &l {x: "1"}\\nb: *l\\n`                               | {"a":{"x":"1"},"b":{"x":"1"}}
            alias of a scalar          | `a: &p 80\\nb: [*p]\\n`                                   | {"a":80,"b":[80]}
            alias of a list            | `a: &l [1, 2]\\nb: *l\\n`                                 | {"a":[1,2],"b":[1,2]}
            alias in a list item       | `ports:\\n- &p {name: http, port: 80}\\n- *p\\n`           | {"ports":[{"name":"http","port":80},{"name":"http","port":80}]}
            anchor redefined           | `a: &x 1\\nb: *x\\nc: &x 2\\nd: *x\\n`                     | {"a":1,"b":1,"c":2,"d":2}
            merge key, own keys win    | `d: &d {name: http, port: 80}\\np: {<<: *d, port: 81}\\n` | {"d":{"name":"http","port":80},"p":{"port":81,"name":"http"}}
            merge key before own key   | `d: &d {port: 80}\\np:\\n  port: 81\\n  <<: *d\\n`          | {"d":{"port":80},"p":{"port":81}}
            merge of a list, first wins| `a: &a {x: 1}\\nb: &b {x: 2, y: 2}\\nc: {<<: [*a, *b]}\\n` | {"a":{"x":1},"b":{"x":2,"y":2},"c":{"x":1,"y":2}}
            merge at the root          | `x: &x {kind: Service}\\n<<: *x\\napiVersion: v1\\n`        | {"x":{"kind":"Service"},"apiVersion":"v1","kind":"Service"}
            anchors are per document   | `a: &x 1\\n---\\nb: *x\\n`                                 | m.yaml:3: alias *x names no anchor (&x) earlier in this document
            merge of a scalar          | `a: {<<: 1}\\n`                                           | m.yaml:1: merge key <<: 1 (expected: a mapping or a list of mappings)
            byte order mark and CRLF   | `\\uFEFFkind: Service\\r\\nmetadata:\\r\\n  name: a\\r\\n`    | {"kind":"Service","metadata":{"name":"a"}}
            a %YAML directive          | `%YAML 1.1\\n---\\nkind: A\\n`                                | {"kind":"A"}
            markers with comments      | `--- # a comment\\nkind: A\\n... # end\\n---\\n# only a comment\\n--- \\nkind: B\\n` | {"kind":"A"};{"kind":"B"}
            a list where an object goes| `kind: A\\n---\\n- a\\n- b\\n`                              | m.yaml:3: document: ["a","b"] (expected: a Kubernetes object)
            a scalar document          | `just a string\\n`                                     | m.yaml:1: document: "just a string" (expected: a Kubernetes object)
            """)
    void aFileIsReadAsKubectlReadsIt(String name, String yaml, String expected) {
        String text = yaml.replace("\\n", "\n").replace("\\r", "\r").replace("\\uFEFF", "\uFEFF");

        ManifestFile file = YamlManifestReader.parse("m.yaml", text.getBytes(StandardCharsets.UTF_8));

        String got = file.isParsed()
                ? String.join(";", file.objects().stream().map(WireObject::tree).map(Object::toString).toList())
                : file.error().toString();
        assertThat(got).isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void anAliasBombIsAFileErrorNotAnOutOfMemoryError() {
        // the "billion laughs" shape: each level aliases the one before ten times
        StringBuilder yaml = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 10; i++) {
            yaml.append("a").append(i).append(": &a").append(i).append(" [");
            for (int j = 0; j < 10; j++) {
                yaml.append(j == 0 ? "" : ", ").append("*a").append(i - 1);
            }
            yaml.append("]\n");
        }

        ManifestFile file = YamlManifestReader.parse("m.yaml", yaml.toString().getBytes(StandardCharsets.UTF_8));

        assertThat(file.isParsed()).isFalse();
        assertThat(file.error().toString()).startsWith("m.yaml:").endsWith("(a guard against alias bombs)");
    }

    @org.junit.jupiter.api.Test
    void moreThanSnakeYamlsAliasesOfCollectionsInOneDocumentIsAFileError() {
        StringBuilder yaml = new StringBuilder("defaults: &d [1, 2]\nuses:\n");
        for (int i = 0; i <= YamlManifestReader.MAX_COLLECTION_ALIASES; i++) {
            yaml.append("- *d\n");
        }

        ManifestFile file = YamlManifestReader.parse("m.yaml", yaml.toString().getBytes(StandardCharsets.UTF_8));

        assertThat(file.isParsed()).isFalse();
        assertThat(file.error().toString()).endsWith("more than " + YamlManifestReader.MAX_COLLECTION_ALIASES
                + " aliases of mappings or lists in one document (a guard against alias bombs)");
    }

    @org.junit.jupiter.api.Test
    void aBombUnderTheAliasCountIsStoppedByTheNodesItCopies() {
        // 11 levels of 4 aliases each: 44 aliases (under SnakeYAML's 50), 4^11 copies of the first
        StringBuilder yaml = new StringBuilder("a0: &a0 [x, x, x, x]\n");
        for (int i = 1; i < 12; i++) {
            yaml.append("a").append(i).append(": &a").append(i).append(" [*a").append(i - 1).append(", *a")
                    .append(i - 1).append(", *a").append(i - 1).append(", *a").append(i - 1).append("]\n");
        }

        ManifestFile file = YamlManifestReader.parse("m.yaml", yaml.toString().getBytes(StandardCharsets.UTF_8));

        assertThat(file.isParsed()).isFalse();
        assertThat(file.error().toString()).contains("aliases copying more than " + YamlManifestReader.MAX_ALIAS_NODES
                + " nodes in one document (a guard against alias bombs)");
    }

    @org.junit.jupiter.api.Test
    void ordinaryReuseOfDefaultsIsWellUnderTheGuard() {
        String yaml = """
                apiVersion: v1
                kind: Service
                metadata: {name: a, labels: &labels {app: a, version: v1}}
                spec:
                  selector: *labels
                  ports: [{name: http, port: 80}]
                """;

        ManifestFile file = YamlManifestReader.parse("m.yaml", yaml.getBytes(StandardCharsets.UTF_8));

        assertThat(file.isParsed()).isTrue();
        assertThat(file.objects()).singleElement().satisfies(o ->
                assertThat(o.tree().at("/spec/selector/version").asText()).isEqualTo("v1"));
    }
}
