package dev.waypoint.lb;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The compiled traffic policy of one Service port: what a DestinationRule says, merged with its
 * {@code portLevelSettings} for that port.
 *
 * @param rule the DestinationRule it comes from
 * @param balancer the algorithm, or null when the rule sets none (the waypoint's default, LEAST_REQUEST)
 * @param outlier outlier detection, or null (none: Istio's default)
 */
record LbPolicy(NamespacedName rule, Balancer balancer, OutlierDetectionSpec outlier) {
    Map<String, Object> debug() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("destinationRule", rule.toString());
        m.put("loadBalancer", balancer == null ? "default (LEAST_REQUEST)" : balancer.describe());
        if (outlier != null) {
            m.put("outlierDetection", Map.of("consecutive5xxErrors", outlier.consecutive5xxErrors(),
                    "consecutiveGatewayErrors", outlier.consecutiveGatewayErrors(),
                    "interval", outlier.interval().toString(), "baseEjectionTime", outlier.baseEjectionTime().toString(),
                    "maxEjectionPercent", outlier.maxEjectionPercent(), "minHealthPercent", outlier.minHealthPercent()));
        }
        return m;
    }
}
