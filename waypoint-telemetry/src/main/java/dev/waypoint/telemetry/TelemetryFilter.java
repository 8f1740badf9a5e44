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
    private final AccessLog accessLog;
    private final String trustDomain;
    private final String clusterDomain;
    private final String clusterId;
    private final BaggageCache baggage = new BaggageCache();
    private final PodLabels.Cache pods;

    /**
     * @param accessLog where lines go, or null for no access log
     * @param clusterId this cluster's id for {@code destination_cluster} (Istio's default: {@code Kubernetes})
     */
    public TelemetryFilter(IstioMetrics metrics, AccessLog accessLog, String trustDomain, String clusterDomain,
                           String clusterId) {
        this.metrics = metrics;
        this.accessLog = accessLog;
        this.trustDomain = trustDomain;
        this.clusterDomain = clusterDomain;
        this.clusterId = clusterId;
        this.pods = new PodLabels.Cache(trustDomain);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        return FilterResult.CONTINUE;
    }

    @Override
    public void onComplete(RequestContext request) {
        dev.waypoint.model.mesh.PodSpec pod = request.outcome().endpointPod();
        String[] labels = IstioLabels.values(request, baggage.parse(request.tunnel().baggage()),
                pod == null ? null : request.snapshot() == null ? PodLabels.of(pod, trustDomain)
                        : pods.of(pod, request.snapshot().resources()), clusterDomain, clusterId);
        metrics.record(labels, Math.max(0, request.outcome().durationNanos()) / 1e6, request.outcome().requestBytes(),
                request.outcome().responseBytes());
        if (accessLog != null) {
            accessLog.log(request, clusterDomain);
        }
    }
}
