package dev.waypoint.telemetry;

import java.util.HashMap;
import java.util.Map;

/**
 * The W3C {@code baggage} a source ztunnel sends on the CONNECT: its workload's metadata as
 * {@code k8s.cluster.name}, {@code k8s.namespace.name}, {@code k8s.<type>.name} (deployment,
 * daemonset, statefulset, job, cronjob, pod), {@code service.name}, {@code service.version}.
 * Pure.
 */
final class Baggage {
    private static final String[] WORKLOAD_KEYS = {"k8s.deployment.name", "k8s.daemonset.name", "k8s.statefulset.name",
            "k8s.cronjob.name", "k8s.job.name", "k8s.replicaset.name", "k8s.pod.name", "k8s.workload.name"};

    private Baggage() {}

    /** {@code k=v,k=v;props} members; values kept as sent (ztunnel sends no percent-escapes). Empty for null. */
    static Map<String, String> parse(String header) {
        if (header == null || header.isEmpty()) {
            return Map.of();
        }
        Map<String, String> out = new HashMap<>();
        for (String member : header.split(",")) {
            int semi = member.indexOf(';');
            String kv = semi < 0 ? member : member.substring(0, semi);
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            out.putIfAbsent(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        return out;
    }

    /**
     * The baggage a ztunnel sends for a workload (ztunnel {@code baggage.rs}):
     * {@code k8s.cluster.name}, {@code k8s.namespace.name}, {@code k8s.<type>.name},
     * {@code service.name} (canonical service), {@code service.version} (canonical revision).
     */
    static String of(String cluster, String namespace, String workloadType, String workload, String canonicalService,
                     String canonicalRevision) {
        return "k8s.cluster.name=" + cluster + ",k8s.namespace.name=" + namespace + ",k8s." + workloadType + ".name="
                + workload + ",service.name=" + canonicalService + ",service.version=" + canonicalRevision;
    }

    /** The source workload's name from its baggage, or {@code unknown}. */
    static String workloadName(Map<String, String> baggage) {
        for (String k : WORKLOAD_KEYS) {
            String v = baggage.get(k);
            if (v != null && !v.isEmpty()) {
                return v;
            }
        }
        return IstioLabels.UNKNOWN;
    }
}
