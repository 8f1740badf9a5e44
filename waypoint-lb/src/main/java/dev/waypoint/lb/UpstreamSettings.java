package dev.waypoint.lb;

import java.time.Duration;

/**
 * Outbound limits and timeouts.
 *
 * @param hbonePort the port each destination pod's ztunnel accepts HBONE on (15008)
 * @param connectTimeout TCP + TLS + CONNECT to an endpoint (Istio's default connect timeout: 10 s)
 * @param streamWindow HTTP/2 stream window we advertise to the destination ztunnel
 * @param connectionWindow HTTP/2 connection window we advertise
 * @param maxStreamsPerConnection CONNECT streams per HBONE connection at most (ztunnel: 100), and
 *        never more than the peer's SETTINGS_MAX_CONCURRENT_STREAMS
 * @param poolIdleTimeout a pooled HBONE connection with no stream on it for this long is closed (ztunnel: 5 min)
 * @param httpIdleTimeout a pooled upstream HTTP connection (HTTP/1.1 keep-alive, or h2c) with no request
 *        on it for this long is closed (Envoy's cluster {@code idle_timeout} default: 1 h; ours is
 *        shorter because every one holds an HBONE stream at the destination ztunnel)
 * @param keepaliveInterval an HTTP/2 PING on each outbound HBONE connection this often (ztunnel: 10 s)
 * @param keepaliveTimeout a connection whose PING is unanswered this long is closed (ztunnel: 20 s)
 * @param locality the waypoint's own locality, for DestinationRule {@code localityLbSetting}
 *        ({@link Locality#NONE}: unknown)
 */
public record UpstreamSettings(int hbonePort, Duration connectTimeout, int streamWindow, int connectionWindow,
                               int maxStreamsPerConnection, Duration poolIdleTimeout, Duration httpIdleTimeout,
                               Duration keepaliveInterval, Duration keepaliveTimeout, Locality locality) {
    /** Without a locality of its own ({@link Locality#NONE}). */
    public UpstreamSettings(int hbonePort, Duration connectTimeout, int streamWindow, int connectionWindow,
                            int maxStreamsPerConnection, Duration poolIdleTimeout, Duration httpIdleTimeout,
                            Duration keepaliveInterval, Duration keepaliveTimeout) {
        this(hbonePort, connectTimeout, streamWindow, connectionWindow, maxStreamsPerConnection, poolIdleTimeout,
                httpIdleTimeout, keepaliveInterval, keepaliveTimeout, Locality.NONE);
    }

    public UpstreamSettings {
        locality = locality == null ? Locality.NONE : locality;
        if (hbonePort < 1 || hbonePort > 65535) {
            throw new IllegalArgumentException("hbonePort: " + hbonePort + " (expected: 1-65535)");
        }
        if (httpIdleTimeout == null || httpIdleTimeout.isNegative() || httpIdleTimeout.isZero()) {
            throw new IllegalArgumentException("httpIdleTimeout: " + httpIdleTimeout + " (expected: > 0)");
        }
        if (keepaliveInterval == null || keepaliveInterval.isNegative() || keepaliveInterval.isZero()) {
            throw new IllegalArgumentException("keepaliveInterval: " + keepaliveInterval + " (expected: > 0)");
        }
        if (keepaliveTimeout == null || keepaliveTimeout.isNegative() || keepaliveTimeout.isZero()) {
            throw new IllegalArgumentException("keepaliveTimeout: " + keepaliveTimeout + " (expected: > 0)");
        }
        if (maxStreamsPerConnection < 1) {
            throw new IllegalArgumentException("maxStreamsPerConnection: " + maxStreamsPerConnection + " (expected: > 0)");
        }
    }

    /** Defaults with {@code hbonePort}. */
    public static UpstreamSettings defaults(int hbonePort) {
        return new UpstreamSettings(hbonePort, Duration.ofSeconds(10), 4 << 20, 16 << 20, 100, Duration.ofMinutes(5),
                Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ofSeconds(20));
    }

    /** A copy with another connect timeout. */
    public UpstreamSettings withConnectTimeout(Duration timeout) {
        return new UpstreamSettings(hbonePort, timeout, streamWindow, connectionWindow, maxStreamsPerConnection, poolIdleTimeout, httpIdleTimeout,
                keepaliveInterval, keepaliveTimeout, locality);
    }

    /** A copy with another idle timeout for pooled upstream HTTP connections. */
    public UpstreamSettings withHttpIdleTimeout(Duration timeout) {
        return new UpstreamSettings(hbonePort, connectTimeout, streamWindow, connectionWindow, maxStreamsPerConnection,
                poolIdleTimeout, timeout, keepaliveInterval, keepaliveTimeout, locality);
    }

    /** A copy with other windows. */
    public UpstreamSettings withWindows(int stream, int connection) {
        return new UpstreamSettings(hbonePort, connectTimeout, stream, connection, maxStreamsPerConnection, poolIdleTimeout, httpIdleTimeout,
                keepaliveInterval, keepaliveTimeout, locality);
    }

    /** A copy with another HBONE keepalive (PING interval, and how long an unanswered PING is waited for). */
    public UpstreamSettings withKeepalive(Duration interval, Duration timeout) {
        return new UpstreamSettings(hbonePort, connectTimeout, streamWindow, connectionWindow, maxStreamsPerConnection,
                poolIdleTimeout, httpIdleTimeout, interval, timeout, locality);
    }

    /** A copy with this locality of the waypoint's own ({@code --locality}). */
    public UpstreamSettings withLocality(Locality locality) {
        return new UpstreamSettings(hbonePort, connectTimeout, streamWindow, connectionWindow, maxStreamsPerConnection,
                poolIdleTimeout, httpIdleTimeout, keepaliveInterval, keepaliveTimeout, locality);
    }
}
