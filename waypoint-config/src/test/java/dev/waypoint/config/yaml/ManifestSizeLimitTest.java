package dev.waypoint.config.yaml;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** One manifest file may be large (a {@code kubectl get -o yaml} dump), up to {@link YamlManifestReader#MAX_FILE_BYTES}. */
class ManifestSizeLimitTest {
    /** SnakeYAML's LoaderOptions default: one document may hold at most this many code points. */
    private static final int SNAKEYAML_DEFAULT_LIMIT = 3 * 1024 * 1024;

    @Test
    void aKubectlListDumpOverThreeMegabytesParses() {
        StringBuilder yaml = new StringBuilder("apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n");
        int n = 0;
        while (yaml.length() <= SNAKEYAML_DEFAULT_LIMIT + 4096) {
            yaml.append("- apiVersion: v1\n  kind: Service\n  metadata:\n    name: svc-").append(n)
                    .append("\n    namespace: big\n    annotations: {note: \"").append("x".repeat(100)).append("\"}\n")
                    .append("  spec:\n    ports:\n    - {name: http, port: 80}\n");
            n++;
        }
        byte[] bytes = yaml.toString().getBytes(StandardCharsets.UTF_8);
        assertThat(bytes.length).isGreaterThan(SNAKEYAML_DEFAULT_LIMIT);

        ManifestFile file = new ManifestText("dump.yaml", bytes).parse();

        assertThat(file.isParsed()).as("%s", file.error()).isTrue();
        assertThat(file.objects()).hasSize(n);
        assertThat(file.objects().get(n - 1).tree().path("metadata").path("name").asText()).isEqualTo("svc-" + (n - 1));
    }

    @Test
    void aFileOverTheLimitIsAClearFileLevelError() {
        byte[] bytes = new byte[YamlManifestReader.MAX_FILE_BYTES + 1];
        for (int i = 0; i < bytes.length; i += 2) { // comment lines: valid YAML, just too much of it
            bytes[i] = '#';
            if (i + 1 < bytes.length) {
                bytes[i + 1] = '\n';
            }
        }

        ManifestFile file = new ManifestText("huge/dump.yaml", bytes).parse();

        assertThat(file.isParsed()).isFalse();
        assertThat(file.error().where().toString()).startsWith("huge/dump.yaml");
        assertThat(file.error().message())
                .contains("67108865 bytes")
                .contains("64 MiB");
    }
}
