package dev.waypoint.server;

import dev.waypoint.authn.JwksCache;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.kube.KubeSettings;
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
 * @param accessLog where access-log lines go ({@code -} for standard output), or null for none
 * @param jwks fetching and refreshing RequestAuthentication {@code jwksUri} keys
 * @param authz root namespace, path normalization, trust-domain aliases, debug headers
 * @param meshConfig Istio's MeshConfig YAML file ({@code --mesh-config}), watched; null to read the
 *        {@code mesh} key of the root namespace's {@code istio} ConfigMap from the manifests, if any
 * @param kube read config from the Kubernetes API instead of {@code configDir} (null: the directory)
 */
public record WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                               ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                               InetSocketAddress stats, InetSocketAddress admin, int workerThreads, String accessLog,
                               JwksCache.Settings jwks, AuthzSettings authz, Path meshConfig, KubeSettings kube) {
    /** Config from the manifest directory, no {@code --mesh-config} file. */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads, String accessLog,
                            JwksCache.Settings jwks, AuthzSettings authz) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads, accessLog,
                jwks, authz, null, null);
    }

    /** These settings with {@code meshConfig} as the {@code --mesh-config} file. */
    public WaypointSettings withMeshConfig(Path meshConfig) {
        return new WaypointSettings(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin,
                workerThreads, accessLog, jwks, authz, meshConfig, kube);
    }

    /** No access log, the default JWKS and authorization settings. */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads, null,
                JwksCache.Settings.defaults(), AuthzSettings.defaults());
    }

    /** No access log, the default JWKS settings, these authorization settings. */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads, AuthzSettings authz) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads, null,
                JwksCache.Settings.defaults(), authz);
    }

    public WaypointSettings {
        Objects.requireNonNull(jwks, "jwks");
        Objects.requireNonNull(authz, "authz");
        if (kube == null) {
            Objects.requireNonNull(configDir, "configDir");
        }
        Objects.requireNonNull(certDir, "certDir");
        Objects.requireNonNull(gateway, "gateway");
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(upstream, "upstream");
    }
}
