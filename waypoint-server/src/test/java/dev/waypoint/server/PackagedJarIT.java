package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar, as a user runs it, over manifests of every policy kind (resources
 * {@code jar-smoke/}: the demo mesh plus a Telemetry with a CEL filter, a RequestAuthentication
 * with inline JWKS, ALLOW and CUSTOM AuthorizationPolicies, an HTTPRoute, a DestinationRule and the
 * mesh config's providers). The unit tests run on Maven's test classpath, where every library is
 * present; only the shaded jar shows a dependency that was left out of it (a test-scoped
 * declaration once dropped protobuf-java, and {@code validate} died with NoClassDefFoundError on
 * the Telemetry filter of Istio's docs). No sockets.
 */
class PackagedJarIT {
    private static final List<String> FILES = List.of("mesh.yaml", "pods.yaml", "services.yaml", "policies.yaml");

    @TempDir
    Path tmp;
    private Path config;

    @BeforeEach
    void copyManifests() throws IOException {
        config = Files.createDirectories(tmp.resolve("manifests"));
        for (String f : FILES) {
            try (InputStream in = PackagedJarIT.class.getResourceAsStream("/jar-smoke/" + f)) {
                Files.write(config.resolve(f), in.readAllBytes());
            }
        }
    }

    private record Run(int exit, String output) {}

    private Run jar(String... args) throws Exception {
        Path jar = Path.of(System.getProperty("waypoint.jar", "target/waypoint.jar"));
        assertThat(jar).exists();
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-jar",
                jar.toString()));
        cmd.addAll(List.of(args));
        Path out = tmp.resolve("out-" + args[0] + ".txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("finished").isTrue();
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    @Test
    void validateReadsEveryKindCleanly() throws Exception {
        Run r = jar("validate", config.toString(), "--gateway", "istio-system/waypoint");
        assertThat(r.output()).doesNotContain("Exception", "Error:", "NoClassDefFound");
        assertThat(r.exit()).as(r.output()).isZero();
    }

    @Test
    void explainRunsEveryStageOverARequest() throws Exception {
        Run r = jar("explain", "--config-dir", config.toString(), "--from", "spiffe://cluster.local/ns/demo/sa/curl",
                "GET", "http://reviews.demo:9080/api/v1");
        assertThat(r.output()).doesNotContain("Exception", "NoClassDefFound");
        assertThat(r.exit()).as(r.output()).isZero();
        // the ALLOW policy matched and the route's rule was chosen: the stages ran, not just the parse
        assertThat(r.output()).contains("demo/reviews-viewer").contains("reviews");
    }
}
