package dev.waypoint.telemetry;

import java.util.Map;
import java.util.TreeMap;

/**
 * One metric's label set under a Telemetry's merged {@code tagOverrides}, compiled once per
 * snapshot: Istio's standard labels of the metric ({@link IstioLabels#NAMES} for the HTTP metrics,
 * {@link IstioLabels#TCP_NAMES} for the TCP ones) without the removed ones, with the upserted ones
 * (standard or new) taking a CEL value. As Envoy's stats plugin (istio/proxy {@code istio_stats})
 * builds a metric's tags: {@code REMOVE} drops the label from that metric's series, {@code UPSERT}
 * of a new name adds it to them. Immutable.
 */
final class LabelPlan {
    /** The standard label names the plan starts from (the order of {@code base} in {@link #render}). */
    private final String[] baseNames;
    private final String[] names;
    /** Per label: its index in {@link #baseNames} (value from the standard set), or -1. */
    private final int[] standard;
    /** Per label where {@code standard} is -1: its CEL value. */
    private final TelemetryCel.Expression[] values;

    private LabelPlan(String[] baseNames, String[] names, int[] standard, TelemetryCel.Expression[] values) {
        this.baseNames = baseNames;
        this.names = names;
        this.standard = standard;
        this.values = values;
    }

    /**
     * @param overrides label name → its CEL value, or {@link TelemetryPolicies.Effective#REMOVE};
     *        a removed name Istio's set does not have changes nothing
     */
    static LabelPlan of(Map<String, TelemetryCel.Expression> overrides) {
        return of(overrides, IstioLabels.NAMES);
    }

    /**
     * As {@link #of(Map)}, over the standard label set {@code baseNames} ({@link IstioLabels#TCP_NAMES}
     * for the TCP metrics).
     */
    static LabelPlan of(Map<String, TelemetryCel.Expression> overrides, String[] baseNames) {
        TreeMap<String, Object> out = new TreeMap<>(); // name -> Integer (standard index) or Expression
        for (int i = 0; i < baseNames.length; i++) {
            out.put(baseNames[i], i);
        }
        overrides.forEach((name, e) -> {
            if (e == TelemetryPolicies.Effective.REMOVE) {
                out.remove(name);
            } else {
                out.put(name, e);
            }
        });
        String[] names = out.keySet().toArray(String[]::new);
        int[] standard = new int[names.length];
        TelemetryCel.Expression[] values = new TelemetryCel.Expression[names.length];
        for (int i = 0; i < names.length; i++) {
            Object v = out.get(names[i]);
            standard[i] = v instanceof Integer index ? index : -1;
            values[i] = v instanceof TelemetryCel.Expression e ? e : null;
        }
        return new LabelPlan(baseNames, names, standard, values);
    }

    /** Whether this is Istio's standard label set with its standard values (overrides that change nothing). */
    boolean isStandard() {
        if (names.length != baseNames.length) {
            return false;
        }
        for (int index : standard) {
            if (index < 0) {
                return false;
            }
        }
        return true;
    }

    /** The label names, sorted. */
    String[] names() {
        return names.clone();
    }

    /**
     * The label values of one request: standard ones from {@code base} (in the order of the plan's
     * standard names, {@link IstioLabels#NAMES} for the HTTP metrics), the others evaluated against
     * {@code attributes} (a value that fails to evaluate, or null, is {@code unknown}, as Envoy
     * writes it).
     *
     * @param attributes the request's CEL attributes; built on first need when null
     */
    String render(String[] base, Attributes attributes) {
        String[] v = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            if (standard[i] >= 0) {
                v[i] = base[standard[i]];
                continue;
            }
            try {
                Object x = values[i].eval(attributes.get());
                v[i] = x == null ? IstioLabels.UNKNOWN : String.valueOf(x);
            } catch (dev.cel.runtime.CelEvaluationException e) {
                v[i] = IstioLabels.UNKNOWN; // a missing header, say
            }
        }
        return PrometheusText.sortedLabels(names, v);
    }

    /**
     * The CEL values of this plan's non-standard labels for one connection, evaluated once (a TCP
     * tunnel's at its open): per label, its value where {@code standard} is -1 (a value that fails
     * to evaluate, or null, is {@code unknown}), null for the standard ones. Handed to
     * {@link #render(String[], String[])} for every report of that tunnel.
     */
    String[] evaluate(Map<String, Object> attributes) {
        String[] v = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            if (standard[i] >= 0) {
                continue;
            }
            try {
                Object x = values[i].eval(attributes);
                boolean none = x == null || x instanceof dev.cel.runtime.CelUnknownSet; // an unbound attribute
                v[i] = none ? IstioLabels.UNKNOWN : String.valueOf(x);
            } catch (dev.cel.runtime.CelEvaluationException e) {
                v[i] = IstioLabels.UNKNOWN; // request.* on a TCP tunnel, say
            }
        }
        return v;
    }

    /**
     * The label block of values evaluated by {@link #evaluate} with the standard ones from
     * {@code base} (in the order of the plan's standard names).
     */
    String render(String[] base, String[] evaluated) {
        String[] v = new String[names.length];
        for (int i = 0; i < names.length; i++) {
            v[i] = standard[i] >= 0 ? base[standard[i]] : evaluated[i];
        }
        return PrometheusText.sortedLabels(names, v);
    }

    /** A request's CEL attributes, built once when an expression first needs them. */
    interface Attributes {
        Map<String, Object> get();
    }

    @Override
    public String toString() {
        return String.join(",", names);
    }
}
