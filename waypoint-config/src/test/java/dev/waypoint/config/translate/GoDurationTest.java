package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Durations as Go's {@code time.ParseDuration} reads them (istiod's jsonpb decodes Duration fields with it). */
class GoDurationTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "NULL", textBlock = """
            5s          | PT5S
            1.5s        | PT1.5S
            500ms       | PT0.5S
            1m30s       | PT1M30S
            1h0m0s      | PT1H
            2h45m       | PT2H45M
            1m0.5s      | PT1M0.5S
            100us       | PT0.0001S
            100µs       | PT0.0001S
            100μs       | PT0.0001S
            250ns       | PT0.00000025S
            .5s         | PT0.5S
            1.s         | PT1S
            +3s         | PT3S
            0           | PT0S
            0s          | PT0S
            0.000s      | PT0S
            1ms1ms      | PT0.002S
            5           | NULL
            -1s         | NULL
            1 s         | NULL
            s           | NULL
            1d          | NULL
            1S          | NULL
            1.5.5s      | NULL
            ''          | NULL
            9999999999h | NULL
            """)
    void readsWhatGoReads(String text, String expected) {
        assertThat(GoDuration.parse(text)).isEqualTo(expected == null ? null : Duration.parse(expected));
    }
}
