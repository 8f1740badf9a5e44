package dev.waypoint.ca;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RenewalScheduleTest {
    private static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");

    @ParameterizedTest(name = "lifetime {0}h, jitter {1}, random {2} -> renew after {3} min")
    @CsvSource({
        // half the lifetime, moved by up to jitter x lifetime either way
        "24, 0.0,  0.0,  720",
        "24, 0.0,  0.99, 720",
        "24, 0.05, 0.5,  720",
        "24, 0.05, 0.0,  648",   // 0.45 x 24 h
        "24, 0.05, 1.0,  792",   // 0.55 x 24 h (random < 1 in practice)
        "1,  0.05, 0.25, 28.5",
    })
    void renewsAtHalfTheLifetimeWithJitter(long hours, double jitter, double random, double minutes) {
        Instant at = RenewalSchedule.renewAt(T0, T0.plus(Duration.ofHours(hours)), jitter, random);
        assertThat(Duration.between(T0, at).toMillis()).isEqualTo(Math.round(minutes * 60_000));
    }

    @ParameterizedTest(name = "failure {0}, random {1}, {2} ms to expiry -> {3} ms")
    @CsvSource({
        // min 1 s, max 60 s; equal jitter: between half and all of min x 2^(n-1)
        "1, 0.0, -1,     500",
        "1, 1.0, -1,     1000",
        "2, 0.0, -1,     1000",
        "3, 0.5, -1,     3000",
        "7, 1.0, -1,     60000",   // 64 s capped at 60 s
        "30, 0.0, -1,    30000",   // no overflow however long it fails
        "7, 1.0, 10000,  10000",   // never sleep past the expiry while it is ahead
        "7, 1.0, 100,    500",     // but not a busy loop either: at least half the minimum
    })
    void backsOffExponentiallyWithJitter(int failures, double random, long untilExpiry, long expected) {
        Duration d = RenewalSchedule.backoff(failures, Duration.ofSeconds(1), Duration.ofSeconds(60), random,
                Duration.ofMillis(untilExpiry));
        assertThat(d.toMillis()).isEqualTo(expected);
    }
}
