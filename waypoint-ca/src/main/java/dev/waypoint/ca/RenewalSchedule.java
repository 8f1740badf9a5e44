package dev.waypoint.ca;

import java.time.Duration;
import java.time.Instant;

/**
 * When to renew and when to retry: pure functions of the certificate's validity, the failure count
 * and a random number, so they are tested as tables.
 *
 * <p>Istio's secret manager rotates when {@code SECRET_GRACE_PERIOD_RATIO} (0.5) of the lifetime
 * is left, moved by {@code SECRET_GRACE_PERIOD_RATIO_JITTER}; here: at half the lifetime, moved by
 * up to {@code jitter} × lifetime either way.
 */
final class RenewalSchedule {
    private RenewalSchedule() {}

    /**
     * @param random in {@code [0, 1)}
     * @return {@code notBefore + lifetime × (0.5 + jitter × (2 × random − 1))}
     */
    static Instant renewAt(Instant notBefore, Instant notAfter, double jitter, double random) {
        long lifetimeMillis = Duration.between(notBefore, notAfter).toMillis();
        double ratio = 0.5 + jitter * (2 * random - 1);
        return notBefore.plusMillis(Math.round(lifetimeMillis * ratio));
    }

    /**
     * The delay before retry number {@code failures} (1 for the first retry): {@code min × 2^(failures−1)},
     * at most {@code max}, then between half of it and all of it ("equal jitter"), and never past
     * {@code latest} (when there is still time, a retry before expiry beats a sleep past it).
     *
     * @param random in {@code [0, 1)}
     */
    static Duration backoff(int failures, Duration min, Duration max, double random, Duration untilLatest) {
        long base = min.toMillis();
        for (int i = 1; i < failures && base < max.toMillis(); i++) {
            base *= 2;
        }
        base = Math.min(base, max.toMillis());
        long delay = base / 2 + Math.round(base / 2.0 * random);
        if (!untilLatest.isNegative() && untilLatest.toMillis() < delay) {
            delay = Math.max(min.toMillis() / 2, untilLatest.toMillis());
        }
        return Duration.ofMillis(delay);
    }
}
