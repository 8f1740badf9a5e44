package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.TcpKeepaliveSpec;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Istio's MeshConfig, as written under the {@code mesh} key of the {@code istio} ConfigMap (or in
 * the {@code --mesh-config} file): the fields this waypoint reads, validated. Fields not listed
 * here are ignored, as Istio itself falls back to ignoring unknown fields.
 *
 * <p>Fields that have no value in the YAML are null (or empty) where the consumer must be able to
 * tell "not set" from a value: for example {@code trustDomain} null means the {@code --trust-domain}
 * flag applies.
 *
 * @param source where it was read from ({@link SourceRef#NONE} for the defaults)
 * @param trustDomain {@code trustDomain}, or null when not set
 * @param trustDomainAliases {@code trustDomainAliases}, as written
 * @param rootNamespace {@code rootNamespace}, or null when not set
 * @param extensionProviders {@code extensionProviders}, in order; names are unique
 * @param defaultProviders {@code defaultProviders}
 * @param defaultHttpRetryPolicy {@code defaultHttpRetryPolicy}, or null when not set
 * @param accessLogFile {@code accessLogFile}, or null when not set (no access log)
 * @param accessLogEncoding {@code accessLogEncoding} (TEXT by default)
 * @param accessLogFormat {@code accessLogFormat}, or null for Istio's default format
 * @param enableTracing {@code enableTracing}, or null when not set (Istio's default: true)
 * @param tracingSampling {@code defaultConfig.tracing.sampling} in percent (0-100), or null when not set
 * @param numTrustedProxies {@code defaultConfig.gatewayTopology.numTrustedProxies}, or null when not set
 * @param pathNormalization {@code pathNormalization.normalization}, or null when not set
 * @param connectTimeout {@code connectTimeout}: the connect timeout of every upstream unless a
 *        DestinationRule sets {@code connectionPool.tcp.connectTimeout}; null when not set (Istio's
 *        default, 10 s: {@link #ISTIO_CONNECT_TIMEOUT})
 * @param tcpKeepalive {@code tcpKeepalive}: SO_KEEPALIVE on upstream sockets, a DestinationRule's
 *        {@code connectionPool.tcp.tcpKeepalive} written over it field by field; null when not set
 * @param localityLbSetting {@code localityLbSetting}, applied where a DestinationRule has none; null
 *        when not set (Istio's default: {@link #ISTIO_LOCALITY_LB}, enabled)
 * @param h2Upgrade {@code h2UpgradePolicy: UPGRADE}: HTTP/1.1 requests to ports declaring HTTP go
 *        upstream as h2c unless a DestinationRule's {@code connectionPool.http} says otherwise;
 *        false for {@code DO_NOT_UPGRADE} and when not set (Istio's default)
 */
public record MeshConfigSpec(SourceRef source, String trustDomain, List<String> trustDomainAliases,
                             String rootNamespace, List<ExtensionProviderSpec> extensionProviders,
                             DefaultProviders defaultProviders, HttpRetry defaultHttpRetryPolicy,
                             String accessLogFile, AccessLogEncoding accessLogEncoding, String accessLogFormat,
                             Boolean enableTracing, Double tracingSampling, Integer numTrustedProxies,
                             PathNormalization pathNormalization, Duration connectTimeout,
                             TcpKeepaliveSpec tcpKeepalive, LocalityLbSpec localityLbSetting, boolean h2Upgrade) {
    /** No mesh config at all: every field unset. */
    public static final MeshConfigSpec DEFAULT = new MeshConfigSpec(SourceRef.NONE, null, List.of(), null, List.of(),
            DefaultProviders.NONE, null, null, AccessLogEncoding.TEXT, null, null, null, null, null, null, null, null, false);

    /** Istio's {@code connectTimeout} when the mesh config has none ({@code pkg/config/mesh/mesh.go DefaultMeshConfig}: 10 s). */
    public static final Duration ISTIO_CONNECT_TIMEOUT = Duration.ofSeconds(10);

    /**
     * Istio's {@code localityLbSetting} when the mesh config has none: {@code DefaultMeshConfig} sets
     * {@code LocalityLbSetting{Enabled: true}}, so a DestinationRule with {@code outlierDetection}
     * gets locality failover even without a {@code localityLbSetting} of its own.
     */
    public static final LocalityLbSpec ISTIO_LOCALITY_LB = new LocalityLbSpec(true, List.of(), List.of(), List.of());

    /** Without the upstream defaults ({@code connectTimeout}, {@code tcpKeepalive}, {@code localityLbSetting}: not set). */
    public MeshConfigSpec(SourceRef source, String trustDomain, List<String> trustDomainAliases,
                          String rootNamespace, List<ExtensionProviderSpec> extensionProviders,
                          DefaultProviders defaultProviders, HttpRetry defaultHttpRetryPolicy,
                          String accessLogFile, AccessLogEncoding accessLogEncoding, String accessLogFormat,
                          Boolean enableTracing, Double tracingSampling, Integer numTrustedProxies,
                          PathNormalization pathNormalization) {
        this(source, trustDomain, trustDomainAliases, rootNamespace, extensionProviders, defaultProviders,
                defaultHttpRetryPolicy, accessLogFile, accessLogEncoding, accessLogFormat, enableTracing, tracingSampling,
                numTrustedProxies, pathNormalization, null, null, null, false);
    }

    /** Without {@code h2UpgradePolicy} (not set: no upgrade). */
    public MeshConfigSpec(SourceRef source, String trustDomain, List<String> trustDomainAliases,
                          String rootNamespace, List<ExtensionProviderSpec> extensionProviders,
                          DefaultProviders defaultProviders, HttpRetry defaultHttpRetryPolicy,
                          String accessLogFile, AccessLogEncoding accessLogEncoding, String accessLogFormat,
                          Boolean enableTracing, Double tracingSampling, Integer numTrustedProxies,
                          PathNormalization pathNormalization, Duration connectTimeout,
                          TcpKeepaliveSpec tcpKeepalive, LocalityLbSpec localityLbSetting) {
        this(source, trustDomain, trustDomainAliases, rootNamespace, extensionProviders, defaultProviders,
                defaultHttpRetryPolicy, accessLogFile, accessLogEncoding, accessLogFormat, enableTracing, tracingSampling,
                numTrustedProxies, pathNormalization, connectTimeout, tcpKeepalive, localityLbSetting, false);
    }

    public MeshConfigSpec {
        Objects.requireNonNull(source, "source");
        trustDomainAliases = List.copyOf(trustDomainAliases);
        extensionProviders = List.copyOf(extensionProviders);
        Objects.requireNonNull(defaultProviders, "defaultProviders");
        Objects.requireNonNull(accessLogEncoding, "accessLogEncoding");
    }

    /** The connect timeout in force: {@code connectTimeout}, or Istio's default 10 s. */
    public Duration effectiveConnectTimeout() {
        return connectTimeout != null ? connectTimeout : ISTIO_CONNECT_TIMEOUT;
    }

    /** The {@code localityLbSetting} in force: the written one, or Istio's default (enabled). */
    public LocalityLbSpec effectiveLocalityLbSetting() {
        return localityLbSetting != null ? localityLbSetting : ISTIO_LOCALITY_LB;
    }

    /** The provider called {@code name}, or null when there is none. */
    public ExtensionProviderSpec provider(String name) {
        for (ExtensionProviderSpec p : extensionProviders) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        return null;
    }

    /** {@code accessLogEncoding}. */
    public enum AccessLogEncoding { TEXT, JSON }

    /**
     * {@code pathNormalization.normalization}; Istio's {@code DEFAULT} is read as {@link #BASE}, which
     * is what it means.
     */
    public enum PathNormalization { NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES }

    /**
     * {@code defaultProviders}: provider names used when no Telemetry resource names one.
     */
    public record DefaultProviders(List<String> metrics, List<String> tracing, List<String> accessLogging) {
        /** None set. */
        public static final DefaultProviders NONE = new DefaultProviders(List.of(), List.of(), List.of());

        public DefaultProviders {
            metrics = List.copyOf(metrics);
            tracing = List.copyOf(tracing);
            accessLogging = List.copyOf(accessLogging);
        }
    }

    /**
     * {@code defaultHttpRetryPolicy} (an Istio {@code HTTPRetry}).
     *
     * @param attempts tries after the first, as Istio counts them (0 disables retries)
     * @param perTryTimeout the timeout of each try, or null when not set
     * @param retryOn Envoy's {@code retry_on} list as written ({@code connect-failure,503}), or null
     */
    public record HttpRetry(int attempts, Duration perTryTimeout, String retryOn) {}
}
