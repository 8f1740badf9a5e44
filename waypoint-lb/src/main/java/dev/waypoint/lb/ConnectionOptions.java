package dev.waypoint.lb;

import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.TcpKeepaliveSpec;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import java.time.Duration;

/**
 * How the upstream connections of one Service port are opened and reused: the waypoint's defaults
 * ({@link UpstreamSettings}), the MeshConfig's {@code connectTimeout} and {@code tcpKeepalive}
 * over them, and the DestinationRule {@code connectionPool} fields written over those. Part of the pool key, so Service ports with different options never share a connection.
 *
 * @param connectTimeout TCP connect to a plaintext endpoint ({@code tcp.connectTimeout}; HBONE
 *        connections are shared by every Service of a pod and keep the waypoint's timeout)
 * @param keepalive {@code tcp.tcpKeepalive} on plaintext sockets, or null (SO_KEEPALIVE off)
 * @param idleMillis a pooled connection with no request on it this long is closed ({@code http.idleTimeout},
 *        else {@code tcp.idleTimeout}); 0: never
 * @param maxRequestsPerConnection requests one connection carries before it is not reused
 *        ({@code http.maxRequestsPerConnection}), 0 for no limit
 * @param tls TLS origination on plaintext sockets (a DestinationRule {@code tls}), or null
 * @param hboneConnectTimeout the connect timeout of a new HBONE connection (MeshConfig
 *        {@code connectTimeout}), or null for the waypoint's ({@link UpstreamSettings#connectTimeout()})
 * @param maxConnectionMillis a pooled connection is drained this long after it opened (no new
 *        request; closed once its requests end): {@code tcp.maxConnectionDuration}; 0: never
 * @param maxConcurrentStreams streams at once on an HTTP/2 connection ({@code http.maxConcurrentStreams}),
 *        below the peer's own limit; 0: the peer's limit only
 * @param http2Keepalive PINGs on HTTP/2 connections ({@code http.http2KeepAlive}), or null
 */
record ConnectionOptions(Duration connectTimeout, TcpKeepaliveSpec keepalive, long idleMillis,
                         int maxRequestsPerConnection, UpstreamTls tls, Duration hboneConnectTimeout,
                         long maxConnectionMillis, int maxConcurrentStreams,
                         TrafficPolicySpec.Http2KeepaliveSpec http2Keepalive) {

    ConnectionOptions(Duration connectTimeout, TcpKeepaliveSpec keepalive, long idleMillis, int maxRequestsPerConnection,
                      UpstreamTls tls, Duration hboneConnectTimeout) {
        this(connectTimeout, keepalive, idleMillis, maxRequestsPerConnection, tls, hboneConnectTimeout, 0, 0, null);
    }

    ConnectionOptions(Duration connectTimeout, TcpKeepaliveSpec keepalive, long idleMillis, int maxRequestsPerConnection) {
        this(connectTimeout, keepalive, idleMillis, maxRequestsPerConnection, null, null);
    }

    ConnectionOptions(Duration connectTimeout, TcpKeepaliveSpec keepalive, long idleMillis, int maxRequestsPerConnection,
                      UpstreamTls tls) {
        this(connectTimeout, keepalive, idleMillis, maxRequestsPerConnection, tls, null);
    }

    /** The waypoint's defaults. */
    static ConnectionOptions defaults(UpstreamSettings settings) {
        return new ConnectionOptions(settings.connectTimeout(), null, settings.httpIdleTimeout().toMillis(), 0);
    }

    /**
     * The waypoint's defaults under a MeshConfig: its {@code connectTimeout} (when written) for
     * every connection, plaintext and HBONE, and its {@code tcpKeepalive} on plaintext sockets.
     * Istio sets the mesh {@code ConnectTimeout} on every cluster ({@code applyDefaultConnectionPool}
     * in {@code pilot/pkg/networking/core/cluster_traffic_policy.go}), the waypoint's
     * {@code connect_originate} HBONE cluster included ({@code buildConnectOriginate},
     * {@code cluster_waypoint.go}), and the mesh {@code TcpKeepalive} on every cluster before a
     * DestinationRule's ({@code applyTCPKeepalive}, {@code cluster.go}); the HBONE cluster gets no
     * keepalive from it (our HBONE sockets keep SO_KEEPALIVE with the system's settings, and the
     * HTTP/2 PINGs of {@link UpstreamSettings#keepaliveInterval()}).
     */
    static ConnectionOptions defaults(UpstreamSettings settings, MeshConfigSpec mesh) {
        Duration connect = mesh.connectTimeout();
        return new ConnectionOptions(connect != null ? connect : settings.connectTimeout(), mesh.tcpKeepalive(),
                settings.httpIdleTimeout().toMillis(), 0, null, connect);
    }

    /**
     * A DestinationRule's {@code tcpKeepalive} written over the mesh's field by field, as Istio's
     * {@code applyTCPKeepalive} does ("Apply mesh wide TCP keepalive if available", then
     * "Apply/Override individual attributes with DestinationRule TCP keepalive if set":
     * {@code setKeepAliveSettings} writes only {@code probes > 0} and the durations that are set).
     * Null when neither is set.
     */
    static TcpKeepaliveSpec keepalive(TcpKeepaliveSpec mesh, TcpKeepaliveSpec rule) {
        if (mesh == null || rule == null) {
            return rule != null ? rule : mesh;
        }
        return new TcpKeepaliveSpec(rule.probes() > 0 ? rule.probes() : mesh.probes(),
                rule.time() != null ? rule.time() : mesh.time(), rule.interval() != null ? rule.interval() : mesh.interval());
    }

    /** {@code defaults} with what {@code pool} writes (null: the defaults). */
    static ConnectionOptions of(ConnectionOptions defaults, TrafficPolicySpec.ConnectionPoolSpec pool) {
        return of(defaults, pool, null);
    }

    /** {@code defaults} with what {@code pool} and {@code tls} write (null: the defaults). */
    static ConnectionOptions of(ConnectionOptions defaults, TrafficPolicySpec.ConnectionPoolSpec pool, UpstreamTls tls) {
        if (tls == null && (pool == null || (pool.connectTimeout() == null && pool.tcpKeepalive() == null
                && pool.idleTimeout() == null && pool.tcpIdleTimeout() == null && pool.maxRequestsPerConnection() == 0
                && pool.maxConnectionDuration() == null && pool.maxConcurrentStreams() == 0
                && pool.http2KeepAlive() == null))) {
            return defaults;
        }
        if (pool == null) {
            return new ConnectionOptions(defaults.connectTimeout, defaults.keepalive, defaults.idleMillis, 0, tls,
                    defaults.hboneConnectTimeout);
        }
        // "if settings.Tcp.ConnectTimeout != nil { mc.cluster.ConnectTimeout = settings.Tcp.ConnectTimeout }"
        // over the mesh's (applyConnectionPool); the HBONE connection keeps the mesh's, as Istio's
        // connect_originate cluster does
        // "if idleTimeout == nil { idleTimeout = settings.Tcp.IdleTimeout }": tcp.idleTimeout is the HTTP
        // idle timeout too when http.idleTimeout is not written (0s there: never, as Envoy's 0)
        Duration idle = pool.idleTimeout() != null ? pool.idleTimeout() : pool.tcpIdleTimeout();
        return new ConnectionOptions(pool.connectTimeout() != null ? pool.connectTimeout() : defaults.connectTimeout,
                keepalive(defaults.keepalive, pool.tcpKeepalive()),
                idle != null ? idle.toMillis() : defaults.idleMillis,
                pool.maxRequestsPerConnection(), tls, defaults.hboneConnectTimeout,
                pool.maxConnectionDuration() != null ? Math.max(1, pool.maxConnectionDuration().toMillis()) : 0,
                pool.maxConcurrentStreams(), pool.http2KeepAlive());
    }

    /**
     * Sets the socket options of a plaintext connect on {@code b}: connect timeout, and with
     * {@code tcpKeepalive} SO_KEEPALIVE plus the probe settings written — epoll's
     * {@code TCP_KEEPIDLE}/{@code TCP_KEEPINTVL}/{@code TCP_KEEPCNT}, or the JDK's
     * {@code jdk.net.ExtendedSocketOptions} of the same names on NIO (whole seconds, at least 1, as
     * the kernel takes them; Envoy rounds the same way).
     */
    void apply(Bootstrap b, Class<?> channelClass) {
        b.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
        if (keepalive == null) {
            return;
        }
        b.option(ChannelOption.SO_KEEPALIVE, true);
        boolean epoll = EpollSocketChannel.class.isAssignableFrom(channelClass);
        if (keepalive.time() != null) {
            int s = seconds(keepalive.time());
            if (epoll) {
                b.option(EpollChannelOption.TCP_KEEPIDLE, s);
            } else {
                b.option(NioChannelOption.of(jdk.net.ExtendedSocketOptions.TCP_KEEPIDLE), s);
            }
        }
        if (keepalive.interval() != null) {
            int s = seconds(keepalive.interval());
            if (epoll) {
                b.option(EpollChannelOption.TCP_KEEPINTVL, s);
            } else {
                b.option(NioChannelOption.of(jdk.net.ExtendedSocketOptions.TCP_KEEPINTERVAL), s);
            }
        }
        if (keepalive.probes() > 0) {
            if (epoll) {
                b.option(EpollChannelOption.TCP_KEEPCNT, keepalive.probes());
            } else {
                b.option(NioChannelOption.of(jdk.net.ExtendedSocketOptions.TCP_KEEPCOUNT), keepalive.probes());
            }
        }
    }

    private static int seconds(Duration d) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (d.toMillis() + 999) / 1000));
    }
}
