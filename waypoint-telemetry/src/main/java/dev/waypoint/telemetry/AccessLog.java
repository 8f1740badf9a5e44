package dev.waypoint.telemetry;

import dev.waypoint.model.request.RequestContext;
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
 * One access-log writer: lines go into a bounded queue drained by one daemon thread into its
 * stream. <b>Writing never blocks an event loop:</b> when the queue is full the line is dropped
 * and counted ({@link #dropped()}).
 *
 * <p>The lines are rendered by {@link AccessLogFormat}; {@link #format} and {@link #formatTcp}
 * are Istio's default TEXT line (meshConfig {@code accessLogFormat} unset,
 * {@code accessLogEncoding: TEXT}), values Envoy does not have here as {@code -}.
 */
public final class AccessLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccessLog.class);

    private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(8192);
    private final AtomicLong dropped;
    private final OutputStream out;
    private final Thread writer;
    private volatile boolean closed;

    /** Writes to {@code out} from its own thread. */
    public AccessLog(OutputStream out) {
        this(out, new AtomicLong());
    }

    /** Writes to {@code out} from its own thread, counting drops in {@code dropped}. */
    AccessLog(OutputStream out, AtomicLong dropped) {
        this.out = out;
        this.dropped = dropped;
        this.writer = new Thread(this::drain, "access-log");
        writer.setDaemon(true);
        writer.start();
    }

    /** Lines dropped because the writer fell behind. */
    public long dropped() {
        return dropped.get();
    }

    /** Queues {@code line} (newline-terminated), or drops and counts it when the queue is full. */
    void offer(String line) {
        if (!queue.offer(line)) {
            dropped.incrementAndGet();
        }
    }

    void log(RequestContext request, String clusterDomain) {
        offer(format(request, clusterDomain, Instant.now()));
    }

    void logTcp(TunnelContext tunnel, TcpOutcome outcome, String clusterDomain) {
        offer(formatTcp(tunnel, outcome, clusterDomain, Instant.now()));
    }

    /** Istio's default TEXT line for {@code request}, ended at {@code now}. Pure. */
    static String format(RequestContext request, String clusterDomain, Instant now) {
        return AccessLogFormat.ISTIO_TEXT.render(new LogEntries.Http(request, clusterDomain, now));
    }

    /**
     * Istio's default TEXT line for a TCP tunnel: Envoy writes {@code "- - -"} for the request,
     * {@code 0} for the code and {@code -} for the HTTP-only fields; the connection termination
     * details say why the waypoint refused or ended it. Pure.
     */
    static String formatTcp(TunnelContext tunnel, TcpOutcome o, String clusterDomain, Instant now) {
        return AccessLogFormat.ISTIO_TEXT.render(new LogEntries.Tcp(tunnel, o, clusterDomain, now));
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
