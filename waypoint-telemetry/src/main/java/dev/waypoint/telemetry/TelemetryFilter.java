package dev.waypoint.telemetry;

import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.RequestContext;

/**
 * The {@code telemetry} stage: outermost, so it sees every request's outcome (also a malformed
 * request's 400, a policy's 403, a reset) and renders it once, when the outcome closes: Istio's
 * standard metrics and, when configured, one access-log line. It never changes a request.
 */
public final class TelemetryFilter implements HttpFilter {
    /** The stage name, as in logs and metrics. */
    public static final String NAME = "telemetry";

    private final IstioMetrics metrics;
    private final String clusterDomain;
    private final String clusterId;
    private final AccessLogSettings fallbackLog;

    /**
     * @param accessLog where lines go when the snapshot has no {@link AccessLogSettings} part (no
     *        {@link AccessLogCompiler} registered), or null for no access log then
     * @param clusterId this cluster's id for {@code destination_cluster} (Istio's default: {@code Kubernetes})
     */
    public TelemetryFilter(IstioMetrics metrics, AccessLog accessLog, String clusterDomain, String clusterId) {
        this.metrics = metrics;
        this.clusterDomain = clusterDomain;
        this.clusterId = clusterId;
        this.fallbackLog = accessLog == null ? AccessLogSettings.OFF
                : new AccessLogSettings(accessLog, "--access-log", AccessLogFormat.ISTIO_TEXT);
    }

    @Override
    public String name() {
        return NAME;
    }

    /**
     * Gives the request an {@code x-request-id} when it has none (as Envoy does) and, when the
     * snapshot has a tracer and the request is sampled, starts its trace ({@link RequestTrace}):
     * the server span now, a client span per upstream attempt. With no tracing provider nothing
     * else happens.
     */
    @Override
    public FilterResult onRequest(RequestContext request) {
        if (request.requestHeaders().get("x-request-id") == null) {
            request.requestHeaders().set("x-request-id", RequestTrace.newRequestId());
        }
        TracingSettings tracing = request.snapshot().has(TracingSettings.PART)
                ? request.snapshot().part(TracingSettings.PART) : TracingSettings.OFF;
        if (tracing.tracer() != null) {
            TelemetryPolicies.Effective t = telemetry(request);
            if (t != null && t.disableSpanReporting()) {
                return FilterResult.CONTINUE;
            }
            RequestTrace trace = t == null ? RequestTrace.start(request, tracing, clusterDomain)
                    : RequestTrace.start(request, tracing, clusterDomain,
                    t.samplingPercent() != null ? t.samplingPercent() : tracing.samplingPercent(), t.customTags());
            if (trace != null) {
                request.set(RequestTrace.KEY, trace);
                request.set(dev.waypoint.model.request.AttemptObserver.KEY, trace);
            }
        }
        return FilterResult.CONTINUE;
    }

    /**
     * The Telemetry API's merged settings for the Service this request called (Istio attaches
     * Telemetry to the called Service, not to the route's backend), or null when no Telemetry
     * applies: then nothing differs from a mesh without the API and nothing is allocated.
     */
    static TelemetryPolicies.Effective telemetry(RequestContext request) {
        if (!request.snapshot().has(TelemetryPolicies.PART)) {
            return null;
        }
        TelemetryPolicies p = request.snapshot().part(TelemetryPolicies.PART);
        if (p.none()) {
            return null;
        }
        return p.of(request.target() instanceof dev.waypoint.model.request.Target.ServiceTarget s ? s.service() : null);
    }

    @Override
    public void onComplete(RequestContext request) {
        RequestTrace trace = request.get(RequestTrace.KEY);
        if (trace != null) {
            trace.end(request, IstioLabels.values(request, clusterDomain, clusterId));
        }
        TelemetryPolicies.Effective t = telemetry(request);
        // the steady state allocates nothing (IstioMetrics caches labels per tunnel and destination)
        if (t == null) {
            metrics.record(request, clusterDomain, clusterId);
        } else if (!t.metricsOff()) {
            metrics.record(request, clusterDomain, clusterId, t.disabledMetrics(), t.tags());
        }
        // the access log of the snapshot the request pinned
        AccessLogSettings logs = request.snapshot().has(AccessLogSettings.PART)
                ? request.snapshot().part(AccessLogSettings.PART) : fallbackLog;
        if (logs.telemetryOnly() && (t == null || !t.logging())) {
            return; // the log is the Telemetry API's (no mesh config file): not asked for here
        }
        if (t != null && t.logging() && t.logDisabled()) {
            return; // a Telemetry turns the log off here
        }
        if ((t == null || !t.logging()) && logs.sink() == null) {
            return; // no log to write to: build no entry (the common path allocates nothing)
        }
        // each provider's own filter decides its line (AccessLogSettings.write)
        logs.write(t, new LogEntries.Http(request, clusterDomain, java.time.Instant.now()), request);
    }
}
