package dev.waypoint.config.yaml;

import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import java.util.List;
import java.util.Objects;

/**
 * What one manifest file held this time: its objects, or the reason it could not be read or
 * parsed. Kept per file so that a file that is broken now can fall back to the objects it had the
 * last time it parsed.
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}.
 *
 * @param path the file, relative to the directory, with {@code /} separators
 * @param objects the objects, in document order; empty when broken
 * @param error the file-level problem ({@code file:line: message}), or null when it parsed
 */
public record ManifestFile(String path, List<WireObject> objects, Diagnostics.Problem error) implements Manifest {
    public ManifestFile {
        Objects.requireNonNull(path, "path");
        objects = List.copyOf(objects);
        if (error != null && !objects.isEmpty()) {
            throw new IllegalArgumentException("a broken file has no objects: " + path);
        }
    }

    static ManifestFile parsed(String path, List<WireObject> objects) {
        return new ManifestFile(path, objects, null);
    }

    static ManifestFile broken(String path, int line, String message) {
        return new ManifestFile(path, List.of(), new Diagnostics.Problem(Diagnostics.Severity.ERROR,
                new SourceRef(path, Math.max(line, 0)), "-", null, "-", message));
    }

    /** Already parsed: itself. */
    @Override
    public ManifestFile parse() {
        return this;
    }

    /** Whether the file was read and parsed. */
    public boolean isParsed() {
        return error == null;
    }
}
