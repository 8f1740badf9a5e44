package dev.waypoint.config.yaml;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reader builds its trees itself and parses with {@link ManifestYamlFactory} (issue 17); each
 * file must come out as the old reader ({@link ReferenceManifestReader}: stock factory,
 * {@code readTree}) made it: the same trees at the same lines, or the same error at the same line.
 * Except for anchors, aliases and merge keys, which the old reader read as strings and fields named
 * {@code <<} and the reader now resolves ({@code YamlManifestReaderTest}).
 */
class YamlManifestReaderEquivalenceTest {
    static Stream<String> files() {
        return Stream.of(
                "",
                "# only a comment\n",
                "---\n---\n",
                """
                apiVersion: v1
                kind: Service
                metadata: {name: a, namespace: b, labels: {x: "1", y: yes, z: ~, n: 12, big: 123456789012345678901}}
                spec:
                  clusterIP: 10.0.0.1
                  ports: [{name: http, port: 80, targetPort: 8080}, {port: 9090, targetPort: grpc}]
                  weights: [1.5, -2, 0x10, .inf, 1e3]
                  flags: {a: true, b: false, c: off, d: "on", e: !!str 80, f: !!binary aGVsbG8=}
                  empty: ""
                  none:
                  block: |
                    line one
                    line two
                ---
                apiVersion: v1
                kind: List
                items:
                - {apiVersion: v1, kind: Namespace, metadata: {name: x}}
                - ~
                - apiVersion: v1
                  kind: Pod
                  metadata: {name: p}
                ---
                kind: ServiceList
                items: ~
                ---
                - not
                - an object
                ---
                plain scalar
                """,
                "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [\n",
                "apiVersion: v1\nkind: Service\n  metadata: x\n",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n",
                "kind: Service\n---\nkind: [Pod\n",
                "kind: List\nitems: [{a: 1}, {a: 1, a: 2}]\n",
                "a: `tick\n");
    }

    @ParameterizedTest
    @MethodSource("files")
    void aFileIsReadAsTheOldReaderReadIt(String yaml) {
        byte[] bytes = yaml.getBytes(StandardCharsets.UTF_8);
        assertThat(YamlManifestReader.parse("m.yaml", bytes)).isEqualTo(ReferenceManifestReader.parse("m.yaml", bytes));
    }
}
