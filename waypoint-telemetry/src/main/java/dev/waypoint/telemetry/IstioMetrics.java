package dev.waypoint.telemetry;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Istio's standard HTTP/gRPC metrics with Istio's names, labels and buckets, in a Micrometer
 * Prometheus registry: {@code istio_requests_total}, {@code istio_request_duration_milliseconds},
 * {@code istio_request_bytes}, {@code istio_response_bytes}.
 *
 * <p><b>Cardinality</b> is bounded: at most {@link #maxSeries} distinct label sets; requests with
 * a new label set past that are counted in {@code waypoint_telemetry_dropped_series_total} (and
 * logged once) instead.
 *
 * <h2>Threading</h2>
 * Thread-safe: every event loop records; meters are created once per label set.
 */
public final class IstioMetrics {
    private static final Logger log = LoggerFactory.getLogger(IstioMetrics.class);

    /** Istio's duration buckets, ms (istio/proxy stats plugin defaults). */
    static final double[] DURATION_BUCKETS_MS = {0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
            60000, 300000, 600000, 1800000, 3600000};
    /** Size buckets, bytes: decades from 1 B to 100 MB, as the stats plugin's byte histograms. */
    static final double[] SIZE_BUCKETS = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<List<String>, Series> series = new ConcurrentHashMap<>();
    private final int maxSeries;
    private final Counter dropped;
    private final AtomicBoolean droppedLogged = new AtomicBoolean();

    private record Series(Counter requests, DistributionSummary duration, DistributionSummary requestBytes,
                          DistributionSummary responseBytes) {}

    /** A registry holding at most {@code maxSeries} label sets. */
    public IstioMetrics(int maxSeries) {
        this.maxSeries = maxSeries;
        this.dropped = Counter.builder("waypoint_telemetry_dropped_series")
                .description("Requests not recorded because the label-set cap was reached.").register(registry);
    }

    /** Records one finished request with label values in {@link IstioLabels#NAMES} order. */
    void record(String[] labels, double durationMs, long requestBytes, long responseBytes) {
        List<String> key = Arrays.asList(labels);
        Series s = series.get(key);
        if (s == null) {
            if (series.size() >= maxSeries) {
                dropped.increment();
                if (droppedLogged.compareAndSet(false, true)) {
                    log.warn("telemetry: {} label sets reached; further new ones are counted in "
                            + "waypoint_telemetry_dropped_series_total, not recorded", maxSeries);
                }
                return;
            }
            s = series.computeIfAbsent(key, k -> create(labels));
        }
        s.requests().increment();
        s.duration().record(durationMs);
        s.requestBytes().record(requestBytes);
        s.responseBytes().record(responseBytes);
    }

    private Series create(String[] labels) {
        String[] kv = new String[labels.length * 2];
        for (int i = 0; i < labels.length; i++) {
            kv[2 * i] = IstioLabels.NAMES[i];
            kv[2 * i + 1] = labels[i];
        }
        Tags tags = Tags.of(kv);
        return new Series(
                Counter.builder("istio_requests").description("Requests handled, by Istio's standard labels.")
                        .tags(tags).register(registry),
                DistributionSummary.builder("istio_request_duration_milliseconds")
                        .description("Request duration, ms.").serviceLevelObjectives(DURATION_BUCKETS_MS).tags(tags)
                        .register(registry),
                DistributionSummary.builder("istio_request_bytes").description("Request body sizes, bytes.")
                        .serviceLevelObjectives(SIZE_BUCKETS).tags(tags).register(registry),
                DistributionSummary.builder("istio_response_bytes").description("Response body sizes, bytes.")
                        .serviceLevelObjectives(SIZE_BUCKETS).tags(tags).register(registry));
    }

    /**
     * The registry behind {@code /stats/prometheus}, for other stages' meters (proxy-wasm plugin
     * metrics): whatever is registered here is in {@link #scrape()}.
     */
    public io.micrometer.core.instrument.MeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition of everything recorded. */
    public String scrape() {
        return registry.scrape();
    }

    /** Label sets recorded so far. */
    public int seriesCount() {
        return series.size();
    }
}
