package dev.waypoint.lb;

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
 * ({@link UpstreamSettings}) with the DestinationRule {@code connectionPool} fields written over
 * them. Part of the pool key, so Service ports with different options never share a connection.
 *
 * @param connectTimeout TCP connect to a plaintext endpoint ({@code tcp.connectTimeout}; HBONE
 *        connections are shared by every Service of a pod and keep the waypoint's timeout)
 * @param keepalive {@code tcp.tcpKeepalive} on plaintext sockets, or null (SO_KEEPALIVE off)
 * @param idleMillis a pooled connection with no request on it this long is closed ({@code http.idleTimeout})
 * @param maxRequestsPerConnection requests one connection carries before it is not reused
 *        ({@code http.maxRequestsPerConnection}), 0 for no limit
 * @param tls TLS origination on plaintext sockets (a DestinationRule {@code tls}), or null
 */
record ConnectionOptions(Duration connectTimeout, TcpKeepaliveSpec keepalive, long idleMillis,
                         int maxRequestsPerConnection, UpstreamTls tls) {

    ConnectionOptions(Duration connectTimeout, TcpKeepaliveSpec keepalive, long idleMillis, int maxRequestsPerConnection) {
        this(connectTimeout, keepalive, idleMillis, maxRequestsPerConnection, null);
    }

    /** The waypoint's defaults. */
    static ConnectionOptions defaults(UpstreamSettings settings) {
        return new ConnectionOptions(settings.connectTimeout(), null, settings.httpIdleTimeout().toMillis(), 0);
    }

    /** {@code defaults} with what {@code pool} writes (null: the defaults). */
    static ConnectionOptions of(ConnectionOptions defaults, TrafficPolicySpec.ConnectionPoolSpec pool) {
        return of(defaults, pool, null);
    }

    /** {@code defaults} with what {@code pool} and {@code tls} write (null: the defaults). */
    static ConnectionOptions of(ConnectionOptions defaults, TrafficPolicySpec.ConnectionPoolSpec pool, UpstreamTls tls) {
        if (tls == null && (pool == null || (pool.connectTimeout() == null && pool.tcpKeepalive() == null
                && pool.idleTimeout() == null && pool.maxRequestsPerConnection() == 0))) {
            return defaults;
        }
        if (pool == null) {
            return new ConnectionOptions(defaults.connectTimeout, null, defaults.idleMillis, 0, tls);
        }
        return new ConnectionOptions(pool.connectTimeout() != null ? pool.connectTimeout() : defaults.connectTimeout,
                pool.tcpKeepalive(), pool.idleTimeout() != null ? pool.idleTimeout().toMillis() : defaults.idleMillis,
                pool.maxRequestsPerConnection(), tls);
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
