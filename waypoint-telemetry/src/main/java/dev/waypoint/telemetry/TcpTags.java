package dev.waypoint.telemetry;

import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import dev.waypoint.telemetry.SeriesRegistry.Series;
import java.util.Map;

/**
 * One TCP tunnel's {@code tagOverrides}, evaluated once, when it opens: per TCP metric the
 * {@link LabelPlan} in force for the tunnel's Service then and the values of its CEL labels
 * against the tunnel's attributes ({@link TelemetryCel#tcpActivation}). Its periodic reports and
 * its close render their labels from this result, so an expression runs once per tunnel, not per
 * report, and the tunnel's series keep their added labels for its whole life (as Envoy fixes a
 * connection's filter config when it is accepted). Only made when a Telemetry has overrides on a
 * {@code TCP_*} metric for the tunnel's Service: without one a tunnel is recorded as before.
 *
 * <h2>Threading</h2>
 * Confined to the tunnel's event loop, as its {@link TcpOutcome} is (the open, the periodic
 * reports and the close run there).
 */
final class TcpTags {
    /** The TCP metrics by index: the arrays below. */
    static final int OPENED = 0;
    static final int CLOSED = 1;
    static final int SENT = 2;
    static final int RECEIVED = 3;

    /** Per metric: its plan, or null for Istio's standard TCP labels. */
    private final LabelPlan[] plans = new LabelPlan[4];
    /** Per metric with a plan: the evaluated values ({@link LabelPlan#evaluate}); shared by metrics of one plan. */
    private final String[][] values = new String[4][];
    /** The standard labels the cached series were rendered for (the array the tunnel opened with, by identity). */
    private String[] base;
    private final Series[] cached = new Series[4];

    private TcpTags() {}

    /** The tunnel's tags under {@code plans} (TCP metric → plan), evaluated now; null when {@code plans} is empty. */
    static TcpTags of(Map<Metric, LabelPlan> plans, TunnelContext tunnel, TcpOutcome outcome) {
        if (plans.isEmpty()) {
            return null;
        }
        TcpTags t = new TcpTags();
        Map<String, Object> attributes = TelemetryCel.tcpActivation(tunnel, outcome);
        plans.forEach((m, plan) -> {
            int i = index(m);
            if (i < 0) {
                return;
            }
            t.plans[i] = plan;
            for (int j = 0; j < 4; j++) {
                if (t.plans[j] == plan && t.values[j] != null) {
                    t.values[i] = t.values[j]; // one plan, evaluated once
                    return;
                }
            }
            t.values[i] = plan.evaluate(attributes);
        });
        return t;
    }

    private static int index(Metric m) {
        return switch (m) {
            case TCP_OPENED_CONNECTIONS -> OPENED;
            case TCP_CLOSED_CONNECTIONS -> CLOSED;
            case TCP_SENT_BYTES -> SENT;
            case TCP_RECEIVED_BYTES -> RECEIVED;
            default -> -1;
        };
    }

    /** Whether metric {@code index} has a plan (else it records into the standard TCP series). */
    boolean tagged(int index) {
        return plans[index] != null;
    }

    /**
     * The series of metric {@code index} (which {@link #tagged}) for the standard TCP labels
     * {@code base}: rendered once per distinct plan and labels array (a tunnel's periodic reports
     * pass the array it opened with), found or created through {@code metrics}; null when the
     * label-set cap is reached.
     */
    Series series(int index, String[] base, IstioMetrics metrics) {
        if (base != this.base) {
            this.base = base;
            java.util.Arrays.fill(cached, null);
        }
        Series s = cached[index];
        if (s != null) {
            return s;
        }
        for (int j = 0; j < 4; j++) {
            if (j != index && plans[j] == plans[index] && cached[j] != null) {
                return cached[index] = cached[j];
            }
        }
        s = metrics.series(plans[index].render(base, values[index]));
        cached[index] = s;
        return s;
    }
}
