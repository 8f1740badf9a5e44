package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The access log of a snapshot from the mesh config, the --access-log flag as its fallback. */
class AccessLogCompilerTest {
    @TempDir
    Path tmp;
    final AccessLogFiles files = new AccessLogFiles();

    @AfterEach
    void close() throws Exception {
        files.close();
    }

    static ResourceSet mesh(String file, MeshConfigSpec.AccessLogEncoding encoding, String format) {
        MeshConfigSpec m = new MeshConfigSpec(new SourceRef("mesh.yaml", 1), null, List.of(), null, List.of(),
                MeshConfigSpec.DefaultProviders.NONE, null, file, encoding, format, null, null, null, null);
        return ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").meshConfig(m).build();
    }

    @Test
    void noFileAnywhereIsNoAccessLog() {
        Diagnostics d = new Diagnostics();
        AccessLogSettings s = new AccessLogCompiler(files, null).compile(mesh(null, MeshConfigSpec.AccessLogEncoding.TEXT, null), d);
        assertThat(s.sink()).isNull();
        assertThat(s.debug()).isEqualTo("off");
        assertThat(d.problems()).isEmpty();
    }

    @Test
    void theMeshConfigsFileWinsOverTheFlag() {
        String file = tmp.resolve("mesh.log").toString();
        AccessLogSettings s = new AccessLogCompiler(files, tmp.resolve("flag.log").toString())
                .compile(mesh(file, MeshConfigSpec.AccessLogEncoding.JSON, null), new Diagnostics());
        assertThat(s.debug()).isEqualTo(file + " (JSON)");
        assertThat(s.format()).isSameAs(AccessLogFormat.ISTIO_JSON);
    }

    @Test
    void theFlagIsTheFileWhenTheMeshConfigSetsNone() {
        String flag = tmp.resolve("flag.log").toString();
        AccessLogSettings s = new AccessLogCompiler(files, flag)
                .compile(mesh(null, MeshConfigSpec.AccessLogEncoding.TEXT, null), new Diagnostics());
        assertThat(s.debug()).isEqualTo(flag + " (TEXT)");
        assertThat(s.format()).isSameAs(AccessLogFormat.ISTIO_TEXT);
    }

    @Test
    void oneWriterPerFileAcrossGenerations() throws Exception {
        String file = tmp.resolve("a.log").toString();
        AccessLogCompiler c = new AccessLogCompiler(files, null);
        AccessLogSettings g1 = c.compile(mesh(file, MeshConfigSpec.AccessLogEncoding.TEXT, null), new Diagnostics());
        AccessLogSettings g2 = c.compile(mesh(file, MeshConfigSpec.AccessLogEncoding.JSON, null), new Diagnostics());
        assertThat(g2.sink()).isSameAs(g1.sink());
        assertThat(Files.exists(Path.of(file))).isTrue();
    }

    @Test
    void aBadFormatIsAnErrorOnTheMeshConfigAndIstiosDefaultIsUsed() {
        Diagnostics d = new Diagnostics();
        AccessLogSettings s = new AccessLogCompiler(files, "-")
                .compile(mesh(null, MeshConfigSpec.AccessLogEncoding.TEXT, "%NOPE% %DURATION%"), d);
        assertThat(s.format()).isSameAs(AccessLogFormat.ISTIO_TEXT);
        assertThat(d.problems()).singleElement().satisfies(p -> {
            assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR);
            assertThat(p.field()).isEqualTo("accessLogFormat");
            assertThat(p.message()).startsWith("%NOPE%: unknown command operator").endsWith("Istio's default TEXT format is used");
        });
    }

    @Test
    void aCustomFormatIsCompiledOnce() {
        AccessLogSettings s = new AccessLogCompiler(files, "-")
                .compile(mesh(null, MeshConfigSpec.AccessLogEncoding.JSON, "{\"c\":\"%RESPONSE_CODE%\"}"), new Diagnostics());
        assertThat(s.format().render(new LogEntries.Http(Requests.finished(false, 204, "-", 1, true), "cluster.local",
                java.time.Instant.EPOCH))).isEqualTo("{\"c\":204}\n");
    }

    @Test
    void aFileThatCannotBeOpenedIsAnErrorAndNoLog() {
        Diagnostics d = new Diagnostics();
        AccessLogSettings s = new AccessLogCompiler(files, null).compile(mesh(tmp.resolve("no/such/dir/x.log").toString(),
                MeshConfigSpec.AccessLogEncoding.TEXT, null), d);
        assertThat(s.sink()).isNull();
        assertThat(d.problems()).singleElement().satisfies(p -> assertThat(p.field()).isEqualTo("accessLogFile"));
    }

    @Test
    void aFlagFileThatCannotBeOpenedIsNamedAsTheFlags() {
        Diagnostics d = new Diagnostics();
        AccessLogSettings s = new AccessLogCompiler(files, tmp.resolve("no/such/dir/x.log").toString())
                .compile(mesh(null, MeshConfigSpec.AccessLogEncoding.TEXT, null), d);
        assertThat(s.sink()).isNull();
        assertThat(d.problems()).singleElement().satisfies(p -> assertThat(p.field()).contains("--access-log"));
    }
}
