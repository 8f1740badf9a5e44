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
    private final boolean telemetryOnly;

    AccessLogSettings(AccessLog sink, String path, AccessLogFormat format) {
        this(sink, path, format, false);
    }

    /**
     * @param telemetryOnly the log exists only because a Telemetry's {@code accessLogging} asks
     *        for one (Istio's {@code envoy} provider: standard output): requests no Telemetry
     *        logging applies to are not logged
     */
    AccessLogSettings(AccessLog sink, String path, AccessLogFormat format, boolean telemetryOnly) {
        this.sink = sink;
        this.path = path;
        this.format = format;
        this.telemetryOnly = telemetryOnly;
    }

    /** Whether only requests a Telemetry's {@code accessLogging} applies to are logged. */
    boolean telemetryOnly() {
        return telemetryOnly;
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
        return sink == null ? "off" : path + " (" + (format.isJson() ? "JSON" : "TEXT") + ")"
                + (telemetryOnly ? ", for the Telemetry API's accessLogging only" : "");
    }
}
