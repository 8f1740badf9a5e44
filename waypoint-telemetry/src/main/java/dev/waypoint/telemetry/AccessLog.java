package dev.waypoint.telemetry;

import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request (and per TCP tunnel: {@link #formatTcp}) in Istio's default TEXT access-log format (meshConfig
 * {@code accessLogFormat} unset, {@code accessLogEncoding: TEXT}):
 * <pre>
 * [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
 * %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED%
 * %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS%
 * %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 * </pre>
 * (one line), values Envoy does not have here as {@code -}. The upstream cluster is named as
 * Istio's waypoint names its inbound VIP clusters: {@code inbound-vip|PORT|http|HOST}.
 *
 * <p><b>Writing never blocks an event loop:</b> lines go into a bounded queue drained by one
 * daemon thread; when the queue is full the line is dropped and counted ({@link #dropped()}).
 */
public final class AccessLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccessLog.class);

    private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(8192);
    private final AtomicLong dropped = new AtomicLong();
    private final OutputStream out;
    private final Thread writer;
    private volatile boolean closed;

    /** Writes to {@code out} from its own thread. */
    public AccessLog(OutputStream out) {
        this.out = out;
        this.writer = new Thread(this::drain, "access-log");
        writer.setDaemon(true);
        writer.start();
    }

    /** Lines dropped because the writer fell behind. */
    public long dropped() {
        return dropped.get();
    }

    void log(RequestContext request, String clusterDomain) {
        if (!queue.offer(format(request, clusterDomain, Instant.now()))) {
            dropped.incrementAndGet();
        }
    }

    /** The line for {@code request}, ended at {@code now} (its start is derived from the outcome's duration). Pure. */
    static String format(RequestContext request, String clusterDomain, Instant now) {
        RequestOutcome o = request.outcome();
        HeadersView h = request.attributes().headers();
        long durationMs = Math.max(0, o.durationNanos() / 1_000_000);
        Instant start = now.minusMillis(durationMs);
        StringBuilder b = new StringBuilder(256);
        b.append('[').append(start).append("] \"").append(request.attributes().method()).append(' ')
                .append(dash(request.attributes().path())).append(' ').append(request.attributes().protocol()).append("\" ")
                .append(o.status()).append(' ').append(o.flags()).append(' ').append(o.reason()).append(" - \"-\" ")
                .append(o.requestBytes()).append(' ').append(o.responseBytes()).append(' ').append(durationMs).append(' ')
                .append(o.timeToResponseNanos() < 0 ? "-" : Long.toString(o.timeToResponseNanos() / 1_000_000)).append(' ')
                .append('"').append(dash(h.get("x-forwarded-for"))).append("\" \"").append(dash(h.get("user-agent")))
                .append("\" \"").append(dash(h.get("x-request-id"))).append("\" \"").append(dash(request.attributes().host()))
                .append("\" \"").append(dash(o.endpoint())).append("\" ").append(cluster(request, clusterDomain)).append(" - ")
                .append(request.target().authority()).append(' ')
                .append(request.tunnel().source() == null ? "-" : address(request.tunnel().source())).append(" - ")
                .append(dash(o.route())).append('\n');
        return b.toString();
    }

    void logTcp(TunnelContext tunnel, TcpOutcome outcome, String clusterDomain) {
        if (!queue.offer(formatTcp(tunnel, outcome, clusterDomain, Instant.now()))) {
            dropped.incrementAndGet();
        }
    }

    /**
     * The line for a TCP tunnel, in the same format: Envoy writes {@code "- - -"} for the request,
     * {@code 0} for the code and {@code -} for the HTTP-only fields; the connection termination
     * details say why the waypoint refused or ended it. Pure.
     */
    static String formatTcp(TunnelContext tunnel, TcpOutcome o, String clusterDomain, Instant now) {
        long durationMs = Math.max(0, o.durationNanos() / 1_000_000);
        Instant start = now.minusMillis(durationMs);
        String cluster = tunnel.target() instanceof Target.ServiceTarget s
                ? "inbound-vip|" + s.port().port() + "|tcp|" + s.service().name().name() + "."
                        + s.service().name().namespace() + ".svc." + clusterDomain
                : "connect_originate";
        StringBuilder b = new StringBuilder(200);
        b.append('[').append(start).append("] \"- - -\" 0 ").append(o.flags()).append(" - ").append(o.details())
                .append(" \"-\" ").append(o.receivedBytes()).append(' ').append(o.sentBytes()).append(' ')
                .append(durationMs).append(" - \"-\" \"-\" \"-\" \"-\" \"").append(dash(o.endpoint())).append("\" ")
                .append(cluster).append(" - ").append(tunnel.target().authority()).append(' ')
                .append(tunnel.source() == null ? "-" : address(tunnel.source())).append(" - -\n");
        return b.toString();
    }

    private static String cluster(RequestContext request, String clusterDomain) {
        if (request.target() instanceof dev.waypoint.model.request.Target.ServiceTarget s) {
            return "inbound-vip|" + s.port().port() + "|http|" + s.service().name().name() + "." + s.service().name().namespace()
                    + ".svc." + clusterDomain;
        }
        return "connect_originate";
    }

    private static String address(java.net.InetSocketAddress a) {
        String ip = a.getAddress().getHostAddress();
        return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    private void drain() {
        while (!closed || !queue.isEmpty()) {
            try {
                String line = queue.poll(200, TimeUnit.MILLISECONDS);
                if (line == null) {
                    continue;
                }
                out.write(line.getBytes(StandardCharsets.UTF_8));
                String next;
                while ((next = queue.poll()) != null) {
                    out.write(next.getBytes(StandardCharsets.UTF_8));
                }
                out.flush();
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                log.warn("access log write failed: {}", e.toString());
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        writer.join(2000);
    }
}
