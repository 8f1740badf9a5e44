package dev.waypoint.server;

import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Process settings (ports, identity, directories, threads): not mesh config, which comes from the
 * manifests.
 *
 * @param health readiness endpoint ({@code /healthz/ready}); null to disable
 * @param stats Prometheus endpoint ({@code /stats/prometheus}); null to disable
 * @param admin admin endpoint ({@code /config_dump}); null to disable
 * @param workerThreads event loops for the data path (0: one per core)
 * @param authz root namespace, path normalization, debug headers
 */
public record WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                               ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                               InetSocketAddress stats, InetSocketAddress admin, int workerThreads,
                               AuthzSettings authz) {
    public WaypointSettings {
        Objects.requireNonNull(authz, "authz");
        Objects.requireNonNull(configDir, "configDir");
        Objects.requireNonNull(certDir, "certDir");
        Objects.requireNonNull(gateway, "gateway");
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(upstream, "upstream");
    }

    /** With Istio's policy defaults ({@link AuthzSettings#defaults()}). */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads,
                AuthzSettings.defaults());
    }
}
