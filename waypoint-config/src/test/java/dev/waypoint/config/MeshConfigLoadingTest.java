package dev.waypoint.config;

import static dev.waypoint.config.TestCompilers.TRUST_DOMAIN;
import static dev.waypoint.config.TestCompilers.WAYPOINT;
import static dev.waypoint.config.TestCompilers.compilers;
import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.mesh.MeshConfigSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the mesh config comes from, how it is reloaded, and that the last good one keeps serving. */
class MeshConfigLoadingTest {
    private static final Duration MANUAL = Duration.ofHours(1);

    @TempDir
    Path dir;
    @TempDir
    Path etc;

    private final ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1);
    private SnapshotPublisher publisher;

    @AfterEach
    void tearDown() {
        if (publisher != null) {
            publisher.close();
        }
        executor.shutdownNow();
    }

    private static String configMap(String namespace, String mesh) {
        return """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: istio, namespace: %s}
                data:
                  mesh: |-
                %s
                """.formatted(namespace, mesh.indent(4).stripTrailing());
    }

    private SnapshotPublisher start(Path meshFile) {
        publisher = new SnapshotPublisher(ConfigSources.yamlDirectory(dir).withMeshConfig(meshFile, "istio-system"),
                WAYPOINT, TRUST_DOMAIN, compilers(), executor, MANUAL);
        publisher.start();
        return publisher;
    }

    private boolean reload() throws Exception {
        return executor.submit(() -> publisher.reload()).get(10, TimeUnit.SECONDS);
    }

    private static MeshConfigSpec mesh(ConfigSnapshot s) {
        return s.resources().meshConfig();
    }

    private static List<String> problems(ConfigSnapshot s) {
        return s.problems().stream().map(Object::toString).toList();
    }

    @Test
    void noMeshConfigAnywhereIsTheDefault() {
        assertThat(mesh(start(null).current())).isSameAs(MeshConfigSpec.DEFAULT);
    }

    @Test
    void theIstioConfigMapOfTheRootNamespaceIsRead() throws IOException {
        Files.writeString(dir.resolve("istio.yaml"), configMap("istio-system", "trustDomainAliases: [old.org]"));
        Files.writeString(dir.resolve("other.yaml"), configMap("default", "trustDomainAliases: [wrong.org]"));

        ConfigSnapshot s = start(null).current();

        assertThat(mesh(s).trustDomainAliases()).containsExactly("old.org");
        assertThat(mesh(s).source().toString()).isEqualTo("istio.yaml:1");
    }

    @Test
    void theFileFlagWinsOverTheConfigMap() throws IOException {
        Files.writeString(dir.resolve("istio.yaml"), configMap("istio-system", "trustDomainAliases: [cm.org]"));
        Path file = etc.resolve("mesh.yaml");
        Files.writeString(file, "trustDomainAliases: [file.org]\n");

        ConfigSnapshot s = start(file).current();

        assertThat(mesh(s).trustDomainAliases()).containsExactly("file.org");
        assertThat(problems(s)).containsExactly("istio.yaml:1: note: ConfigMap istio-system/istio: data.mesh: not read: "
                + "--mesh-config " + file + " is given, and wins");
    }

    @Test
    void theFileIsWatchedAndTheLastGoodOneKept() throws Exception {
        Path file = etc.resolve("mesh.yaml");
        Files.writeString(file, "trustDomainAliases: [one.org]\n");
        start(file);
        assertThat(mesh(publisher.current()).trustDomainAliases()).containsExactly("one.org");

        Files.writeString(file, "trustDomainAliases: [two.org]\nrootNamespace: istio-config\n");
        assertThat(reload()).isTrue();
        assertThat(publisher.current().generation()).isEqualTo(1);
        assertThat(mesh(publisher.current()).trustDomainAliases()).containsExactly("two.org");

        Files.writeString(file, "trustDomainAliases: [three.org]\nenableTracing: maybe\n");
        assertThat(reload()).isTrue();
        ConfigSnapshot s = publisher.current();
        assertThat(mesh(s).trustDomainAliases()).as("last good kept").containsExactly("two.org");
        assertThat(problems(s)).containsExactly(
                file + ": MeshConfig -: enableTracing: enableTracing: \"maybe\" (expected: true or false)",
                file + ": warning: MeshConfig -: -: rejected; the previous mesh config (" + file
                        + ") is kept until this one is fixed");

        Files.delete(file);
        assertThat(reload()).isTrue();
        assertThat(mesh(publisher.current()).trustDomainAliases()).containsExactly("two.org");
        assertThat(problems(publisher.current())).first().asString().isEqualTo(file + ": MeshConfig -: -: no such file");

        Files.writeString(file, "trustDomainAliases: [four.org]\n");
        assertThat(reload()).isTrue();
        assertThat(mesh(publisher.current()).trustDomainAliases()).containsExactly("four.org");
        assertThat(problems(publisher.current())).isEmpty();
    }

    @Test
    void aChangeOfTheFileAloneIsSeenByThePoll() throws Exception {
        Path file = etc.resolve("mesh.yaml");
        Files.writeString(file, "trustDomainAliases: [one.org]\n");
        start(file);
        Files.writeString(file, "trustDomainAliases: [one.org, two.org]\n");
        // the poll debounces: the change must hold still for one more poll
        for (int i = 0; i < 3 && publisher.current().generation() == 0; i++) {
            executor.submit(() -> {
                publisher.poll();
                return null;
            }).get(10, TimeUnit.SECONDS);
        }
        assertThat(mesh(publisher.current()).trustDomainAliases()).containsExactly("one.org", "two.org");
    }

    @Test
    void aBrokenConfigMapIsReportedAtItsField() throws IOException {
        Files.writeString(dir.resolve("istio.yaml"), configMap("istio-system",
                "extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: authz.foo.svc.cluster.local}"));

        ConfigSnapshot s = start(null).current();

        assertThat(mesh(s)).isSameAs(MeshConfigSpec.DEFAULT);
        assertThat(problems(s)).containsExactly(
                "istio.yaml:1: MeshConfig istio-system/istio: data.mesh.extensionProviders[0].envoyExtAuthzGrpc.port: "
                        + "port: missing (expected: 1-65535)",
                "istio.yaml:1: warning: MeshConfig istio-system/istio: -: rejected; running with no mesh config until it is fixed");
    }

    @Test
    void validateReportsTheMeshConfigFile() throws IOException {
        Path file = etc.resolve("mesh.yaml");
        Files.writeString(file, "accessLogEncoding: XML\n");
        List<Diagnostics.Problem> problems = ConfigValidator.validate(
                ConfigSources.yamlDirectory(dir).withMeshConfig(file, "istio-system"), WAYPOINT, TRUST_DOMAIN, compilers());
        assertThat(ConfigValidator.hasErrors(problems)).isTrue();
        assertThat(problems.get(0).toString()).isEqualTo(
                file + ": MeshConfig -: accessLogEncoding: accessLogEncoding: \"XML\" (expected: TEXT or JSON)");
    }
}
