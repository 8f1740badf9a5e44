package dev.waypoint.lb;

import java.time.Duration;

/**
 * The wait before a retry, as Envoy's {@code JitteredExponentialBackOffStrategy} computes it for a
 * route's {@code retry_back_off} ({@code source/common/common/backoff_strategy.cc}): the interval
 * starts at the base and doubles with every retry up to the maximum (Envoy's default
 * {@code max_interval}: 10 times the base), and each wait is drawn uniformly from
 * {@code [0, interval)} milliseconds ("fully jittered"). Pure: the random draw is an argument.
 */
final class RetryBackoff {
    /** Envoy: "max_interval ... defaults to 10 times the base_interval". */
    static final int MAX_FACTOR = 10;

    private RetryBackoff() {}

    /**
     * Milliseconds to wait before retry number {@code retry} (1 = the first retry) with base
     * interval {@code base}, for the random draw {@code random} (any long).
     */
    static long delayMillis(Duration base, int retry, long random) {
        long baseMs = Math.max(1, base.toMillis());
        long maxMs = baseMs * MAX_FACTOR;
        long interval = baseMs;
        for (int i = 1; i < retry && interval < maxMs; i++) {
            // "Set next_interval_ to max_interval_ if doubling the interval would exceed max_interval_"
            interval = interval > maxMs / 2 ? maxMs : interval * 2;
        }
        return Math.min(Long.remainderUnsigned(random, interval), maxMs);
    }
}
