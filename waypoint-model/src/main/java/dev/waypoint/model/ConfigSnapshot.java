package dev.waypoint.model;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One generation of compiled config: the only config the data path reads. Deeply immutable;
 * published through one atomic reference ({@link SnapshotSource}) and pinned once per tunnel or
 * request so that every stage of that request sees the same generation.
 */
public final class ConfigSnapshot {
    private final long generation;
    private final ResourceSet resources;
    private final Map<SnapshotPart<?>, Object> parts;
    private final List<Diagnostics.Problem> problems;

    private ConfigSnapshot(long generation, ResourceSet resources, Map<SnapshotPart<?>, Object> parts,
                           List<Diagnostics.Problem> problems) {
        this.generation = generation;
        this.resources = resources;
        this.parts = parts;
        this.problems = problems;
    }

    /**
     * Runs each compiler over {@code resources} and assembles the snapshot.
     *
     * @param compilers the stage compilers, in the order they should run (an explicit list, not discovery)
     */
    public static ConfigSnapshot compile(long generation, ResourceSet resources, List<PartCompiler<?>> compilers,
                                         Diagnostics diagnostics) {
        Objects.requireNonNull(resources, "resources");
        Map<SnapshotPart<?>, Object> parts = new IdentityHashMap<>();
        for (PartCompiler<?> compiler : compilers) {
            Object part = Objects.requireNonNull(compiler.compile(resources, diagnostics), compiler.part().name());
            parts.put(compiler.part(), part);
        }
        return new ConfigSnapshot(generation, resources, parts, diagnostics.problems());
    }

    /** Monotonic generation number; 0 is the first. */
    public long generation() {
        return generation;
    }

    /** The validated resources this snapshot was compiled from (for the config dump). */
    public ResourceSet resources() {
        return resources;
    }

    /** Problems found while building this generation (translation and compilation). */
    public List<Diagnostics.Problem> problems() {
        return problems;
    }

    /**
     * The compiled part under {@code key}.
     *
     * @throws IllegalStateException if no compiler for that part was configured (a wiring bug)
     */
    /** Whether {@code key}'s part was compiled into this snapshot (a compiler the caller may not have registered). */
    public boolean has(SnapshotPart<?> key) {
        return parts.containsKey(key);
    }

    public <T> T part(SnapshotPart<T> key) {
        Object value = parts.get(key);
        if (value == null) {
            throw new IllegalStateException("snapshot part not compiled: " + key);
        }
        return key.cast(value);
    }
}
