package dev.waypoint.server;

import dev.waypoint.authn.JwksCache;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.kube.KubeSettings;
import dev.waypoint.ca.CaSettings;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
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
 * @param dnsServers DNS servers for ServiceEntries with {@code resolution: DNS}, in order; empty
 *        for the system's ({@code /etc/resolv.conf})
 * @param ca where to get certificates from Istio's CA; null when they are mounted in {@code certDir}
 * @param kube read config from the Kubernetes API instead of {@code configDir} (null: the directory)
 * @param clusterId this cluster's name ({@code --cluster-id}, Istio's {@code ISTIO_META_CLUSTER_ID}):
 *        {@code source_cluster}/{@code destination_cluster} of the telemetry, the CONNECT answer's
 *        {@code baggage}, the wasm node metadata's {@code CLUSTER_ID}; {@value #DEFAULT_CLUSTER_ID}
 *        (Istio's default) in the shorter constructors
 */
public record WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                               ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                               InetSocketAddress stats, InetSocketAddress admin, int workerThreads, String accessLog,
                               JwksCache.Settings jwks, AuthzSettings authz, Path meshConfig,
                               List<InetSocketAddress> dnsServers, CaSettings ca, KubeSettings kube,
                               String clusterId) {
    /** Istio's cluster id when none is configured. */
    public static final String DEFAULT_CLUSTER_ID = "Kubernetes";

    /** As the canonical constructor, in cluster {@value #DEFAULT_CLUSTER_ID}. */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads, String accessLog,
                            JwksCache.Settings jwks, AuthzSettings authz, Path meshConfig,
                            List<InetSocketAddress> dnsServers, CaSettings ca, KubeSettings kube) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads, accessLog,
                jwks, authz, meshConfig, dnsServers, ca, kube, DEFAULT_CLUSTER_ID);
    }

    /** As the canonical constructor, config from the manifest directory ({@code kube} null). */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads, String accessLog,
                            JwksCache.Settings jwks, AuthzSettings authz, Path meshConfig,
                            List<InetSocketAddress> dnsServers, CaSettings ca) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads, accessLog,
                jwks, authz, meshConfig, dnsServers, ca, null);
    }

    /**
     * Certificates from {@code certDir} (no CA client), no {@code --mesh-config} file, the system's
     * DNS servers for ServiceEntries.
     */
    public WaypointSettings(Path configDir, Path certDir, NamespacedName gateway, String trustDomain,
                            ListenerSettings listener, UpstreamSettings upstream, InetSocketAddress health,
                            InetSocketAddress stats, InetSocketAddress admin, int workerThreads, String accessLog,
                            JwksCache.Settings jwks, AuthzSettings authz) {
        this(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin, workerThreads, accessLog,
                jwks, authz, null, List.of(), null, null);
    }

    /** These settings with {@code meshConfig} as the {@code --mesh-config} file. */
    public WaypointSettings withMeshConfig(Path meshConfig) {
        return new WaypointSettings(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin,
                workerThreads, accessLog, jwks, authz, meshConfig, dnsServers, ca, kube, clusterId);
    }

    /** These settings in cluster {@code clusterId} ({@code --cluster-id}). */
    public WaypointSettings withClusterId(String clusterId) {
        return new WaypointSettings(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin,
                workerThreads, accessLog, jwks, authz, meshConfig, dnsServers, ca, kube, clusterId);
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
        if ((certDir == null) == (ca == null)) {
            throw new IllegalArgumentException("certDir: " + certDir + ", ca: " + ca
                    + " (expected: exactly one source of certificates)");
        }
        Objects.requireNonNull(gateway, "gateway");
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(upstream, "upstream");
        Objects.requireNonNull(clusterId, "clusterId");
        if (clusterId.isBlank()) {
            throw new IllegalArgumentException("clusterId: \"" + clusterId + "\" (expected: a cluster name, e.g. "
                    + DEFAULT_CLUSTER_ID + ")");
        }
        dnsServers = List.copyOf(dnsServers);
    }

    /** A copy with these DNS servers for ServiceEntries. */
    public WaypointSettings withDnsServers(List<InetSocketAddress> servers) {
        return new WaypointSettings(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin,
                workerThreads, accessLog, jwks, authz, meshConfig, servers, ca, kube, clusterId);
    }

    /** A copy whose certificates come from Istio's CA ({@code ca}), or from {@code certDir} when null. */
    public WaypointSettings withCa(Path certDir, CaSettings ca) {
        return new WaypointSettings(configDir, certDir, gateway, trustDomain, listener, upstream, health, stats, admin,
                workerThreads, accessLog, jwks, authz, meshConfig, dnsServers, ca, kube, clusterId);
    }
}
