package dev.waypoint.telemetry;

import dev.waypoint.model.SnapshotPart;
import io.opentelemetry.api.trace.Tracer;

/**
 * Tracing in force for one snapshot: the tracer of the provider the mesh config names (null:
 * no tracing, nothing is done per request) and the sampling percentage. Compiled once
 * ({@link TracingCompiler}). Immutable.
 */
public final class TracingSettings {
    /** The snapshot part. */
    public static final SnapshotPart<TracingSettings> PART = SnapshotPart.of("tracing", TracingSettings.class);

    static final TracingSettings OFF = new TracingSettings(null, 0, "off");

    private final Tracer tracer;
    private final double samplingPercent;
    private final String debug;

    TracingSettings(Tracer tracer, double samplingPercent, String debug) {
        this.tracer = tracer;
        this.samplingPercent = samplingPercent;
        this.debug = debug;
    }

    /** The tracer, or null when nothing is traced. */
    Tracer tracer() {
        return tracer;
    }

    /** Percent of requests without a sampled parent that start a trace (0-100). */
    double samplingPercent() {
        return samplingPercent;
    }

    /** For the config dump: provider, collector and sampling, or {@code off}. */
    public String debug() {
        return debug;
    }
}
