package dev.waypoint.ca;

import static java.util.Objects.requireNonNull;

import dev.waypoint.model.mesh.SpiffeId;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How to reach Istio's CA and which certificate to ask it for.
 *
 * @param host the CA's host name, also the name its serving certificate is verified against
 *     (istiod's certificate carries {@code istiod.istio-system.svc})
 * @param port the CA's gRPC TLS port (istiod: 15012)
 * @param rootCert PEM file of the mesh roots that verify the CA's serving certificate; also the
 *     roots peers are verified against (Istio mounts the {@code istio-ca-root-cert} ConfigMap at
 *     {@code /var/run/secrets/istio/root-cert.pem}); read again for every call, so a rotated
 *     ConfigMap is picked up
 * @param token file with the projected service-account token of audience {@code istio-ca}, sent
 *     as {@code authorization: Bearer}; read again for every call (the kubelet rotates it)
 * @param clusterId sent as the {@code ClusterID} header, as istio-agent does ({@code Kubernetes}
 *     unless the mesh is multi-cluster)
 * @param identity the SPIFFE ID written into the CSR's URI SAN
 * @param lifetime the requested validity ({@code validity_duration}); the CA may shorten it
 * @param callTimeout deadline of one CreateCertificate call, connect and TLS included
 * @param initialTimeout how long the first issuance is retried before start-up fails; zero: one
 *     attempt
 * @param minBackoff first delay before retrying a failed renewal (doubled per failure, with jitter)
 * @param maxBackoff the longest delay between retries
 * @param jitter renewal happens at half the lifetime, moved by up to {@code jitter} × lifetime
 *     either way, so that replicas started together do not renew together
 */
public record CaSettings(String host, int port, Path rootCert, Path token, String clusterId, SpiffeId identity,
                         Duration lifetime, Duration callTimeout, Duration initialTimeout, Duration minBackoff,
                         Duration maxBackoff, double jitter) {
    /** istiod's address inside the cluster: the default of {@code --ca-address} with {@code --kube}. */
    public static final String ISTIOD_ADDRESS = "istiod.istio-system.svc:15012";
    /** Where Istio's templates mount the {@code istio-ca-root-cert} ConfigMap. */
    public static final String DEFAULT_ROOT_CERT = "/var/run/secrets/istio/root-cert.pem";
    /** Where Istio's templates mount the projected token of audience {@code istio-ca}. */
    public static final String DEFAULT_TOKEN = "/var/run/secrets/tokens/istio-token";
    /** Istio's default workload certificate lifetime ({@code SECRET_TTL}). */
    public static final Duration DEFAULT_LIFETIME = Duration.ofHours(24);

    public CaSettings {
        requireNonNull(host, "host");
        requireNonNull(rootCert, "rootCert");
        requireNonNull(token, "token");
        requireNonNull(clusterId, "clusterId");
        requireNonNull(identity, "identity");
        requireNonNull(lifetime, "lifetime");
        requireNonNull(callTimeout, "callTimeout");
        requireNonNull(initialTimeout, "initialTimeout");
        requireNonNull(minBackoff, "minBackoff");
        requireNonNull(maxBackoff, "maxBackoff");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("host: \"\" (expected: a host name or address)");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
        }
        positive("lifetime", lifetime);
        positive("callTimeout", callTimeout);
        positive("minBackoff", minBackoff);
        positive("maxBackoff", maxBackoff);
        if (initialTimeout.isNegative()) {
            throw new IllegalArgumentException("initialTimeout: " + initialTimeout + " (expected: >= 0)");
        }
        if (!(jitter >= 0 && jitter < 0.5)) {
            throw new IllegalArgumentException("jitter: " + jitter + " (expected: 0 <= jitter < 0.5)");
        }
    }

    /**
     * Istio's defaults: 24 h certificates, 10 s per call, 60 s to get the first one, retries from
     * 1 s up to 5 min, renewal at half the lifetime ± 5 %.
     *
     * @param address {@code host:port}, e.g. {@link #ISTIOD_ADDRESS}
     */
    public static CaSettings defaults(String address, Path rootCert, Path token, SpiffeId identity) {
        requireNonNull(address, "address");
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            throw new IllegalArgumentException("address: " + address + " (expected: host:port)");
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("address: " + address + " (expected: host:port)");
        }
        return new CaSettings(host, port, rootCert, token, "Kubernetes", identity, DEFAULT_LIFETIME,
                Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(1), Duration.ofMinutes(5), 0.05);
    }

    /** These settings with another {@code ClusterID} header value. */
    public CaSettings withClusterId(String clusterId) {
        return new CaSettings(host, port, rootCert, token, clusterId, identity, lifetime, callTimeout, initialTimeout,
                minBackoff, maxBackoff, jitter);
    }

    /** These settings with other timings (tests shorten them). */
    public CaSettings withTimings(Duration lifetime, Duration callTimeout, Duration initialTimeout, Duration minBackoff,
            Duration maxBackoff) {
        return new CaSettings(host, port, rootCert, token, clusterId, identity, lifetime, callTimeout, initialTimeout,
                minBackoff, maxBackoff, jitter);
    }

    /** {@code host:port}, as written on the command line. */
    public String address() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    private static void positive(String name, Duration d) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
        }
    }
}
