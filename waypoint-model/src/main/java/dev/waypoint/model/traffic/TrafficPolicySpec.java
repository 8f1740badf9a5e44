package dev.waypoint.model.traffic;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A DestinationRule {@code trafficPolicy} (or a subset's, or a {@code portLevelSettings} entry's).
 * Every part is null when not written: a port-level or subset policy only overrides what it writes
 * (Istio merges them field by field over the top-level policy).
 *
 * @param loadBalancer {@code loadBalancer}, or null
 * @param outlierDetection {@code outlierDetection}, or null (none: Istio's default)
 * @param portLevelSettings per-port overrides; empty for a port-level policy itself
 * @param connectionPool {@code connectionPool}, or null
 * @param tls {@code tls} with mode SIMPLE or MUTUAL (origination to endpoints outside the mesh), or
 *        null (none written, {@code DISABLE}, or {@code ISTIO_MUTUAL}, which a waypoint ignores)
 */
public record TrafficPolicySpec(LoadBalancerSpec loadBalancer, OutlierDetectionSpec outlierDetection,
                                List<PortPolicySpec> portLevelSettings, ConnectionPoolSpec connectionPool, TlsSpec tls) {
    /** No policy written. */
    public static final TrafficPolicySpec NONE = new TrafficPolicySpec(null, null, List.of(), null, null);

    public TrafficPolicySpec {
        portLevelSettings = List.copyOf(portLevelSettings);
    }

    /** A policy without {@code tls}. */
    public TrafficPolicySpec(LoadBalancerSpec loadBalancer, OutlierDetectionSpec outlierDetection,
                             List<PortPolicySpec> portLevelSettings, ConnectionPoolSpec connectionPool) {
        this(loadBalancer, outlierDetection, portLevelSettings, connectionPool, null);
    }

    /**
     * {@code tls} (Istio's {@code ClientTLSSettings}) for endpoints outside the mesh.
     *
     * @param mutual MUTUAL (a client certificate is presented) rather than SIMPLE
     * @param caCertificates {@code caCertificates}: PEM file of the roots to verify the server with, or
     *        null (the JVM's trust store, as Istio uses the system roots)
     * @param clientCertificate {@code clientCertificate} PEM file (MUTUAL), or null
     * @param privateKey {@code privateKey} PEM file (MUTUAL), or null
     * @param credentialName {@code credentialName}, or null
     * @param sni {@code sni}, or null
     * @param subjectAltNames {@code subjectAltNames}: one must be in the server certificate's SANs
     * @param insecureSkipVerify {@code insecureSkipVerify}: the server certificate is not verified
     */
    public record TlsSpec(boolean mutual, String caCertificates, String clientCertificate, String privateKey,
                          String credentialName, String sni, List<String> subjectAltNames, boolean insecureSkipVerify) {
        public TlsSpec {
            subjectAltNames = List.copyOf(subjectAltNames);
        }
    }

    /** A policy without {@code connectionPool}. */
    public TrafficPolicySpec(LoadBalancerSpec loadBalancer, OutlierDetectionSpec outlierDetection,
                             List<PortPolicySpec> portLevelSettings) {
        this(loadBalancer, outlierDetection, portLevelSettings, null);
    }

    /**
     * {@code connectionPool}, the limits this waypoint enforces; 0 means not written (Istio's
     * default: unlimited).
     *
     * @param maxConnections {@code tcp.maxConnections}
     * @param http1MaxPendingRequests {@code http.http1MaxPendingRequests}
     * @param http2MaxRequests {@code http.http2MaxRequests}
     * @param maxRequestsPerConnection {@code http.maxRequestsPerConnection}: an upstream connection carries
     *        this many requests, then is not reused (0: no limit)
     * @param maxRetries {@code http.maxRetries}: retries in flight to the Service port at most (0: no limit)
     * @param idleTimeout {@code http.idleTimeout}: a pooled upstream connection idle this long is closed,
     *        or null (the waypoint's default)
     * @param connectTimeout {@code tcp.connectTimeout}, or null (the waypoint's default, 10 s)
     * @param tcpKeepalive {@code tcp.tcpKeepalive}, or null (no SO_KEEPALIVE)
     * @param tcpIdleTimeout {@code tcp.idleTimeout}: a TCP tunnel with no bytes either way this long is
     *        closed, and the idle timeout of pooled HTTP connections when {@code http.idleTimeout} is not
     *        written (as Istio's {@code applyConnectionPool}); {@link Duration#ZERO}: never; null: not written
     * @param maxConnectionDuration {@code tcp.maxConnectionDuration}: a TCP tunnel is closed, and a pooled
     *        HTTP connection drained (no new request; closed when its requests end), this long after it
     *        opened; null: no limit
     * @param h2Upgrade {@code http.h2UpgradePolicy}
     * @param useClientProtocol {@code http.useClientProtocol}: requests go upstream in the client's HTTP
     *        version, whatever the port declares
     * @param maxConcurrentStreams {@code http.maxConcurrentStreams}: streams at once on one HTTP/2 upstream
     *        connection (0: the peer's limit only)
     * @param http2KeepAlive {@code http.http2KeepAlive}, or null (no PINGs on HTTP/2 upstream connections)
     */
    public record ConnectionPoolSpec(int maxConnections, int http1MaxPendingRequests, int http2MaxRequests,
                                     int maxRequestsPerConnection, int maxRetries, Duration idleTimeout,
                                     Duration connectTimeout, TcpKeepaliveSpec tcpKeepalive, Duration tcpIdleTimeout,
                                     Duration maxConnectionDuration, H2Upgrade h2Upgrade, boolean useClientProtocol,
                                     int maxConcurrentStreams, Http2KeepaliveSpec http2KeepAlive) {
        public ConnectionPoolSpec {
            Objects.requireNonNull(h2Upgrade, "h2Upgrade");
        }

        /** The fields before the TCP tunnel, upgrade and HTTP/2 ones (those not written). */
        public ConnectionPoolSpec(int maxConnections, int http1MaxPendingRequests, int http2MaxRequests,
                                  int maxRequestsPerConnection, int maxRetries, Duration idleTimeout,
                                  Duration connectTimeout, TcpKeepaliveSpec tcpKeepalive) {
            this(maxConnections, http1MaxPendingRequests, http2MaxRequests, maxRequestsPerConnection, maxRetries,
                    idleTimeout, connectTimeout, tcpKeepalive, null, null, H2Upgrade.DEFAULT, false, 0, null);
        }

        /** Only the admission limits. */
        public ConnectionPoolSpec(int maxConnections, int http1MaxPendingRequests, int http2MaxRequests) {
            this(maxConnections, http1MaxPendingRequests, http2MaxRequests, 0, 0, null, null, null);
        }
    }

    /** {@code connectionPool.http.h2UpgradePolicy}. */
    public enum H2Upgrade {
        /** Not written: the MeshConfig's {@code h2UpgradePolicy} decides (for ports declaring HTTP). */
        DEFAULT,
        /** HTTP/1.1 requests to this port go upstream as HTTP/2 (h2c). */
        UPGRADE,
        /** Never upgraded, whatever the MeshConfig says. */
        DO_NOT_UPGRADE
    }

    /**
     * {@code connectionPool.http.http2KeepAlive}: a PING every {@code interval} on each HTTP/2 upstream
     * connection, closed when the answer takes longer than {@code timeout}.
     */
    public record Http2KeepaliveSpec(Duration interval, Duration timeout) {
        public Http2KeepaliveSpec {
            Objects.requireNonNull(interval, "interval");
            Objects.requireNonNull(timeout, "timeout");
        }
    }

    /**
     * {@code connectionPool.tcp.tcpKeepalive}: SO_KEEPALIVE on, and the kernel's probe settings where
     * written (null: the operating system's default, as Envoy leaves them).
     *
     * @param probes {@code probes} (TCP_KEEPCNT), or 0
     * @param time {@code time} (TCP_KEEPIDLE), or null
     * @param interval {@code interval} (TCP_KEEPINTVL), or null
     */
    public record TcpKeepaliveSpec(int probes, Duration time, Duration interval) {}

    /** A {@code portLevelSettings} entry: the port number and its policy. */
    public record PortPolicySpec(int port, TrafficPolicySpec policy) {
        public PortPolicySpec {
            Objects.requireNonNull(policy, "policy");
        }
    }

    /**
     * {@code loadBalancer}: a simple algorithm or a consistent hash, plus slow start and locality.
     *
     * @param locality {@code localityLbSetting}, or null when not written
     */
    public record LoadBalancerSpec(Simple simple, ConsistentHashSpec consistentHash, Duration warmup,
                                   LocalityLbSpec locality) {
        public LoadBalancerSpec {
            if (simple != null && consistentHash != null) {
                throw new IllegalArgumentException("simple and consistentHash: both set (expected: one)");
            }
        }

        /** Without {@code localityLbSetting}. */
        public LoadBalancerSpec(Simple simple, ConsistentHashSpec consistentHash, Duration warmup) {
            this(simple, consistentHash, warmup, null);
        }
    }

    /**
     * {@code loadBalancer.localityLbSetting} (Istio's {@code LocalityLoadBalancerSetting}).
     *
     * @param enabled {@code enabled} (absent: true, as Istio reads a written setting)
     * @param failover {@code failover}: from region → to region
     * @param failoverPriority {@code failoverPriority}: ordered label names
     * @param distribute {@code distribute}: from locality → (to locality → weight); localities are
     *        {@code region/zone/subzone}, each part possibly {@code *}
     */
    public record LocalityLbSpec(boolean enabled, List<Failover> failover, List<String> failoverPriority,
                                 List<Distribute> distribute) {
        public LocalityLbSpec {
            failover = List.copyOf(failover);
            failoverPriority = List.copyOf(failoverPriority);
            distribute = List.copyOf(distribute);
        }

        /** One {@code failover} entry. */
        public record Failover(String from, String to) {}

        /** One {@code distribute} entry; {@code to} keeps its written order. */
        public record Distribute(String from, java.util.Map<String, Integer> to) {
            public Distribute {
                to = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(to));
            }
        }
    }

    /** {@code loadBalancer.simple}. {@code LEAST_CONN} is Istio's deprecated name of {@code LEAST_REQUEST}. */
    public enum Simple { UNSPECIFIED, LEAST_REQUEST, ROUND_ROBIN, RANDOM, PASSTHROUGH }

    /** What a consistent hash is computed over. */
    public enum HashOn { HEADER, COOKIE, SOURCE_IP, QUERY_PARAMETER }

    /** The consistent-hash table. */
    public enum HashTable { RING_HASH, MAGLEV }

    /**
     * {@code loadBalancer.consistentHash}.
     *
     * @param on what is hashed
     * @param name the header, cookie or query parameter name (null for SOURCE_IP)
     * @param cookiePath the cookie's {@code Path} when the waypoint sets it (null: none)
     * @param cookieTtl the cookie's lifetime when the waypoint sets it (null or zero: a session cookie)
     * @param table ring hash or Maglev
     * @param tableSize {@code ringHash.minimumRingSize} (default 1024) or {@code maglev.tableSize} (default 65537, a prime)
     */
    public record ConsistentHashSpec(HashOn on, String name, String cookiePath, Duration cookieTtl, HashTable table,
                                     long tableSize) {
        public ConsistentHashSpec {
            Objects.requireNonNull(on, "on");
            Objects.requireNonNull(table, "table");
        }
    }

    /**
     * {@code outlierDetection}, Istio's defaults filled in where a field is not written.
     *
     * @param consecutive5xxErrors 5xx responses in a row that eject (Istio default 5; 0 disables)
     * @param consecutiveGatewayErrors 502/503/504 (and connect failures) in a row that eject (default 0: off)
     * @param consecutiveLocalOriginFailures connect failures and resets in a row that eject, when
     *        {@code splitExternalLocalOriginErrors} (default 5)
     * @param splitExternalLocalOriginErrors whether local-origin failures are counted apart from 5xx
     * @param interval how often ejections are reconsidered (default 10 s)
     * @param baseEjectionTime the first ejection's length; the n-th lasts n times as long (default 30 s)
     * @param maxEjectionPercent at most this share of the endpoints ejected at once (default 10)
     * @param minHealthPercent below this share of healthy endpoints, ejections are ignored (default 0)
     */
    public record OutlierDetectionSpec(int consecutive5xxErrors, int consecutiveGatewayErrors,
                                       int consecutiveLocalOriginFailures, boolean splitExternalLocalOriginErrors,
                                       Duration interval, Duration baseEjectionTime, int maxEjectionPercent,
                                       int minHealthPercent) {
        public OutlierDetectionSpec {
            Objects.requireNonNull(interval, "interval");
            Objects.requireNonNull(baseEjectionTime, "baseEjectionTime");
        }
    }
}
