package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.ExtensionProviderSpec.EnvoyFileAccessLog;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** An {@code envoyFileAccessLog} provider → its own file and its own format. */
class FileLogProvidersTest {
    @TempDir
    Path tmp;
    final AccessLogFiles files = new AccessLogFiles();

    @AfterEach
    void close() throws Exception {
        files.close();
    }

    static Map<String, String> labels(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    static Stream<Arguments> providers() {
        return Stream.of(
                Arguments.of("neither text nor labels: Istio's default TEXT",
                        new EnvoyFileAccessLog("a", "/var/log/a.log", null, Map.of()), "/var/log/a.log",
                        null),
                Arguments.of("text: a compiled format string, a newline added",
                        new EnvoyFileAccessLog("b", "/dev/stdout", "%RESPONSE_CODE% %REQ(:PATH)%", Map.of()), "/dev/stdout",
                        "200 /reviews/1\n"),
                Arguments.of("labels: JSON of those keys, sorted",
                        new EnvoyFileAccessLog("c", "/tmp/c.json", null, labels("path", "%REQ(:PATH)%", "code", "%RESPONSE_CODE%")),
                        "/tmp/c.json", "{\"code\":200,\"path\":\"/reviews/1\"}\n"),
                Arguments.of("empty text is unset",
                        new EnvoyFileAccessLog("d", "/tmp/d", "", Map.of()), "/tmp/d", null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("providers")
    void resolvesFileAndFormat(String name, EnvoyFileAccessLog p, String path, String line) {
        FileLogProviders.Resolved r = FileLogProviders.resolve(p);
        assertThat(r.path()).isEqualTo(path);
        if (line == null) {
            assertThat(r.format()).isSameAs(AccessLogFormat.ISTIO_TEXT);
        } else {
            assertThat(AccessLogFormatTest.render(r.format(), Requests.finished(false, 200, "-", 12, true)))
                    .isEqualTo(line);
        }
    }

    @Test
    void aBadTextOrLabelNamesTheProviderAndTheField() {
        assertThatThrownBy(() -> FileLogProviders.resolve(new EnvoyFileAccessLog("x", "/dev/stdout", "%NOPE%", Map.of())))
                .isInstanceOfSatisfying(FileLogProviders.BadFormat.class, e -> {
                    assertThat(e.field()).isEqualTo("extensionProviders[x].envoyFileAccessLog.logFormat.text");
                    assertThat(e.reason()).startsWith("%NOPE%: unknown command operator");
                });
        assertThatThrownBy(() -> FileLogProviders.resolve(new EnvoyFileAccessLog("y", "/dev/stdout", null,
                labels("m", "%NOPE%"))))
                .isInstanceOfSatisfying(FileLogProviders.BadFormat.class, e ->
                        assertThat(e.field()).isEqualTo("extensionProviders[y].envoyFileAccessLog.logFormat.labels"));
    }

    static ResourceSet mesh(List<ExtensionProviderSpec> providers) {
        MeshConfigSpec m = new MeshConfigSpec(new SourceRef("mesh.yaml", 1), null, List.of(), null, providers,
                MeshConfigSpec.DefaultProviders.NONE, null, "/dev/stdout", MeshConfigSpec.AccessLogEncoding.TEXT, null,
                null, null, null, null);
        return ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").meshConfig(m).build();
    }

    @Test
    void theCompilerOpensEachProvidersFileAndABadOneKeepsItsLastGoodVersion() {
        String a = tmp.resolve("a.log").toString();
        String b = tmp.resolve("b.log").toString();
        AccessLogCompiler c = new AccessLogCompiler(files, null);
        AccessLogSettings g1 = c.compile(mesh(List.of(new EnvoyFileAccessLog("a", a, "%RESPONSE_CODE%", Map.of()),
                new EnvoyFileAccessLog("b", b, null, labels("code", "%RESPONSE_CODE%")),
                new EnvoyFileAccessLog("envoy", tmp.resolve("ignored").toString(), null, Map.of()))), new Diagnostics());
        assertThat(g1.debug()).isEqualTo("/dev/stdout (TEXT); provider a: " + a + " (TEXT); provider b: " + b + " (JSON)");

        Diagnostics d = new Diagnostics();
        AccessLogSettings g2 = c.compile(mesh(List.of(new EnvoyFileAccessLog("a", tmp.resolve("other").toString(), "%NOPE%",
                Map.of()), new EnvoyFileAccessLog("b", b, null, labels("code", "%RESPONSE_CODE%")),
                new EnvoyFileAccessLog("z", b, "%BAD", Map.of()))), d);
        assertThat(g2.debug()).isEqualTo("/dev/stdout (TEXT); provider a: " + a + " (TEXT); provider b: " + b + " (JSON)");
        assertThat(d.problems()).hasSize(2).allSatisfy(p -> assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR));
        assertThat(d.problems().get(0).field()).isEqualTo("extensionProviders[a].envoyFileAccessLog.logFormat.text");
        assertThat(d.problems().get(0).message()).endsWith("its last good version (" + a + ") keeps serving");
        assertThat(d.problems().get(1).field()).isEqualTo("extensionProviders[z].envoyFileAccessLog.logFormat.text");
        assertThat(d.problems().get(1).message()).endsWith("this provider writes no access log");
    }
}
