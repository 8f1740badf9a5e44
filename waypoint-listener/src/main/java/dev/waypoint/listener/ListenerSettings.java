package dev.waypoint.listener;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * Limits and timeouts of the HBONE listener. Defaults follow ztunnel's HBONE server (spec
 * waypoint.md §1.3) except where noted.
 *
 * @param bind where to listen ({@code 0.0.0.0:15008})
 * @param maxConcurrentStreams SETTINGS_MAX_CONCURRENT_STREAMS advertised (tunnels per connection)
 * @param streamWindow initial HTTP/2 stream window (bytes buffered per tunnel before the client stops)
 * @param connectionWindow HTTP/2 connection window
 * @param maxFrameSize SETTINGS_MAX_FRAME_SIZE
 * @param maxHeaderListSize SETTINGS_MAX_HEADER_LIST_SIZE for the CONNECT headers
 * @param handshakeTimeout a socket that has not finished TLS by then is closed
 * @param connectionIdleTimeout an HBONE connection with no open tunnel for this long is closed (GOAWAY)
 * @param tunnelIdleTimeout a tunnel with no bytes either way for this long is reset
 * @param sniffTimeout on ports with no declared protocol, a client that sends nothing for this long is
 *        treated as a server-first TCP protocol (Envoy's inspector waits forever: istio#53033)
 * @param maxInitialLineLength inner HTTP/1.1 request line limit (longer: 414/400)
 * @param maxHeaderSize inner HTTP/1.1 header block limit and inner HTTP/2 max header list size (larger: 431)
 * @param drainTimeout how long in-flight tunnels may take to finish after a drain starts
 */
public record ListenerSettings(InetSocketAddress bind, int maxConcurrentStreams, int streamWindow, int connectionWindow,
                               int maxFrameSize, int maxHeaderListSize, Duration handshakeTimeout,
                               Duration connectionIdleTimeout, Duration tunnelIdleTimeout, Duration sniffTimeout,
                               int maxInitialLineLength, int maxHeaderSize, Duration drainTimeout) {
    public ListenerSettings {
        Objects.requireNonNull(bind, "bind");
        if (maxConcurrentStreams < 1) {
            throw new IllegalArgumentException("maxConcurrentStreams: " + maxConcurrentStreams + " (expected: > 0)");
        }
        if (streamWindow < 65_535 || connectionWindow < streamWindow) {
            throw new IllegalArgumentException("windows: stream " + streamWindow + ", connection " + connectionWindow
                    + " (expected: 65535 <= stream <= connection)");
        }
    }

    /** The defaults, listening on {@code bind}. */
    public static ListenerSettings defaults(InetSocketAddress bind) {
        return new ListenerSettings(bind, 100, 4 << 20, 16 << 20, 1 << 20, 64 << 10,
                Duration.ofSeconds(10), Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofSeconds(3),
                8192, 64 << 10, Duration.ofSeconds(20));
    }

    /** A copy listening on {@code bind}. */
    public ListenerSettings withBind(InetSocketAddress bind) {
        return new ListenerSettings(bind, maxConcurrentStreams, streamWindow, connectionWindow, maxFrameSize,
                maxHeaderListSize, handshakeTimeout, connectionIdleTimeout, tunnelIdleTimeout, sniffTimeout,
                maxInitialLineLength, maxHeaderSize, drainTimeout);
    }

    /** A copy with other HTTP/2 windows. */
    public ListenerSettings withWindows(int streamWindow, int connectionWindow) {
        return new ListenerSettings(bind, maxConcurrentStreams, streamWindow, connectionWindow, maxFrameSize,
                maxHeaderListSize, handshakeTimeout, connectionIdleTimeout, tunnelIdleTimeout, sniffTimeout,
                maxInitialLineLength, maxHeaderSize, drainTimeout);
    }

    /** A copy with another tunnel idle timeout and sniff timeout (tests). */
    public ListenerSettings withTimeouts(Duration tunnelIdleTimeout, Duration sniffTimeout) {
        return new ListenerSettings(bind, maxConcurrentStreams, streamWindow, connectionWindow, maxFrameSize,
                maxHeaderListSize, handshakeTimeout, connectionIdleTimeout, tunnelIdleTimeout, sniffTimeout,
                maxInitialLineLength, maxHeaderSize, drainTimeout);
    }
}
