package dev.waypoint.model;

import java.util.function.Consumer;

/**
 * Where the data path gets config: {@link #current()} is one volatile read. Implemented by
 * waypoint-config's publisher; tests use {@link #of(ConfigSnapshot)}.
 */
public interface SnapshotSource {
    /** The latest good snapshot, or {@code null} before the first one is ready. */
    ConfigSnapshot current();

    /** Calls {@code listener} (on the config thread) after each new snapshot is published. */
    void subscribe(Consumer<ConfigSnapshot> listener);

    /**
     * A source that reads {@code current} on every call and has no subscribers (tests and
     * benchmarks that swap snapshots by hand).
     */
    static SnapshotSource from(java.util.function.Supplier<ConfigSnapshot> current) {
        return new SnapshotSource() {
            @Override
            public ConfigSnapshot current() {
                return current.get();
            }

            @Override
            public void subscribe(Consumer<ConfigSnapshot> listener) {
                // nothing announces changes
            }
        };
    }

    /** A source that always returns {@code snapshot}. */
    static SnapshotSource of(ConfigSnapshot snapshot) {
        return new SnapshotSource() {
            @Override
            public ConfigSnapshot current() {
                return snapshot;
            }

            @Override
            public void subscribe(Consumer<ConfigSnapshot> listener) {
                // never changes
            }
        };
    }
}
