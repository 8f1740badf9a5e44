package dev.waypoint.bench.load;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * What one connection's tunnels saw. Confined to that connection's event loop while the run is on;
 * merged by the runner after the loops have stopped.
 */
final class Stats {
    /** Latencies in microseconds, 1 µs to 60 s, three significant digits. */
    static final long HIGHEST_US = TimeUnit.SECONDS.toMicros(60);

    final Histogram latencyUs = new Histogram(1, HIGHEST_US, 3);
    /** Responses with a 2xx status completed inside the window. */
    long ok;
    /** Response bytes (bodies; bulk: tunnel bytes) received inside the window. */
    long bytes;
    /** Errors inside the window, by kind. */
    final Map<String, Long> errors = new TreeMap<>();
    /** Tunnels answered 200 (over the whole run; more than connections x tunnels means reopened tunnels). */
    long tunnelsOpened;
    /** Errors during warmup or after the window (not in the table, but shown). */
    long errorsOutsideWindow;

    /** Per second since the run started (warmup included): 2xx responses completed, and their highest latency. */
    final long[] perSecondOk;
    final long[] perSecondMaxUs;

    Stats(int seconds) {
        perSecondOk = new long[seconds];
        perSecondMaxUs = new long[seconds];
    }

    void record(long latencyNanos) {
        long us = Math.max(1, Math.min(HIGHEST_US, TimeUnit.NANOSECONDS.toMicros(latencyNanos)));
        latencyUs.recordValue(us);
    }

    /** Adds a completion (warmup included) to the timeline; {@code second} is counted from the run's start. */
    void timeline(int second, long latencyNanos) {
        if (second >= 0 && second < perSecondOk.length) {
            perSecondOk[second]++;
            perSecondMaxUs[second] = Math.max(perSecondMaxUs[second], TimeUnit.NANOSECONDS.toMicros(latencyNanos));
        }
    }

    void error(String kind, boolean inWindow) {
        if (inWindow) {
            errors.merge(kind, 1L, Long::sum);
        } else {
            errorsOutsideWindow++;
        }
    }

    void addTo(Stats total) {
        total.latencyUs.add(latencyUs);
        total.ok += ok;
        total.bytes += bytes;
        errors.forEach((k, v) -> total.errors.merge(k, v, Long::sum));
        total.errorsOutsideWindow += errorsOutsideWindow;
        total.tunnelsOpened += tunnelsOpened;
        for (int i = 0; i < perSecondOk.length && i < total.perSecondOk.length; i++) {
            total.perSecondOk[i] += perSecondOk[i];
            total.perSecondMaxUs[i] = Math.max(total.perSecondMaxUs[i], perSecondMaxUs[i]);
        }
    }
}
