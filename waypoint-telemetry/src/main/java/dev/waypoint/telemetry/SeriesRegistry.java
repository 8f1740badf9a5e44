package dev.waypoint.telemetry;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * A small Prometheus registry of our own, for Istio's metrics: a fixed list of {@link Family
 * families} (counters and fixed-bucket histograms) and series keyed by their rendered label block
 * ({@link PrometheusText#labels}), each series holding one cell per family, created on first use
 * (a family no series has used is not in the exposition at all).
 *
 * <p>The series of one family may carry different label names: that is valid exposition (the
 * format has no per-family label schema) and is what Envoy's stats plugin writes when a Telemetry
 * adds or removes a label for some destinations only. Micrometer's Prometheus registry refuses it
 * (one label-key set per name), which is why Istio's metrics live here and Micrometer keeps the
 * proxy's own meters.
 *
 * <p>Written in text format 0.0.4: per family one {@code # HELP} and one {@code # TYPE}, then its
 * series sorted by labels; histograms as {@code _bucket{...,le="..."}} (cumulative, ending with
 * {@code le="+Inf"}), {@code _sum}, {@code _count}, and nothing else (no {@code _max}).
 *
 * <h2>Threading</h2>
 * Every event loop records and a scrape runs concurrently: cells are {@link LongAdder}s,
 * {@link AtomicLongArray} buckets and a {@link DoubleAdder} sum, created with a compare-and-set;
 * recording into an existing cell takes no lock and allocates nothing. A scrape reads each cell
 * once; a histogram's {@code _count} is the sum of the bucket counts it read, so
 * {@code le="+Inf"} and {@code _count} always agree within a scrape ({@code _sum} may lag by the
 * observations in flight).
 */
final class SeriesRegistry {
    /**
     * One metric name.
     *
     * @param name the exposition name (counters with their {@code _total})
     * @param buckets a histogram's upper bounds, ascending ({@code +Inf} implicit); null for a counter
     */
    record Family(int index, String name, String help, double[] buckets) {
        boolean histogram() {
            return buckets != null;
        }
    }

    /** A counter's value. */
    static final class Counter {
        private final LongAdder value = new LongAdder();

        void add(long n) {
            value.add(n);
        }

        void increment() {
            value.increment();
        }

        long value() {
            return value.sum();
        }
    }

    /** A fixed-bucket histogram: one count per bucket (the last one {@code +Inf}) and the sum. */
    static final class Histogram {
        private final double[] bounds;
        private final AtomicLongArray counts;
        private final DoubleAdder sum = new DoubleAdder();

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.counts = new AtomicLongArray(bounds.length + 1);
        }

        /** Counts {@code v} in the first bucket whose bound is {@code >= v} ({@code le}: less or equal). */
        void observe(double v) {
            int lo = 0;
            int hi = bounds.length; // bounds.length: +Inf
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (bounds[mid] >= v) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            counts.incrementAndGet(lo);
            sum.add(v);
        }
    }

    /** One label set: its rendered labels and its cells, one per family, created on first use. */
    static final class Series {
        private final String labels;
        private final AtomicReferenceArray<Object> cells;

        Series(String labels, int families) {
            this.labels = labels;
            this.cells = new AtomicReferenceArray<>(families);
        }

        String labels() {
            return labels;
        }

        Counter counter(Family f) {
            Object c = cells.get(f.index());
            if (c == null) {
                cells.compareAndSet(f.index(), null, new Counter());
                c = cells.get(f.index());
            }
            return (Counter) c;
        }

        Histogram histogram(Family f) {
            Object c = cells.get(f.index());
            if (c == null) {
                cells.compareAndSet(f.index(), null, new Histogram(f.buckets()));
                c = cells.get(f.index());
            }
            return (Histogram) c;
        }
    }

    private final List<Family> families;
    private final Map<String, Series> series = new ConcurrentHashMap<>();

    /** @param families in exposition order, {@code index} their position in the list */
    SeriesRegistry(List<Family> families) {
        for (int i = 0; i < families.size(); i++) {
            if (families.get(i).index() != i) {
                throw new IllegalArgumentException("family " + families.get(i).name() + " is not at its index");
            }
        }
        this.families = List.copyOf(families);
    }

    /** The series of a rendered label block, or null. */
    Series get(String labels) {
        return series.get(labels);
    }

    /** The series of a rendered label block, created when new (the caller applies any cap). */
    Series getOrCreate(String labels) {
        return series.computeIfAbsent(labels, l -> new Series(l, families.size()));
    }

    /** Label sets so far. */
    int size() {
        return series.size();
    }

    /** Appends the exposition of every family some series has used. */
    void writeTo(StringBuilder b) {
        List<Series> all = new ArrayList<>(series.values());
        all.sort(Comparator.comparing(Series::labels));
        for (Family f : families) {
            boolean header = false;
            for (Series s : all) {
                Object cell = s.cells.get(f.index());
                if (cell == null) {
                    continue;
                }
                if (!header) {
                    header = true;
                    b.append("# HELP ").append(f.name()).append(' ').append(PrometheusText.escapeHelp(f.help())).append('\n')
                            .append("# TYPE ").append(f.name()).append(f.histogram() ? " histogram\n" : " counter\n");
                }
                if (cell instanceof Counter c) {
                    sample(b, f.name(), "", s.labels(), null).append(PrometheusText.number(c.value())).append('\n');
                } else {
                    writeHistogram(b, f, s.labels(), (Histogram) cell);
                }
            }
        }
    }

    private static void writeHistogram(StringBuilder b, Family f, String labels, Histogram h) {
        long cumulative = 0;
        for (int i = 0; i <= h.bounds.length; i++) {
            cumulative += h.counts.get(i);
            String le = i < h.bounds.length ? PrometheusText.number(h.bounds[i]) : "+Inf";
            sample(b, f.name(), "_bucket", labels, le).append(cumulative).append('\n');
        }
        sample(b, f.name(), "_sum", labels, null).append(PrometheusText.number(h.sum.sum())).append('\n');
        sample(b, f.name(), "_count", labels, null).append(cumulative).append('\n');
    }

    /** {@code name+suffix{labels[,le="..."]} } up to the value. */
    private static StringBuilder sample(StringBuilder b, String name, String suffix, String labels, String le) {
        b.append(name).append(suffix);
        if (!labels.isEmpty() || le != null) {
            b.append('{').append(labels);
            if (le != null) {
                b.append(labels.isEmpty() ? "" : ",").append("le=\"").append(le).append('"');
            }
            b.append('}');
        }
        return b.append(' ');
    }
}
