package dev.waypoint.wasm;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The metrics plugins define ({@code proxy_define_metric}), in the Micrometer registry the server
 * renders at {@code /stats/prometheus}: a counter, a gauge or a histogram per name, shared by
 * every VM of the process (a metric id means the same meter on every event loop). Names are
 * kept as the plugin wrote them, with characters Prometheus does not allow turned into
 * {@code _} (Micrometer adds {@code _total} to counters).
 *
 * <h2>Threading</h2>
 * Any event loop. Defining takes a lock-free map lookup after the first time; recording is
 * Micrometer's (lock-free counters and summaries).
 */
final class PluginMetrics {
    /** Envoy's default histogram buckets. */
    private static final double[] BUCKETS = {0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
            60000, 300000, 600000, 1800000, 3600000};

    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, Integer> ids = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Object> meters = new CopyOnWriteArrayList<>();

    PluginMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The id of metric {@code name} of {@code type}; -1 for an unknown type or a name taken by another type. */
    int define(int type, String name) {
        if (type < Abi.METRIC_COUNTER || type > Abi.METRIC_HISTOGRAM || name.isEmpty()) {
            return -1;
        }
        String key = type + "/" + name;
        Integer id = ids.get(key);
        if (id != null) {
            return id;
        }
        synchronized (this) { // once per metric name, not per request
            id = ids.get(key);
            if (id != null) {
                return id;
            }
            String n = sanitize(name);
            Object meter;
            try {
                meter = switch (type) {
                    case Abi.METRIC_COUNTER -> Counter.builder(n).description("proxy-wasm counter " + name)
                            .register(registry);
                    case Abi.METRIC_GAUGE -> {
                        AtomicLong v = new AtomicLong();
                        Gauge.builder(n, v, AtomicLong::get).description("proxy-wasm gauge " + name).register(registry);
                        yield v;
                    }
                    default -> DistributionSummary.builder(n).description("proxy-wasm histogram " + name)
                            .serviceLevelObjectives(BUCKETS).register(registry);
                };
            } catch (IllegalArgumentException e) {
                return -1; // the name is another kind of meter already
            }
            meters.add(meter);
            id = meters.size() - 1;
            ids.put(key, id);
            return id;
        }
    }

    boolean increment(int id, long offset) {
        Object m = meter(id);
        if (m instanceof Counter c) {
            if (offset > 0) {
                c.increment(offset);
            }
            return true;
        }
        if (m instanceof AtomicLong g) {
            g.addAndGet(offset);
            return true;
        }
        return false;
    }

    boolean record(int id, long value) {
        Object m = meter(id);
        if (m instanceof AtomicLong g) {
            g.set(value);
            return true;
        }
        if (m instanceof DistributionSummary d) {
            d.record(value);
            return true;
        }
        if (m instanceof Counter c) {
            double now = c.count();
            if (value > now) {
                c.increment(value - now);
            }
            return true;
        }
        return false;
    }

    /** {@code {value}}, or null for an unknown id or a histogram (Envoy cannot read those either). */
    long[] get(int id) {
        Object m = meter(id);
        if (m instanceof Counter c) {
            return new long[] {(long) c.count()};
        }
        if (m instanceof AtomicLong g) {
            return new long[] {g.get()};
        }
        return null;
    }

    private Object meter(int id) {
        return id >= 0 && id < meters.size() ? meters.get(id) : null;
    }

    static String sanitize(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c == '.'
                    || (c >= '0' && c <= '9' && i > 0);
            b.append(ok ? c : '_');
        }
        return b.toString();
    }
}
