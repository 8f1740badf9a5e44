package dev.waypoint.telemetry;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The Telemetry API in force for one snapshot: the merged settings for each Service the waypoint
 * serves, and for Pod-addressed calls ({@link TelemetryPolicyCompiler}). Immutable.
 * {@link #NONE} (no Telemetry applies anywhere) keeps the data path as it is without the API.
 */
public final class TelemetryPolicies {
    /** The snapshot part. */
    public static final SnapshotPart<TelemetryPolicies> PART = SnapshotPart.of("telemetryApi", TelemetryPolicies.class);

    /** No Telemetry applies. */
    static final TelemetryPolicies NONE = new TelemetryPolicies(Map.of(), null);

    /**
     * The merged settings for one destination.
     *
     * @param disabledMetrics metrics not recorded
     * @param samplingPercent {@code randomSamplingPercentage}, or null for the mesh default
     * @param disableSpanReporting no spans are reported (context is still propagated)
     * @param customTags span tags, by name (null: none)
     * @param logging true when the Telemetry API decides the access log (else the mesh config does)
     * @param logDisabled the access log is off for this destination
     * @param logFilters each provider's own {@code filter} (Istio's {@code mergeLogs} keeps one per
     *        provider): a provider's line is written only for requests its filter is true for;
     *        providers without a filter are not in the map
     * @param tags {@code tagOverrides} by HTTP metric, compiled into that metric's label set
     *        ({@link LabelPlan}: Istio's labels minus the removed ones, plus the added ones); empty
     *        when none (then recording takes the allocation-free path)
     * @param logProviders when {@code logging}: the access-log providers in scope that are not
     *        disabled, in merge order ({@code envoy}: the mesh config's log; others: an
     *        {@code envoyFileAccessLog} provider's own file)
     * @param tcpReportingInterval {@code metrics[].reportingInterval} (Istio's {@code tcp_reporting_duration}:
     *        how often an open TCP tunnel reports its bytes), or null for the default
     * @param tcpTags {@code tagOverrides} by TCP metric ({@code TCP_*}), each compiled over Istio's TCP
     *        label set ({@link IstioLabels#TCP_NAMES}); their CEL values are evaluated once per
     *        tunnel, at its open; empty when none (then a tunnel is recorded as without the API)
     */
    record Effective(Set<Metric> disabledMetrics, Double samplingPercent, boolean disableSpanReporting,
                     Map<String, dev.waypoint.model.telemetry.TelemetrySpec.CustomTag> customTags, boolean logging,
                     boolean logDisabled, Map<String, TelemetryCel.Expression> logFilters, String debug,
                     Map<Metric, LabelPlan> tags, java.util.List<String> logProviders,
                     java.time.Duration tcpReportingInterval, Map<Metric, LabelPlan> tcpTags) {
        /** A {@code REMOVE} tag override, while merging: the label is dropped from the metric's series. */
        static final TelemetryCel.Expression REMOVE = new TelemetryCel.Expression("REMOVE", null);

        Effective {
            tags = Map.copyOf(tags);
            tcpTags = Map.copyOf(tcpTags);
            logFilters = Map.copyOf(logFilters);
            logProviders = java.util.List.copyOf(logProviders);
            disabledMetrics = disabledMetrics.isEmpty() ? Set.of() : EnumSet.copyOf(disabledMetrics);
            customTags = customTags == null || customTags.isEmpty() ? null : Map.copyOf(customTags);
        }

        /** Provider {@code name}'s filter, or null when it logs every request. */
        TelemetryCel.Expression logFilter(String name) {
            return logFilters.isEmpty() ? null : logFilters.get(name);
        }

        boolean metricsOff() {
            return disabledMetrics.contains(Metric.REQUEST_COUNT) && disabledMetrics.contains(Metric.REQUEST_DURATION)
                    && disabledMetrics.contains(Metric.REQUEST_SIZE) && disabledMetrics.contains(Metric.RESPONSE_SIZE);
        }
    }

    private final Map<NamespacedName, Effective> byService;
    private final Effective pods;

    TelemetryPolicies(Map<NamespacedName, Effective> byService, Effective pods) {
        this.byService = Map.copyOf(byService);
        this.pods = pods;
    }

    /** Whether any Telemetry applies to anything. */
    boolean none() {
        return byService.isEmpty() && pods == null;
    }

    /** The settings for calls of {@code service} (null: a Pod-addressed call), or null when no Telemetry applies. */
    Effective of(ServiceSpec service) {
        return service == null ? pods : byService.get(service.name());
    }

    /** For the config dump: one line per destination with Telemetry settings. */
    public String debug() {
        if (none()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        new java.util.TreeMap<>(byService.entrySet().stream().collect(java.util.stream.Collectors.toMap(
                e -> e.getKey().toString(), e -> e.getValue().debug()))).forEach((k, v) -> sb.append(k).append(": ")
                .append(v).append('\n'));
        if (pods != null) {
            sb.append("(pods): ").append(pods.debug()).append('\n');
        }
        return sb.toString();
    }
}
