package dev.waypoint.model;

/**
 * Builds one compiled part of a snapshot from a generation's validated resources. Runs on the
 * config executor, never on an event loop. Problems go to {@code diagnostics}; a compiler must
 * return a usable part even when some resources are rejected (it drops those).
 *
 * @param <T> the part's type
 */
public interface PartCompiler<T> {
    /** The key the compiled part is stored under. */
    SnapshotPart<T> part();

    /** Compiles the part; must not throw for bad input (report it instead). */
    T compile(ResourceSet resources, Diagnostics diagnostics);
}
