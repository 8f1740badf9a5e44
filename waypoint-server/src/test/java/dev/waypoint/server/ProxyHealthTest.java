package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy-health gauges about config reloads (no listener: no ports). */
class ProxyHealthTest {
    private static final String SERVICE = """
            apiVersion: v1
            kind: Service
            metadata: {name: %s}
            spec: {clusterIP: 10.0.0.1, ports: [{name: http, port: 80}]}
            """;

    @TempDir
    Path dir;

    private final ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1);

    @AfterEach
    void tearDown() {
        executor.shutdownNow();
    }

    @Test
    void aBrokenFileServedFromItsLastGoodVersionIsCountedWhileTheReloadReadsAsASuccess() throws Exception {
        Files.writeString(dir.resolve("a.yaml"), SERVICE.formatted("a"));
        Files.writeString(dir.resolve("b.yaml"), SERVICE.formatted("b"));
        // polls every 10 ms; the test waits for the generation, not for a time
        try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir),
                new NamespacedName("default", "waypoint"), "cluster.local", List.of(), executor, Duration.ofMillis(10))) {
            p.start();
            assertThat(health(p)).contains("waypoint_config_files_on_last_good 0\n",
                    "waypoint_config_last_reload_success 1\n", "waypoint_config_services 2\n");

            Files.writeString(dir.resolve("a.yaml"), SERVICE.formatted("a") + "  oops: [\n");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> p.current().generation() >= 1);

            assertThat(health(p)).contains("# TYPE waypoint_config_files_on_last_good gauge\n",
                    "waypoint_config_files_on_last_good 1\n", "waypoint_config_last_reload_success 1\n",
                    "waypoint_config_services 2\n");
        }
    }

    private static String health(SnapshotPublisher p) throws IOException {
        StringBuilder b = new StringBuilder();
        ProxyHealth.append(b, p.current(), p, null, null, 0);
        return b.toString();
    }
}
