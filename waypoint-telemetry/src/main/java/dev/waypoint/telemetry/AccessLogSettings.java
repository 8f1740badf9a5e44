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
    private final java.util.Map<String, Provider> providers;

    AccessLogSettings(AccessLog sink, String path, AccessLogFormat format) {
        this(sink, path, format, false);
    }

    /**
     * @param telemetryOnly the log exists only because a Telemetry's {@code accessLogging} asks
     *        for one (Istio's {@code envoy} provider: standard output): requests no Telemetry
     *        logging applies to are not logged
     */
    AccessLogSettings(AccessLog sink, String path, AccessLogFormat format, boolean telemetryOnly) {
        this(sink, path, format, telemetryOnly, java.util.Map.of());
    }

    /**
     * @param providers the mesh config's {@code envoyFileAccessLog} providers by name: the writer
     *        of each one's own file and its format
     */
    AccessLogSettings(AccessLog sink, String path, AccessLogFormat format, boolean telemetryOnly,
                      java.util.Map<String, Provider> providers) {
        this.sink = sink;
        this.path = path;
        this.format = format;
        this.telemetryOnly = telemetryOnly;
        this.providers = java.util.Map.copyOf(providers);
    }

    /** An {@code envoyFileAccessLog} provider: its writer, its file and its format. */
    record Provider(AccessLog sink, String path, AccessLogFormat format) {
    }

    /**
     * Writes {@code entry}'s line where it goes (the caller has applied {@code disabled} and the
     * filter): without the Telemetry API deciding ({@code t} null or not {@code logging}), to the
     * mesh config's log unless that log is the Telemetry API's only; else one line to each
     * provider of {@code t.logProviders()}: {@code envoy} the mesh config's log, an
     * {@code envoyFileAccessLog} provider its own file in its own format.
     */
    void write(TelemetryPolicies.Effective t, AccessLogFormat.Entry entry) {
        write(t, entry, null);
    }

    /**
     * As {@link #write(TelemetryPolicies.Effective, AccessLogFormat.Entry)}, each provider's line
     * written only when its own {@code filter} ({@link TelemetryPolicies.Effective#logFilter}) is
     * true for {@code request} (Istio's {@code mergeLogs} keeps a filter per provider). The CEL
     * attributes are built once, for the first provider with a filter. {@code request} null (a TCP
     * tunnel): filters are not applied (their attributes are a request's).
     */
    void write(TelemetryPolicies.Effective t, AccessLogFormat.Entry entry,
               dev.waypoint.model.request.RequestContext request) {
        if (t == null || !t.logging()) {
            if (sink != null && !telemetryOnly) {
                sink.offer(format.render(entry));
            }
            return;
        }
        java.util.Map<String, Object> attributes = null;
        for (String name : t.logProviders()) {
            TelemetryCel.Expression filter = request == null ? null : t.logFilter(name);
            if (filter != null) {
                if (attributes == null) {
                    attributes = TelemetryCel.activation(request);
                }
                if (!filter.test(attributes)) {
                    continue; // this provider's filter is not true for this request
                }
            }
            if (name.equals("envoy")) {
                if (sink != null) {
                    sink.offer(format.render(entry));
                }
                continue;
            }
            Provider p = providers.get(name);
            if (p != null) {
                p.sink().offer(p.format().render(entry));
            }
        }
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
        StringBuilder b = new StringBuilder(sink == null ? "off" : path + " (" + (format.isJson() ? "JSON" : "TEXT") + ")"
                + (telemetryOnly ? ", for the Telemetry API's accessLogging only" : ""));
        new java.util.TreeMap<>(providers).forEach((n, p) -> b.append("; provider ").append(n).append(": ")
                .append(p.path()).append(" (").append(p.format().isJson() ? "JSON" : "TEXT").append(')'));
        return b.toString();
    }
}
