package dev.waypoint.telemetry;

import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Periodic byte reports of open TCP tunnels, as Istio's stats filter reports open connections
 * every {@code tcp_reporting_duration} (istio/proxy {@code source/extensions/filters/http/istio_stats}:
 * {@code PROTOBUF_GET_MS_OR_DEFAULT(proto_config, tcp_reporting_duration, 5000)}; the Telemetry
 * API's {@code metrics[].reportingInterval} sets it): each report adds the bytes relayed since the
 * previous one to {@code istio_tcp_received_bytes_total} / {@code istio_tcp_sent_bytes_total}, and
 * the tunnel's close adds the remainder ({@link #close}), so the totals equal the bytes relayed.
 *
 * <p>One scheduled task per event loop and interval, not one per tunnel: the task walks the open
 * tunnels of its loop (an array list, removal by swapping the last one in) and runs only while
 * there are some. A report allocates nothing for a tunnel that relayed nothing since the last one.
 *
 * <h2>Threading</h2>
 * A {@link TcpOutcome} is confined to its tunnel's event loop, and so is everything here that
 * reads it: {@link #open} registers the tunnel with the data-plane loop it is called on (the
 * listener reports tunnels on their own loop; {@link #reportOn} names the loops), the task runs
 * on that loop, and {@link #close} is called there too. Called off those loops (no loops given,
 * or a unit test calling the observer directly), a tunnel gets no periodic reports and everything
 * is reported at close, as before.
 */
final class TcpReports {
    /** Istio's default {@code tcp_reporting_duration}. */
    static final long DEFAULT_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** The shortest interval used: a tiny {@code reportingInterval} must not spin an event loop. */
    static final long MIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /**
     * Records one report: the bytes since the last one, with the labels the tunnel opened with
     * and its {@code tagOverrides} evaluated then (null: none).
     */
    interface Sink {
        void report(TunnelContext tunnel, String[] labels, TcpTags tags, long receivedBytes, long sentBytes);
    }

    private final Sink sink;
    /** The data-plane event loops tunnels run on; null: no periodic reports. */
    private volatile Iterable<? extends EventExecutor> group;
    /** The open tunnels, to find a tunnel's entry at close. */
    private final Map<TcpOutcome, Open> open = new ConcurrentHashMap<>();
    /** Per event loop: its buckets by interval. Each map is confined to its loop. */
    private final Map<EventExecutor, Map<Long, Bucket>> loops = new ConcurrentHashMap<>();

    TcpReports(Sink sink) {
        this.sink = sink;
    }

    /** Tunnels opened on one of {@code loops} from now on are reported periodically. */
    void reportOn(Iterable<? extends EventExecutor> loops) {
        this.group = loops;
    }

    private EventExecutor currentLoop() {
        Iterable<? extends EventExecutor> g = group;
        if (g != null) {
            for (EventExecutor e : g) {
                if (e.inEventLoop()) {
                    return e;
                }
            }
        }
        return null;
    }

    /**
     * Starts periodic reports for a tunnel that is relaying, on the current event loop, every
     * {@code intervalNanos} (at least {@link #MIN_INTERVAL_NANOS}); does nothing off the loops.
     */
    void open(TunnelContext tunnel, TcpOutcome outcome, String[] labels, TcpTags tags, long intervalNanos) {
        EventExecutor loop = currentLoop();
        if (loop == null || outcome.closed()) {
            return;
        }
        long every = Math.max(MIN_INTERVAL_NANOS, intervalNanos);
        Bucket b = loops.computeIfAbsent(loop, l -> new HashMap<>()).computeIfAbsent(every, i -> new Bucket(loop, i));
        Open o = new Open(tunnel, outcome, labels, tags, b);
        open.put(outcome, o);
        b.add(o);
    }

    /**
     * The tunnel ended: it leaves its loop's reports.
     *
     * @return the bytes already reported, {@code {received, sent}} (zeros when none were), so the
     *         caller records only the remainder
     */
    long[] close(TcpOutcome outcome) {
        Open o = open.remove(outcome);
        if (o == null) {
            return NONE;
        }
        if (o.bucket.loop.inEventLoop()) {
            o.bucket.remove(o);
        } else {
            o.bucket.loop.execute(() -> o.bucket.remove(o)); // not expected: the listener closes on the tunnel's loop
        }
        return new long[] {o.reportedReceived, o.reportedSent};
    }

    private static final long[] NONE = new long[2];

    /** Open tunnels being reported (tests, the config dump). */
    int openTunnels() {
        return open.size();
    }

    /** One tunnel's reporting state; confined to its loop. */
    private static final class Open {
        final TunnelContext tunnel;
        final TcpOutcome outcome;
        final String[] labels;
        final TcpTags tags;
        final Bucket bucket;
        long reportedReceived;
        long reportedSent;
        int index = -1;

        Open(TunnelContext tunnel, TcpOutcome outcome, String[] labels, TcpTags tags, Bucket bucket) {
            this.tunnel = tunnel;
            this.outcome = outcome;
            this.labels = labels;
            this.tags = tags;
            this.bucket = bucket;
        }
    }

    /** The tunnels of one loop with one interval, and the task reporting them; confined to the loop. */
    private final class Bucket implements Runnable {
        final EventExecutor loop;
        final long intervalNanos;
        final List<Open> tunnels = new ArrayList<>();
        ScheduledFuture<?> task;

        Bucket(EventExecutor loop, long intervalNanos) {
            this.loop = loop;
            this.intervalNanos = intervalNanos;
        }

        void add(Open o) {
            o.index = tunnels.size();
            tunnels.add(o);
            if (task == null) {
                task = loop.scheduleAtFixedRate(this, intervalNanos, intervalNanos, TimeUnit.NANOSECONDS);
            }
        }

        void remove(Open o) {
            int i = o.index;
            if (i < 0) {
                return;
            }
            Open last = tunnels.remove(tunnels.size() - 1);
            if (last != o) {
                tunnels.set(i, last);
                last.index = i;
            }
            o.index = -1;
            if (tunnels.isEmpty() && task != null) {
                task.cancel(false);
                task = null;
            }
        }

        /** One report: each open tunnel's bytes since its last report. */
        @Override
        public void run() {
            for (int i = 0; i < tunnels.size(); i++) {
                Open o = tunnels.get(i);
                long received = o.outcome.receivedBytes() - o.reportedReceived;
                long sent = o.outcome.sentBytes() - o.reportedSent;
                if (received == 0 && sent == 0) {
                    continue;
                }
                o.reportedReceived += received;
                o.reportedSent += sent;
                sink.report(o.tunnel, o.labels, o.tags, received, sent);
            }
        }
    }
}
