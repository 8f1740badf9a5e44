package dev.waypoint.bench.load;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What one load run does. Built by the command line ({@link LoadTool}) or by tests.
 *
 * @param label a name for the report (the path measured: {@code direct}, {@code waypoint}, ...)
 * @param target the HBONE server dialed: waypoint, destination terminator or nghttpx
 * @param authority the CONNECT {@code :authority} ({@code ip:port})
 * @param connections HBONE connections (mTLS HTTP/2)
 * @param tunnels concurrent CONNECT tunnels per connection; each carries one request at a time
 * @param h2c whether the requests inside a tunnel are HTTP/2 with prior knowledge (else HTTP/1.1 keep-alive)
 * @param rate requests per second over all tunnels; 0 = closed loop (each tunnel sends again at once)
 * @param warmup run, but do not record, for this long first
 * @param duration the measured window
 * @param maxRequests stop the window early after this many recorded requests; 0 = no limit
 * @param bodyBytes request body size; 0 sends {@code GET}, more sends {@code POST}
 * @param path the request path
 * @param host the {@code Host} header (HTTP/1.1) or {@code :authority} (h2c)
 * @param requestTimeout a request with no complete response after this long counts as a timeout
 *        and its tunnel is reset and reopened
 * @param bulk null for request load; {@code download} or {@code echo} for the one-tunnel byte stream
 * @param streamWindow HTTP/2 stream window the client advertises
 * @param connectionWindow HTTP/2 connection window the client advertises
 * @param threads client event loops
 * @param pids processes whose CPU and RSS are read from /proc over the window
 */
public record LoadSpec(String label, InetSocketAddress target, String authority, int connections, int tunnels,
                       boolean h2c, int rate, Duration warmup, Duration duration, long maxRequests, int bodyBytes,
                       String path, String host, Duration requestTimeout, BulkMode bulk, int streamWindow,
                       int connectionWindow, int threads, List<ProcStat.Watched> pids) {

    /** The one-tunnel byte stream modes. */
    public enum BulkMode {
        /** The client sends one byte (0x01); the bulk backend then streams to it as fast as it can. */
        DOWNLOAD,
        /** The client streams to the backend's TCP echo and reads it all back. */
        ECHO
    }

    public LoadSpec {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(authority, "authority");
        Objects.requireNonNull(warmup, "warmup");
        Objects.requireNonNull(duration, "duration");
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        label = label == null ? "run" : label;
        path = path == null ? "/" : path;
        host = host == null ? authority : host;
        pids = List.copyOf(pids);
        if (connections < 1 || tunnels < 1) {
            throw new IllegalArgumentException("connections " + connections + ", tunnels " + tunnels + " (expected: >= 1)");
        }
        if (rate < 0 || bodyBytes < 0 || maxRequests < 0) {
            throw new IllegalArgumentException("rate, body and requests must be >= 0");
        }
        if (duration.isNegative() || duration.isZero() || warmup.isNegative()) {
            throw new IllegalArgumentException("duration must be > 0 and warmup >= 0");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads: " + threads + " (expected: >= 1)");
        }
    }

    /** Defaults for a request run against {@code target} with CONNECT {@code authority}. */
    public static LoadSpec defaults(InetSocketAddress target, String authority) {
        return new LoadSpec("run", target, authority, 4, 1, false, 0, Duration.ofSeconds(5), Duration.ofSeconds(15), 0, 0,
                "/", null, Duration.ofSeconds(5), null, 4 << 20, 16 << 20, 2, List.of());
    }

    public LoadSpec withLabel(String v) {
        return new LoadSpec(v, target, authority, connections, tunnels, h2c, rate, warmup, duration, maxRequests, bodyBytes,
                path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withConcurrency(int connections, int tunnels) {
        return new LoadSpec(label, target, authority, connections, tunnels, h2c, rate, warmup, duration, maxRequests,
                bodyBytes, path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withH2c(boolean v) {
        return new LoadSpec(label, target, authority, connections, tunnels, v, rate, warmup, duration, maxRequests, bodyBytes,
                path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withRate(int v) {
        return new LoadSpec(label, target, authority, connections, tunnels, h2c, v, warmup, duration, maxRequests, bodyBytes,
                path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withTimes(Duration warmupTime, Duration window, long requests) {
        return new LoadSpec(label, target, authority, connections, tunnels, h2c, rate, warmupTime, window, requests, bodyBytes,
                path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withBody(int v) {
        return new LoadSpec(label, target, authority, connections, tunnels, h2c, rate, warmup, duration, maxRequests, v,
                path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withBulk(BulkMode v) {
        return new LoadSpec(label, target, authority, connections, tunnels, h2c, rate, warmup, duration, maxRequests,
                bodyBytes, path, host, requestTimeout, v, streamWindow, connectionWindow, threads, pids);
    }

    public LoadSpec withPids(List<ProcStat.Watched> v) {
        return new LoadSpec(label, target, authority, connections, tunnels, h2c, rate, warmup, duration, maxRequests,
                bodyBytes, path, host, requestTimeout, bulk, streamWindow, connectionWindow, threads, v);
    }

    /** Total concurrent tunnels. */
    public int totalTunnels() {
        return connections * tunnels;
    }
}
