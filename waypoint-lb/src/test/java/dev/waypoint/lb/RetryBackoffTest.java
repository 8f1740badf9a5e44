package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Envoy's jittered exponential backoff: the interval doubles per retry up to 10x the base; the wait is the draw modulo it. */
class RetryBackoffTest {
    @ParameterizedTest(name = "base {0} ms, retry {1}, draw {2} -> {3} ms")
    @CsvSource({
            // the interval of retry n is base * 2^(n-1), capped at 10 * base
            "25, 1, 24, 24",
            "25, 1, 25, 0",
            "25, 2, 49, 49",
            "25, 3, 99, 99",
            "25, 4, 199, 199",
            "25, 5, 249, 249",   // 400 > 250: the cap
            "25, 5, 250, 0",
            "25, 9, 1000249, 249", // capped for good
            "100, 1, 250, 50",
            "100, 2, 130, 130",
            "1, 1, 12345, 0",    // 1 ms base: the first wait is always 0
            "0, 1, 7, 0",        // sub-millisecond bases count as 1 ms (Envoy works in ms)
            "25, 1, -1, 15",     // a negative draw is an unsigned one: 2^64-1 mod 25
    })
    void waits(long baseMs, int retry, long draw, long expected) {
        assertThat(RetryBackoff.delayMillis(Duration.ofMillis(baseMs), retry, draw)).isEqualTo(expected);
    }
}
