package dev.waypoint.config;

import static java.util.Objects.requireNonNull;

import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.YamlDirectorySource;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Backs {@code waypoint validate DIR}: loads, translates and compiles a manifest directory exactly
 * as {@link SnapshotPublisher} does for its first generation, and returns every problem. There is
 * no previous generation, so nothing falls back: what would be rejected is reported as rejected.
 * The command exits 1 when any problem is an {@link Diagnostics.Severity#ERROR}.
 */
public final class ConfigValidator {
    private ConfigValidator() {}

    /**
     * Validates {@code dir}.
     *
     * @return the problems, in the order found; each renders as {@code file:line: Kind ns/name: field: message}
     * @throws UncheckedIOException if the directory cannot be listed
     */
    public static List<Diagnostics.Problem> validate(Path dir, NamespacedName waypoint, String trustDomain,
                                                     List<PartCompiler<?>> compilers) {
        return validate(ConfigSources.yamlDirectory(requireNonNull(dir, "dir")), waypoint, trustDomain, compilers);
    }

    /** Validates {@code source}: its directory and its mesh config ({@code --mesh-config} or the istio ConfigMap). */
    public static List<Diagnostics.Problem> validate(YamlDirectorySource source, NamespacedName waypoint,
                                                     String trustDomain, List<PartCompiler<?>> compilers) {
        return build(source, waypoint, trustDomain, compilers).diagnostics().problems();
    }

    private static GenerationBuilder.Attempt build(YamlDirectorySource source, NamespacedName waypoint,
                                                   String trustDomain, List<PartCompiler<?>> compilers) {
        requireNonNull(source, "source");
        GenerationBuilder builder = new GenerationBuilder(requireNonNull(waypoint, "waypoint"),
                requireNonNull(trustDomain, "trustDomain"), requireNonNull(compilers, "compilers"),
                source.rootNamespace());
        DirectoryContent content;
        try {
            content = source.read();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config directory " + source.directory(), e);
        }
        return builder.build(0, content.manifests(), content.meshConfig(), LastGood.NONE);
    }

    /**
     * A manifest directory compiled once, as its first generation would be: the snapshot (null
     * when a compiler failed) and the problems. Backs {@code waypoint explain}.
     */
    public record Loaded(ConfigSnapshot snapshot, List<Diagnostics.Problem> problems) {}

    /** Loads and compiles {@code dir} once, with no network and no watching. */
    public static Loaded load(Path dir, NamespacedName waypoint, String trustDomain, List<PartCompiler<?>> compilers) {
        return load(ConfigSources.yamlDirectory(requireNonNull(dir, "dir")), waypoint, trustDomain, compilers);
    }

    /** Loads and compiles {@code source} once, with its mesh config, with no network and no watching. */
    public static Loaded load(YamlDirectorySource source, NamespacedName waypoint, String trustDomain,
                              List<PartCompiler<?>> compilers) {
        GenerationBuilder.Attempt attempt = build(source, waypoint, trustDomain, compilers);
        return new Loaded(attempt.snapshot(), attempt.diagnostics().problems());
    }

    /** Whether any of {@code problems} is an error: the exit status of {@code validate}. */
    public static boolean hasErrors(List<Diagnostics.Problem> problems) {
        return problems.stream().anyMatch(p -> p.severity() == Diagnostics.Severity.ERROR);
    }
}
