package dev.waypoint.config;

import static java.util.Objects.requireNonNull;

import dev.waypoint.config.yaml.YamlDirectorySource;
import java.nio.file.Path;

/** Static factories for the places config comes from. */
public final class ConfigSources {
    private ConfigSources() {}

    /**
     * Kubernetes manifests in {@code dir}: every {@code *.yaml} / {@code *.yml} below it, following
     * symbolic links (ConfigMap volumes) and skipping names that start with {@code .}.
     * Nothing is read until the source is used.
     */
    public static YamlDirectorySource yamlDirectory(Path dir) {
        return new YamlDirectorySource(requireNonNull(dir, "dir"));
    }
}
