package dev.waypoint.lb;

import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The compiled traffic policy of one Service port: what a DestinationRule says, merged with its
 * {@code portLevelSettings} for that port.
 *
 * @param rule the DestinationRule it comes from, or null (no rule: only the MeshConfig's
 *        {@code localityLbSetting} applies)
 * @param balancer the algorithm, or null when the rule sets none (the waypoint's default, LEAST_REQUEST)
 * @param outlier outlier detection, or null (none: Istio's default)
 * @param pool the connectionPool limits, or null (none: Istio's default, effectively unlimited)
 * @param tls TLS origination to endpoints outside the mesh, or null (plaintext)
 * @param locality {@code localityLbSetting} as applied, or null (none, disabled, or failover
 *        without outlier detection)
 */
record LbPolicy(NamespacedName rule, Balancer balancer, OutlierDetectionSpec outlier,
                TrafficPolicySpec.ConnectionPoolSpec pool, UpstreamTls tls, LocalityLb locality) {
    /** Without locality load balancing. */
    LbPolicy(NamespacedName rule, Balancer balancer, OutlierDetectionSpec outlier,
             TrafficPolicySpec.ConnectionPoolSpec pool, UpstreamTls tls) {
        this(rule, balancer, outlier, pool, tls, null);
    }

    /**
     * Requests in flight to the Service port at most, or 0 (no limit). HTTP/2 upstreams:
     * {@code http2MaxRequests}. HTTP/1.1: {@code maxConnections + http1MaxPendingRequests} when both
     * are written — Envoy lets {@code maxConnections} requests run and queues
     * {@code http1MaxPendingRequests} more; this waypoint does not queue (each admitted request gets
     * a connection at once), so it admits the same number and answers the rest 503 UO.
     */
    int maxRequests(boolean h2) {
        if (pool == null) {
            return 0;
        }
        if (h2) {
            return pool.http2MaxRequests();
        }
        return pool.maxConnections() > 0 && pool.http1MaxPendingRequests() > 0
                ? pool.maxConnections() + pool.http1MaxPendingRequests() : 0;
    }

    /**
     * {@link #debug()} with the connection settings in force under {@code mesh}: the effective
     * {@code connectTimeout} and {@code tcpKeepalive} of plaintext connections, and where each comes from.
     */
    Map<String, Object> debug(MeshConfigSpec mesh) {
        Map<String, Object> m = debug();
        m.put("connectTimeout", connectTimeout(mesh, pool));
        m.put("tcpKeepalive", keepalive(mesh, pool));
        return m;
    }

    /** The connect timeout in force and its source: the rule's, the MeshConfig's, or Istio's default. */
    static String connectTimeout(MeshConfigSpec mesh, TrafficPolicySpec.ConnectionPoolSpec pool) {
        if (pool != null && pool.connectTimeout() != null) {
            return pool.connectTimeout() + " (DestinationRule; HBONE connections: " + mesh.effectiveConnectTimeout() + ")";
        }
        return mesh.effectiveConnectTimeout() + (mesh.connectTimeout() != null ? " (MeshConfig)" : " (Istio's default)");
    }

    /** The TCP keepalive in force (the rule's written over the mesh's, field by field) and its source. */
    static String keepalive(MeshConfigSpec mesh, TrafficPolicySpec.ConnectionPoolSpec pool) {
        TrafficPolicySpec.TcpKeepaliveSpec rule = pool == null ? null : pool.tcpKeepalive();
        TrafficPolicySpec.TcpKeepaliveSpec k = ConnectionOptions.keepalive(mesh.tcpKeepalive(), rule);
        if (k == null) {
            return "off";
        }
        String from = rule == null ? "MeshConfig" : mesh.tcpKeepalive() == null ? "DestinationRule"
                : "DestinationRule over MeshConfig";
        return "probes=" + (k.probes() > 0 ? k.probes() : "system") + " time=" + (k.time() != null ? k.time() : "system")
                + " interval=" + (k.interval() != null ? k.interval() : "system") + " (" + from + ")";
    }

    Map<String, Object> debug() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("destinationRule", rule == null ? "none" : rule.toString());
        m.put("loadBalancer", balancer == null ? "default (LEAST_REQUEST)" : balancer.describe());
        if (outlier != null) {
            m.put("outlierDetection", Map.of("consecutive5xxErrors", outlier.consecutive5xxErrors(),
                    "consecutiveGatewayErrors", outlier.consecutiveGatewayErrors(),
                    "interval", outlier.interval().toString(), "baseEjectionTime", outlier.baseEjectionTime().toString(),
                    "maxEjectionPercent", outlier.maxEjectionPercent(), "minHealthPercent", outlier.minHealthPercent()));
        }
        if (pool != null) {
            Map<String, Object> cp = new LinkedHashMap<>();
            cp.put("maxConnections", pool.maxConnections());
            cp.put("http1MaxPendingRequests", pool.http1MaxPendingRequests());
            cp.put("http2MaxRequests", pool.http2MaxRequests());
            cp.put("maxRequestsPerConnection", pool.maxRequestsPerConnection());
            cp.put("maxRetries", pool.maxRetries());
            if (pool.idleTimeout() != null) {
                cp.put("idleTimeout", pool.idleTimeout().toString());
            }
            if (pool.connectTimeout() != null) {
                cp.put("connectTimeout", pool.connectTimeout().toString());
            }
            if (pool.tcpKeepalive() != null) {
                cp.put("tcpKeepalive", String.valueOf(pool.tcpKeepalive()));
            }
            if (pool.tcpIdleTimeout() != null) {
                cp.put("tcpIdleTimeout", pool.tcpIdleTimeout().toString());
            }
            if (pool.maxConnectionDuration() != null) {
                cp.put("maxConnectionDuration", pool.maxConnectionDuration().toString());
            }
            if (pool.h2Upgrade() != dev.waypoint.model.traffic.TrafficPolicySpec.H2Upgrade.DEFAULT) {
                cp.put("h2UpgradePolicy", pool.h2Upgrade().name());
            }
            if (pool.useClientProtocol()) {
                cp.put("useClientProtocol", true);
            }
            if (pool.maxConcurrentStreams() > 0) {
                cp.put("maxConcurrentStreams", pool.maxConcurrentStreams());
            }
            if (pool.http2KeepAlive() != null) {
                cp.put("http2KeepAlive", Map.of("interval", pool.http2KeepAlive().interval().toString(),
                        "timeout", pool.http2KeepAlive().timeout().toString()));
            }
            m.put("connectionPool", cp);
        }
        if (tls != null) {
            m.put("tls", tls.toString());
        }
        if (locality != null) {
            m.put("localityLbSetting", locality.describe());
        }
        return m;
    }
}
