package dev.waypoint.lb;

import dev.waypoint.model.mesh.PodSpec;

/**
 * A locality {@code region/zone/subzone} (any part may be empty), as Istio and Envoy name one.
 * An endpoint's comes from its pod's labels {@code topology.kubernetes.io/region},
 * {@code topology.kubernetes.io/zone} and {@code topology.istio.io/subzone}.
 */
public record Locality(String region, String zone, String subzone) {
    public static final String REGION_LABEL = "topology.kubernetes.io/region";
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
    public static final String SUBZONE_LABEL = "topology.istio.io/subzone";
    /** No locality known. */
    public static final Locality NONE = new Locality("", "", "");

    public Locality {
        region = region == null ? "" : region;
        zone = zone == null ? "" : zone;
        subzone = subzone == null ? "" : subzone;
    }

    /**
     * {@code REGION[/ZONE[/SUBZONE]]} (the {@code --locality} flag); empty or null is {@link #NONE}.
     *
     * @throws IllegalArgumentException with more than three parts
     */
    public static Locality parse(String s) {
        if (s == null || s.isEmpty()) {
            return NONE;
        }
        String[] p = s.split("/", -1);
        if (p.length > 3) {
            throw new IllegalArgumentException("locality: " + s + " (expected: REGION[/ZONE[/SUBZONE]])");
        }
        return new Locality(p[0], p.length > 1 ? p[1] : "", p.length > 2 ? p[2] : "");
    }

    /**
     * A proxy's locality from its pod labels, as Istio finds it: {@code topology.istio.io/locality}
     * or the legacy {@code istio-locality} ({@code region.zone.subzone}, dots for slashes;
     * {@code GetLocalityLabel} / {@code SanitizeLocalityLabel}), else the topology labels
     * ({@code localityFromProxyLabels}).
     */
    public static Locality fromLabels(java.util.Map<String, String> labels) {
        String l = labels.get("topology.istio.io/locality");
        if (l == null) {
            l = labels.get("istio-locality");
        }
        if (l != null && !l.isEmpty()) {
            return parse(l.contains("/") ? l : l.replace('.', '/'));
        }
        return new Locality(labels.get(REGION_LABEL), labels.get(ZONE_LABEL), labels.get(SUBZONE_LABEL));
    }

    /** The locality of an endpoint's pod ({@link #NONE} without a pod). */
    static Locality of(PodSpec pod) {
        if (pod == null) {
            return NONE;
        }
        return new Locality(pod.labels().get(REGION_LABEL), pod.labels().get(ZONE_LABEL), pod.labels().get(SUBZONE_LABEL));
    }

    /**
     * Whether this locality is matched by {@code pattern} ({@code region/zone/subzone}, a part
     * {@code *} or a missing trailing part matching anything: {@code us-west/*}, {@code us-west}).
     */
    boolean matches(String pattern) {
        String[] p = pattern.split("/", -1);
        return part(p, 0, region) && part(p, 1, zone) && part(p, 2, subzone);
    }

    private static boolean part(String[] p, int i, String value) {
        return i >= p.length || p[i].equals("*") || p[i].equals(value);
    }

    @Override
    public String toString() {
        return region + "/" + zone + "/" + subzone;
    }
}
