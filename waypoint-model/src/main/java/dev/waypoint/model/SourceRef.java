package dev.waypoint.model;

/**
 * Where a resource came from: a manifest file and the line its document starts on, or an API
 * server object ({@code line == 0}). Used only to make diagnostics point at something a person can open.
 */
public record SourceRef(String file, int line) {
    /** A resource with no file behind it (tests, the Kubernetes API). */
    public static final SourceRef NONE = new SourceRef("-", 0);

    @Override
    public String toString() {
        return line > 0 ? file + ":" + line : file;
    }
}
