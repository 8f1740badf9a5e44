package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.telemetry.SeriesRegistry.Family;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The exposition writer, text format 0.0.4, as a table: what is recorded → the exact text.
 * Escaping of label values and HELP, histogram lines (cumulative buckets, {@code +Inf},
 * {@code _sum}, {@code _count}, no {@code _max}), series of one family with different label
 * names under one {@code # TYPE}, families nobody used left out, the empty registry.
 */
class SeriesRegistryTest {
    static final Family REQUESTS = new Family(0, "requests_total", "Requests.", null);
    static final Family LATENCY = new Family(1, "latency_ms", "Latency, ms.", new double[] {1, 10});
    static final Family ODD = new Family(2, "odd_total", "Back\\slash and\nnewline.", null);

    static SeriesRegistry.Series series(SeriesRegistry r, String[] names, String... values) {
        return r.getOrCreate(PrometheusText.labels(names, values));
    }

    static Stream<Arguments> cases() {
        String[] code = {"code"};
        return Stream.of(
                Arguments.of("empty registry", (Consumer<SeriesRegistry>) r -> {}, ""),
                Arguments.of("a series with no cell used is not written", (Consumer<SeriesRegistry>) r ->
                        series(r, code, "200"), ""),
                Arguments.of("counter without labels", (Consumer<SeriesRegistry>) r ->
                        r.getOrCreate("").counter(REQUESTS).add(3), """
                        # HELP requests_total Requests.
                        # TYPE requests_total counter
                        requests_total 3.0
                        """),
                Arguments.of("labels sorted by name", (Consumer<SeriesRegistry>) r ->
                        series(r, new String[] {"z", "a", "m"}, "1", "2", "3").counter(REQUESTS).increment(), """
                        # HELP requests_total Requests.
                        # TYPE requests_total counter
                        requests_total{a="2",m="3",z="1"} 1.0
                        """),
                Arguments.of("label value escaping: backslash, quote, newline; other characters as they are",
                        (Consumer<SeriesRegistry>) r -> series(r, new String[] {"v"}, "a\\b\"c\nd{é},=")
                                .counter(REQUESTS).increment(), """
                        # HELP requests_total Requests.
                        # TYPE requests_total counter
                        requests_total{v="a\\\\b\\"c\\nd{é},="} 1.0
                        """),
                Arguments.of("HELP escaping: backslash and newline", (Consumer<SeriesRegistry>) r ->
                        r.getOrCreate("").counter(ODD).increment(), """
                        # HELP odd_total Back\\\\slash and\\nnewline.
                        # TYPE odd_total counter
                        odd_total 1.0
                        """),
                Arguments.of("histogram: cumulative buckets, le on the bound (<=), +Inf, sum, count; no _max",
                        (Consumer<SeriesRegistry>) r -> {
                            SeriesRegistry.Histogram h = series(r, code, "200").histogram(LATENCY);
                            h.observe(0.5);
                            h.observe(1);
                            h.observe(5);
                            h.observe(20);
                        }, """
                        # HELP latency_ms Latency, ms.
                        # TYPE latency_ms histogram
                        latency_ms_bucket{code="200",le="1.0"} 2
                        latency_ms_bucket{code="200",le="10.0"} 3
                        latency_ms_bucket{code="200",le="+Inf"} 4
                        latency_ms_sum{code="200"} 26.5
                        latency_ms_count{code="200"} 4
                        """),
                Arguments.of("histogram without labels", (Consumer<SeriesRegistry>) r ->
                        r.getOrCreate("").histogram(LATENCY).observe(10), """
                        # HELP latency_ms Latency, ms.
                        # TYPE latency_ms histogram
                        latency_ms_bucket{le="1.0"} 0
                        latency_ms_bucket{le="10.0"} 1
                        latency_ms_bucket{le="+Inf"} 1
                        latency_ms_sum 10.0
                        latency_ms_count 1
                        """),
                Arguments.of("one family, series with different label names, one HELP and TYPE; families in order",
                        (Consumer<SeriesRegistry>) r -> {
                            series(r, code, "200").counter(REQUESTS).add(2);
                            series(r, new String[] {"code", "host"}, "200", "web").counter(REQUESTS).increment();
                            series(r, new String[] {"host"}, "api").counter(REQUESTS).increment();
                            series(r, code, "200").histogram(LATENCY).observe(3);
                        }, """
                        # HELP requests_total Requests.
                        # TYPE requests_total counter
                        requests_total{code="200"} 2.0
                        requests_total{code="200",host="web"} 1.0
                        requests_total{host="api"} 1.0
                        # HELP latency_ms Latency, ms.
                        # TYPE latency_ms histogram
                        latency_ms_bucket{code="200",le="1.0"} 0
                        latency_ms_bucket{code="200",le="10.0"} 1
                        latency_ms_bucket{code="200",le="+Inf"} 1
                        latency_ms_sum{code="200"} 3.0
                        latency_ms_count{code="200"} 1
                        """),
                Arguments.of("an empty label value is written (Prometheus reads it as absent)",
                        (Consumer<SeriesRegistry>) r -> series(r, new String[] {"grpc", "code"}, "", "200")
                                .counter(REQUESTS).increment(), """
                        # HELP requests_total Requests.
                        # TYPE requests_total counter
                        requests_total{code="200",grpc=""} 1.0
                        """));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void writes(String name, Consumer<SeriesRegistry> recording, String expected) {
        SeriesRegistry r = new SeriesRegistry(List.of(REQUESTS, LATENCY, ODD));
        recording.accept(r);
        StringBuilder b = new StringBuilder();
        r.writeTo(b);
        assertThat(b.toString()).isEqualTo(expected);
    }

    @Test
    void labelNamesAsPrometheusAcceptsThem() {
        for (String ok : List.of("request_host", "_x", "A9", "le", "a_b_c")) {
            assertThat(PrometheusText.validLabelName(ok)).as(ok).isTrue();
        }
        for (String bad : List.of("", "9a", "request-host", "request.host", "__reserved", "a b", "é")) {
            assertThat(PrometheusText.validLabelName(bad)).as(bad).isFalse();
        }
    }

    @Test
    void aFamilyOutOfItsIndexIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SeriesRegistry(List.of(LATENCY)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
