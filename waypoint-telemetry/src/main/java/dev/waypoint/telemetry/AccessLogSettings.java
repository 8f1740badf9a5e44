package dev.waypoint.telemetry;

import dev.waypoint.model.SnapshotPart;

/**
 * The access log in force for one snapshot: where lines go and how they look, compiled once from
 * the mesh config ({@link AccessLogCompiler}). Immutable.
 */
public final class AccessLogSettings {
    /** The snapshot part. */
    public static final SnapshotPart<AccessLogSettings> PART = SnapshotPart.of("accessLog", AccessLogSettings.class);

    /** No access log. */
    static final AccessLogSettings OFF = new AccessLogSettings(null, null, AccessLogFormat.ISTIO_TEXT);

    private final AccessLog sink;
    private final String path;
    private final AccessLogFormat format;

    AccessLogSettings(AccessLog sink, String path, AccessLogFormat format) {
        this.sink = sink;
        this.path = path;
        this.format = format;
    }

    /** The writer, or null when there is no access log. */
    AccessLog sink() {
        return sink;
    }

    AccessLogFormat format() {
        return format;
    }

    /** For the config dump: the file and the encoding, or {@code off}. */
    public String debug() {
        return sink == null ? "off" : path + " (" + (format.isJson() ? "JSON" : "TEXT") + ")";
    }
}
