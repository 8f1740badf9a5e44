package dev.waypoint.config;

import static dev.waypoint.config.TestCompilers.TRUST_DOMAIN;
import static dev.waypoint.config.TestCompilers.WAYPOINT;
import static dev.waypoint.config.TestCompilers.compilers;
import static dev.waypoint.config.TestCompilers.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.model.Diagnostics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigValidatorTest {
    @TempDir
    Path dir;

    private List<String> validate() {
        return ConfigValidator.validate(dir, WAYPOINT, TRUST_DOMAIN, compilers()).stream()
                .map(Diagnostics.Problem::toString).toList();
    }

    @Test
    void reportsTranslationParseAndCompilerProblemsInOrder() throws IOException {
        Files.writeString(dir.resolve("a-broken.yaml"), "kind: Service\n  name: x\n");
        Files.writeString(dir.resolve("b.yaml"), service("ok", 80) + """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: flagged, labels: {compiler-warning: "yes"}}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: p}
                status: {podIP: 10.0.0.256}
                """);

        List<String> problems = validate();

        assertThat(problems).containsExactly(
                "a-broken.yaml:2: mapping values are not allowed here",
                "b.yaml:10: Pod default/p: status.podIP: podIP: 10.0.0.256 (expected: an IPv4 or IPv6 literal)",
                "b.yaml:6: warning: Service default/flagged: metadata.labels: flagged by the compiler");
        assertThat(ConfigValidator.hasErrors(ConfigValidator.validate(dir, WAYPOINT, TRUST_DOMAIN, compilers()))).isTrue();
    }

    @Test
    void aCompilerThatThrowsIsAnError() throws IOException {
        Files.writeString(dir.resolve("a.yaml"), service("boom", 80));

        assertThat(validate()).containsExactly(
                "-: compiler service-names: threw java.lang.IllegalStateException: cannot compile default/boom");
    }

    @Test
    void aCompilerWhoseClassesDoNotLinkIsAnErrorNotACrash() throws IOException {
        // a library missing from the packaged jar: reported as the compiler's failure (the last good
        // config keeps serving in a running waypoint), not an Error out of validate or the config thread
        Files.writeString(dir.resolve("a.yaml"), service("unlinked", 80));

        assertThat(validate()).containsExactly(
                "-: compiler service-names: threw java.lang.NoClassDefFoundError: com/example/Missing");
    }

    @Test
    void warningsAloneAreNoFailure() throws IOException {
        Files.writeString(dir.resolve("a.yaml"), service("ok", 80) + """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: dns}
                spec: {ports: [{port: 53, protocol: UDP}]}
                """);

        List<Diagnostics.Problem> problems = ConfigValidator.validate(dir, WAYPOINT, TRUST_DOMAIN, compilers());

        assertThat(problems).extracting(Object::toString).containsExactly(
                "a.yaml:6: warning: Service default/dns: spec.ports[0].protocol: protocol: UDP (expected: TCP; the port is dropped)");
        assertThat(ConfigValidator.hasErrors(problems)).isFalse();
    }

    @Test
    void aCleanDirectoryHasNoProblems() throws IOException {
        Files.writeString(dir.resolve("a.yaml"), service("ok", 80));

        assertThat(validate()).isEmpty();
    }

    @Test
    void aMissingDirectoryIsAnIoError() {
        assertThatThrownBy(() -> ConfigValidator.validate(dir.resolve("nope"), WAYPOINT, TRUST_DOMAIN, compilers()))
                .isInstanceOf(UncheckedIOException.class);
    }
}
