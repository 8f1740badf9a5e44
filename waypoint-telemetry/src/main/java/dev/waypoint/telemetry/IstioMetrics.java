package dev.waypoint.telemetry;

import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import dev.waypoint.telemetry.SeriesRegistry.Family;
import dev.waypoint.telemetry.SeriesRegistry.Series;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Istio's standard HTTP/gRPC metrics with Istio's names, labels and buckets:
 * {@code istio_requests_total}, {@code istio_request_duration_milliseconds},
 * {@code istio_request_bytes}, {@code istio_response_bytes}; for gRPC {@code istio_request_messages_total}
 * and {@code istio_response_messages_total}; for TCP tunnels {@code istio_tcp_connections_opened_total},
 * {@code istio_tcp_connections_closed_total}, {@code istio_tcp_sent_bytes_total},
 * {@code istio_tcp_received_bytes_total}.
 *
 * <p>They live in a {@link SeriesRegistry} of our own (LongAdder counters, fixed-bucket
 * histograms, no {@code _max}), where one metric's series may carry different label names, as a
 * Telemetry's {@code tagOverrides} ask ({@link LabelPlan}). The proxy's own meters (the dropped
 * series counter below, wasm plugins' metrics) stay in a Micrometer Prometheus registry
 * ({@link #registry()}); {@link #scrape()} writes both, no name in both.
 *
 * <p><b>Cardinality</b> is bounded: at most {@link #maxSeries} distinct label sets; requests with
 * a new label set past that are counted in {@code waypoint_telemetry_dropped_series_total} (and
 * logged once) instead.
 *
 * <h2>Threading</h2>
 * Thread-safe: every event loop records and the scrape runs concurrently; a series and its cells
 * are created once per label set, recording into them takes no lock.
 */
public final class IstioMetrics {
    private static final Logger log = LoggerFactory.getLogger(IstioMetrics.class);

    /** Istio's duration buckets, ms (istio/proxy stats plugin defaults). */
    static final double[] DURATION_BUCKETS_MS = {0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
            60000, 300000, 600000, 1800000, 3600000};
    /** Size buckets, bytes: decades from 1 B to 100 MB, as the stats plugin's byte histograms. */
    static final double[] SIZE_BUCKETS = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

    static final Family REQUESTS = new Family(0, "istio_requests_total",
            "Requests handled, by Istio's standard labels.", null);
    static final Family DURATION = new Family(1, "istio_request_duration_milliseconds", "Request duration, ms.",
            DURATION_BUCKETS_MS);
    static final Family REQUEST_BYTES = new Family(2, "istio_request_bytes", "Request body sizes, bytes.", SIZE_BUCKETS);
    static final Family RESPONSE_BYTES = new Family(3, "istio_response_bytes", "Response body sizes, bytes.",
            SIZE_BUCKETS);
    static final Family REQUEST_MESSAGES = new Family(4, "istio_request_messages_total",
            "gRPC messages received from the client.", null);
    static final Family RESPONSE_MESSAGES = new Family(5, "istio_response_messages_total",
            "gRPC messages sent to the client.", null);
    static final Family TCP_OPENED = new Family(6, "istio_tcp_connections_opened_total", "TCP connections opened.", null);
    static final Family TCP_CLOSED = new Family(7, "istio_tcp_connections_closed_total", "TCP connections closed.", null);
    static final Family TCP_SENT = new Family(8, "istio_tcp_sent_bytes_total",
            "Bytes sent to the client on TCP connections.", null);
    static final Family TCP_RECEIVED = new Family(9, "istio_tcp_received_bytes_total",
            "Bytes received from the client on TCP connections.", null);

    /** The HTTP metrics in recording order, and their families. */
    private static final Metric[] HTTP_METRICS = {Metric.REQUEST_COUNT, Metric.REQUEST_DURATION, Metric.REQUEST_SIZE,
            Metric.RESPONSE_SIZE, Metric.GRPC_REQUEST_MESSAGES, Metric.GRPC_RESPONSE_MESSAGES};

    private final SeriesRegistry istio = new SeriesRegistry(List.of(REQUESTS, DURATION, REQUEST_BYTES, RESPONSE_BYTES,
            REQUEST_MESSAGES, RESPONSE_MESSAGES, TCP_OPENED, TCP_CLOSED, TCP_SENT, TCP_RECEIVED));
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /** The request path's index of the standard-label series: a key of parts, probed without allocating. */
    private final Map<Key, Series> byKey = new ConcurrentHashMap<>();
    /** Label values (in {@link IstioLabels#NAMES} or {@link IstioLabels#TCP_NAMES} order) → series, per name list. */
    private final Map<List<String>, Series> byValues = new ConcurrentHashMap<>();
    private final Map<List<String>, Series> tcpByValues = new ConcurrentHashMap<>();
    /** Per event loop: the last tunnel's source labels, the last destination's labels, the probe. */
    private final ThreadLocal<PerThread> perThread = ThreadLocal.withInitial(PerThread::new);
    private final int maxSeries;
    private final Counter dropped;
    private final AtomicBoolean droppedLogged = new AtomicBoolean();

    /** A registry holding at most {@code maxSeries} label sets. */
    public IstioMetrics(int maxSeries) {
        this.maxSeries = maxSeries;
        this.dropped = Counter.builder("waypoint_telemetry_dropped_series")
                .description("Requests not recorded because the label-set cap was reached.").register(registry);
    }

    /** Records one finished request with label values in {@link IstioLabels#NAMES} order. */
    void record(String[] labels, double durationMs, long requestBytes, long responseBytes) {
        record(labels, durationMs, requestBytes, responseBytes, 0, 0);
    }

    /**
     * Records one finished request; for gRPC ({@code request_protocol="grpc"}) also its message
     * counts ({@code istio_request_messages_total}, {@code istio_response_messages_total}).
     */
    void record(String[] labels, double durationMs, long requestBytes, long responseBytes, long requestMessages,
                long responseMessages) {
        Series s = standard(labels.clone());
        if (s == null) {
            return;
        }
        boolean grpc = "grpc".equals(labels[20]);
        for (Metric m : HTTP_METRICS) {
            record(s, m, grpc, durationMs, requestBytes, responseBytes, requestMessages, responseMessages);
        }
    }

    /**
     * Records one finished request without allocating in the steady state: its source labels
     * are computed once per tunnel and its destination labels once per (pod, Service) on each
     * thread (a one-entry cache per event loop: consecutive requests of a tunnel hit it), and
     * its series is found with a reused probe key. Only a new label set allocates.
     */
    void record(RequestContext request, String clusterDomain, String clusterId) {
        record(request, clusterDomain, clusterId, Set.of());
    }

    /** As {@link #record(RequestContext, String, String, String)}, without the metrics in {@code off} (a Telemetry's). */
    void record(RequestContext request, String clusterDomain, String clusterId, Set<Metric> off) {
        record(request, clusterDomain, clusterId, off, Map.of());
    }

    /**
     * As above, with a Telemetry's {@code tagOverrides} compiled per metric ({@link LabelPlan});
     * a metric with a plan takes a slower path that evaluates its CEL values and renders its
     * label set (once per request and distinct plan); the others record into the standard series.
     */
    void record(RequestContext request, String clusterDomain, String clusterId, Set<Metric> off,
                Map<Metric, LabelPlan> tags) {
        RequestOutcome o = request.outcome();
        PerThread t = perThread.get();
        dev.waypoint.model.request.TunnelContext tunnel = request.tunnel();
        if (t.tunnel != tunnel) {
            t.tunnel = tunnel;
            t.source = IstioLabels.sourceValues(tunnel);
            t.sourceHash = Arrays.hashCode(t.source);
        }
        dev.waypoint.model.mesh.PodSpec pod = o.endpointPod();
        Object service = IstioLabels.destination(request); // a ServiceSpec, a ServiceEntrySpec or null
        dev.waypoint.model.mesh.SpiffeId identity = o.endpointIdentity();
        if (!t.destinationSet || t.pod != pod || t.service != service || !java.util.Objects.equals(t.identity, identity)) {
            t.destinationSet = true;
            t.pod = pod;
            t.service = service;
            t.identity = identity;
            t.destination = IstioLabels.destinationValues(pod, identity, service, clusterDomain, clusterId);
            t.destinationHash = Arrays.hashCode(t.destination);
        }
        boolean grpc = request.attributes().grpc();
        Key probe = t.probe;
        probe.set(t.source, t.sourceHash, t.destination, t.destinationHash, grpc, o.status(), o.grpcStatus(), o.flags());
        double durationMs = Math.max(0, o.durationNanos()) / 1e6;
        if (!tags.isEmpty()) {
            recordTagged(request, probe, off, tags, grpc, durationMs);
            return;
        }
        Series s = standard(probe);
        if (s == null) {
            return;
        }
        for (Metric m : HTTP_METRICS) {
            if (!off.contains(m)) {
                record(s, m, grpc, durationMs, o.requestBytes(), o.responseBytes(), o.requestMessages(),
                        o.responseMessages());
            }
        }
    }

    /** The standard-label series of {@code probe}, created when new; null when the cap is reached. */
    private Series standard(Key probe) {
        Series s = byKey.get(probe);
        if (s == null) {
            s = standard(probe.labels());
            if (s != null) {
                byKey.putIfAbsent(probe.copy(), s);
            }
        }
        return s;
    }

    /** The series of label values in {@link IstioLabels#NAMES} order (the array is kept), or null when the cap is reached. */
    private Series standard(String[] labels) {
        List<String> key = Arrays.asList(labels);
        Series s = byValues.get(key);
        if (s == null) {
            s = series(PrometheusText.labels(IstioLabels.NAMES, labels));
            if (s != null) {
                byValues.putIfAbsent(key, s);
            }
        }
        return s;
    }

    /** The series of a rendered label block, created when new; null (a drop counted) when the cap is reached. */
    Series series(String labels) {
        Series s = istio.get(labels);
        if (s == null) {
            if (full()) {
                return null;
            }
            s = istio.getOrCreate(labels);
        }
        return s;
    }

    /** Records metric {@code m} of one request into {@code s}; the message counters only for gRPC. */
    private static void record(Series s, Metric m, boolean grpc, double durationMs, long requestBytes,
                               long responseBytes, long requestMessages, long responseMessages) {
        switch (m) {
            case REQUEST_COUNT -> s.counter(REQUESTS).increment();
            case REQUEST_DURATION -> s.histogram(DURATION).observe(durationMs);
            case REQUEST_SIZE -> s.histogram(REQUEST_BYTES).observe(requestBytes);
            case RESPONSE_SIZE -> s.histogram(RESPONSE_BYTES).observe(responseBytes);
            case GRPC_REQUEST_MESSAGES -> {
                if (grpc) {
                    s.counter(REQUEST_MESSAGES).add(requestMessages);
                }
            }
            case GRPC_RESPONSE_MESSAGES -> {
                if (grpc) {
                    s.counter(RESPONSE_MESSAGES).add(responseMessages);
                }
            }
            default -> {
            }
        }
    }

    /**
     * The tagged path: each metric with a {@link LabelPlan} records into the series its plan
     * renders (CEL attributes built once per request, each distinct plan rendered once); the
     * others into the standard series.
     */
    private void recordTagged(RequestContext request, Key probe, Set<Metric> off, Map<Metric, LabelPlan> tags,
                              boolean grpc, double durationMs) {
        RequestOutcome o = request.outcome();
        String[] base = probe.labels();
        LabelPlan.Attributes lazy = new LabelPlan.Attributes() {
            private Map<String, Object> attributes;

            @Override
            public Map<String, Object> get() {
                return attributes != null ? attributes : (attributes = TelemetryCel.activation(request));
            }
        };
        LabelPlan[] plans = new LabelPlan[HTTP_METRICS.length];
        Series[] rendered = new Series[HTTP_METRICS.length];
        Series standard = null;
        boolean standardTried = false;
        for (int i = 0; i < HTTP_METRICS.length; i++) {
            Metric m = HTTP_METRICS[i];
            if (off.contains(m) || !grpc && (m == Metric.GRPC_REQUEST_MESSAGES || m == Metric.GRPC_RESPONSE_MESSAGES)) {
                continue;
            }
            LabelPlan plan = tags.get(m);
            Series s;
            if (plan == null) {
                if (!standardTried) {
                    standardTried = true;
                    standard = standard(probe);
                }
                s = standard;
            } else {
                s = null;
                boolean seen = false;
                for (int j = 0; j < i; j++) {
                    if (plans[j] == plan) {
                        s = rendered[j];
                        seen = true;
                        break;
                    }
                }
                if (!seen) {
                    s = series(plan.render(base, lazy));
                }
                plans[i] = plan;
                rendered[i] = s;
            }
            if (s != null) {
                record(s, m, grpc, durationMs, o.requestBytes(), o.responseBytes(), o.requestMessages(),
                        o.responseMessages());
            }
        }
    }

    /** The parts of a label set, compared by content; one mutable instance per thread probes the map. */
    private static final class Key {
        private String[] source;
        private int sourceHash;
        private String[] destination;
        private int destinationHash;
        private boolean grpc;
        private int status;
        private int grpcStatus;
        private String flags;
        private int hash;

        void set(String[] source, int sourceHash, String[] destination, int destinationHash, boolean grpc, int status,
                 int grpcStatus, String flags) {
            this.source = source;
            this.sourceHash = sourceHash;
            this.destination = destination;
            this.destinationHash = destinationHash;
            this.grpc = grpc;
            this.status = status;
            this.grpcStatus = grpcStatus;
            this.flags = flags;
            int h = sourceHash * 31 + destinationHash;
            h = h * 31 + (grpc ? 1 : 0);
            h = h * 31 + status;
            h = h * 31 + grpcStatus;
            this.hash = h * 31 + flags.hashCode();
        }

        Key copy() {
            Key k = new Key();
            k.set(source, sourceHash, destination, destinationHash, grpc, status, grpcStatus, flags);
            return k;
        }

        /** The full label values, in {@link IstioLabels#NAMES} order. */
        String[] labels() {
            String[] v = new String[IstioLabels.NAMES.length];
            System.arraycopy(source, 0, v, 0, IstioLabels.SOURCE_COUNT);
            System.arraycopy(destination, 0, v, IstioLabels.SOURCE_COUNT, IstioLabels.DESTINATION_COUNT);
            v[20] = grpc ? "grpc" : "http";
            v[21] = Integer.toString(status);
            v[22] = grpcStatus >= 0 ? Integer.toString(grpcStatus) : "";
            v[23] = flags;
            v[24] = "mutual_tls";
            return v;
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.hash == hash && k.status == status && k.grpcStatus == grpcStatus
                    && k.grpc == grpc && k.flags.equals(flags) && Arrays.equals(k.source, source)
                    && Arrays.equals(k.destination, destination);
        }
    }

    /** One event loop's caches. */
    private static final class PerThread {
        final Key probe = new Key();
        dev.waypoint.model.request.TunnelContext tunnel;
        String[] source;
        int sourceHash;
        boolean destinationSet;
        dev.waypoint.model.mesh.PodSpec pod;
        Object service;
        dev.waypoint.model.mesh.SpiffeId identity;
        String[] destination;
        int destinationHash;
    }

    /** A TCP tunnel opened (its upstream attempt is over), label values in {@link IstioLabels#TCP_NAMES} order. */
    void tcpOpened(String[] labels) {
        tcpOpened(labels, Set.of());
    }

    /** As {@link #tcpOpened(String[])}, unless a Telemetry turned {@code TCP_OPENED_CONNECTIONS} off. */
    void tcpOpened(String[] labels, Set<Metric> off) {
        if (off.contains(Metric.TCP_OPENED_CONNECTIONS)) {
            return;
        }
        Series s = tcp(labels);
        if (s != null) {
            s.counter(TCP_OPENED).increment();
        }
    }

    /** A TCP tunnel closed, with the bytes it relayed each way (since the last {@link #tcpBytes} report, if any). */
    void tcpClosed(String[] labels, long receivedBytes, long sentBytes) {
        tcpClosed(labels, receivedBytes, sentBytes, Set.of());
    }

    /** As {@link #tcpClosed(String[], long, long)}, without the {@code TCP_*} metrics in {@code off}. */
    void tcpClosed(String[] labels, long receivedBytes, long sentBytes, Set<Metric> off) {
        if (off.contains(Metric.TCP_CLOSED_CONNECTIONS) && off.contains(Metric.TCP_RECEIVED_BYTES)
                && off.contains(Metric.TCP_SENT_BYTES)) {
            return;
        }
        Series s = tcp(labels);
        if (s != null) {
            if (!off.contains(Metric.TCP_CLOSED_CONNECTIONS)) {
                s.counter(TCP_CLOSED).increment();
            }
            addBytes(s, receivedBytes, sentBytes, off);
        }
    }

    /**
     * Bytes a live tunnel relayed since its last report (Envoy's periodic TCP stats): adds the
     * deltas to {@code istio_tcp_received_bytes_total} / {@code istio_tcp_sent_bytes_total} of
     * its label set ({@link IstioLabels#TCP_NAMES} order) without counting a close.
     */
    void tcpBytes(String[] labels, long receivedDelta, long sentDelta, Set<Metric> off) {
        if (off.contains(Metric.TCP_RECEIVED_BYTES) && off.contains(Metric.TCP_SENT_BYTES)) {
            return;
        }
        Series s = tcp(labels);
        if (s != null) {
            addBytes(s, receivedDelta, sentDelta, off);
        }
    }

    /**
     * As {@link #tcpOpened(String[], Set)}, with the tunnel's {@code tagOverrides} ({@link TcpTags},
     * evaluated at its open; null: none, the standard series).
     */
    void tcpOpened(String[] labels, Set<Metric> off, TcpTags tags) {
        if (tags == null) {
            tcpOpened(labels, off);
            return;
        }
        if (!off.contains(Metric.TCP_OPENED_CONNECTIONS)) {
            Series s = tcp(labels, tags, TcpTags.OPENED);
            if (s != null) {
                s.counter(TCP_OPENED).increment();
            }
        }
    }

    /** As {@link #tcpClosed(String[], long, long, Set)}, with the tunnel's {@code tagOverrides} (null: none). */
    void tcpClosed(String[] labels, long receivedBytes, long sentBytes, Set<Metric> off, TcpTags tags) {
        if (tags == null) {
            tcpClosed(labels, receivedBytes, sentBytes, off);
            return;
        }
        if (!off.contains(Metric.TCP_CLOSED_CONNECTIONS)) {
            Series s = tcp(labels, tags, TcpTags.CLOSED);
            if (s != null) {
                s.counter(TCP_CLOSED).increment();
            }
        }
        addBytes(labels, receivedBytes, sentBytes, off, tags);
    }

    /** As {@link #tcpBytes(String[], long, long, Set)}, with the tunnel's {@code tagOverrides} (null: none). */
    void tcpBytes(String[] labels, long receivedDelta, long sentDelta, Set<Metric> off, TcpTags tags) {
        if (tags == null) {
            tcpBytes(labels, receivedDelta, sentDelta, off);
            return;
        }
        addBytes(labels, receivedDelta, sentDelta, off, tags);
    }

    private void addBytes(String[] labels, long received, long sent, Set<Metric> off, TcpTags tags) {
        if (!off.contains(Metric.TCP_RECEIVED_BYTES)) {
            Series s = tcp(labels, tags, TcpTags.RECEIVED);
            if (s != null) {
                s.counter(TCP_RECEIVED).add(received);
            }
        }
        if (!off.contains(Metric.TCP_SENT_BYTES)) {
            Series s = tcp(labels, tags, TcpTags.SENT);
            if (s != null) {
                s.counter(TCP_SENT).add(sent);
            }
        }
    }

    /** The series of TCP metric {@code index}: its tagged one, or the standard one when it has no plan. */
    private Series tcp(String[] labels, TcpTags tags, int index) {
        return tags.tagged(index) ? tags.series(index, labels, this) : tcp(labels);
    }

    private static void addBytes(Series s, long received, long sent, Set<Metric> off) {
        if (!off.contains(Metric.TCP_RECEIVED_BYTES)) {
            s.counter(TCP_RECEIVED).add(received);
        }
        if (!off.contains(Metric.TCP_SENT_BYTES)) {
            s.counter(TCP_SENT).add(sent);
        }
    }

    private Series tcp(String[] labels) {
        List<String> key = Arrays.asList(labels);
        Series s = tcpByValues.get(key);
        if (s == null) {
            s = series(PrometheusText.labels(IstioLabels.TCP_NAMES, labels));
            if (s != null) {
                tcpByValues.putIfAbsent(List.copyOf(key), s);
            }
        }
        return s;
    }

    /** The cap is reached: counts the drop (and logs the first one). */
    private boolean full() {
        if (istio.size() < maxSeries) {
            return false;
        }
        dropped.increment();
        if (droppedLogged.compareAndSet(false, true)) {
            log.warn("telemetry: {} label sets reached; further new ones are counted in "
                    + "waypoint_telemetry_dropped_series_total, not recorded", maxSeries);
        }
        return true;
    }

    /**
     * The Micrometer registry behind {@code /stats/prometheus}, for other stages' meters (proxy-wasm
     * plugin metrics): whatever is registered here is in {@link #scrape()}. Not for {@code istio_*}
     * names (those are written from this class's own registry).
     */
    public io.micrometer.core.instrument.MeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition (0.0.4) of Istio's metrics, then of the Micrometer registry's meters. */
    public String scrape() {
        StringBuilder b = new StringBuilder(4096);
        istio.writeTo(b);
        b.append(registry.scrape());
        return b.toString();
    }

    /** Label sets recorded so far (HTTP and TCP). */
    public int seriesCount() {
        return istio.size();
    }
}
