package dev.waypoint.server;

import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.listener.HboneListener;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.ResourceSet;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.time.Instant;

/**
 * The proxy's own health on {@code /stats/prometheus}, under {@code waypoint_} (beside Istio's
 * {@code istio_} series): tunnels, the last config reload, what the config in force holds,
 * the certificate's expiry, JVM and Netty memory, and the telemetry label sets in use. Gauges
 * read when scraped, on the admin event loop; nothing is recorded on the data path.
 */
final class ProxyHealth {
    private ProxyHealth() {}

    static void append(StringBuilder b, ConfigSnapshot snap, SnapshotPublisher publisher, HboneListener listener,
                       Instant certNotAfter, int telemetrySeries) {
        gauge(b, "waypoint_tunnels", "Open inbound tunnels (accepted CONNECT streams).",
                listener == null ? 0 : listener.tunnelCount());
        if (publisher != null) {
            gauge(b, "waypoint_config_last_reload_success", "1 if the latest config reload was published, 0 if it was "
                    + "rejected (the previous generation keeps serving).", publisher.lastReloadSucceeded() ? 1 : 0);
            gauge(b, "waypoint_config_last_reload_timestamp_seconds", "When the latest config reload ended (0: none yet).",
                    publisher.lastReloadMillis() / 1000);
            gauge(b, "waypoint_config_files_on_last_good", "Manifest files that do not parse now and serve their objects "
                    + "from the last generation in which they did (reloads still count as succeeded).",
                    publisher.filesOnLastGood());
        }
        if (snap != null) {
            ResourceSet r = snap.resources();
            gauge(b, "waypoint_config_services", "Services in the config in force.", r.services().size());
            gauge(b, "waypoint_config_pods", "Pods in the config in force.", r.pods().size());
            gauge(b, "waypoint_config_http_routes", "HTTPRoutes in the config in force.", r.httpRoutes().size());
            gauge(b, "waypoint_config_authorization_policies", "AuthorizationPolicies in the config in force.",
                    r.authorizationPolicies().size());
            gauge(b, "waypoint_config_request_authentications", "RequestAuthentications in the config in force.",
                    r.requestAuthentications().size());
        }
        if (certNotAfter != null) {
            gauge(b, "waypoint_certificate_expiry_timestamp_seconds", "When the waypoint's workload certificate expires.",
                    certNotAfter.getEpochSecond());
        }
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        gauge(b, "waypoint_jvm_heap_used_bytes", "JVM heap in use.", heap.getUsed());
        gauge(b, "waypoint_jvm_heap_max_bytes", "JVM heap limit (-1: none).", heap.getMax());
        gauge(b, "waypoint_netty_direct_memory_used_bytes", "Direct memory Netty has reserved (-1: not tracked).",
                PlatformDependent.usedDirectMemory());
        gauge(b, "waypoint_netty_pooled_direct_used_bytes", "Direct memory held by Netty's pooled allocator.",
                PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory());
        gauge(b, "waypoint_telemetry_series", "Istio metric label sets recorded (the cap is 10000).", telemetrySeries);
    }

    private static void gauge(StringBuilder b, String name, String help, long value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(value).append('\n');
    }
}
