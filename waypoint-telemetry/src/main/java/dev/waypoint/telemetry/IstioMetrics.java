package dev.waypoint.telemetry;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Istio's standard HTTP/gRPC metrics with Istio's names, labels and buckets, in a Micrometer
 * Prometheus registry: {@code istio_requests_total}, {@code istio_request_duration_milliseconds},
 * {@code istio_request_bytes}, {@code istio_response_bytes}; for gRPC {@code istio_request_messages_total}
 * and {@code istio_response_messages_total}; for TCP tunnels {@code istio_tcp_connections_opened_total},
 * {@code istio_tcp_connections_closed_total}, {@code istio_tcp_sent_bytes_total},
 * {@code istio_tcp_received_bytes_total}.
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
    /** The request path's index of the same series: a key of parts, probed without allocating. */
    private final Map<Key, Series> byKey = new ConcurrentHashMap<>();
    /** Per event loop: the last tunnel's source labels, the last destination's labels, the probe. */
    private final ThreadLocal<PerThread> perThread = ThreadLocal.withInitial(PerThread::new);
    private final Map<List<String>, TcpSeries> tcpSeries = new ConcurrentHashMap<>();
    private final int maxSeries;
    private final Counter dropped;
    private final AtomicBoolean droppedLogged = new AtomicBoolean();

    /**
     * One HTTP label set. Its meters are registered on first use, so a metric a Telemetry disables
     * for this destination never shows up in the scrape; the message counters only for gRPC.
     */
    private final class Series {
        private final Tags tags;
        private final boolean grpc;
        private volatile Counter requests;
        private volatile DistributionSummary duration;
        private volatile DistributionSummary requestBytes;
        private volatile DistributionSummary responseBytes;
        private volatile Counter requestMessages;
        private volatile Counter responseMessages;

        Series(Tags tags, boolean grpc) {
            this.tags = tags;
            this.grpc = grpc;
        }

        Counter requests() {
            Counter c = requests;
            return c != null ? c : (requests = Counter.builder("istio_requests")
                    .description("Requests handled, by Istio's standard labels.").tags(tags).register(registry));
        }

        DistributionSummary duration() {
            DistributionSummary d = duration;
            return d != null ? d : (duration = DistributionSummary.builder("istio_request_duration_milliseconds")
                    .description("Request duration, ms.").serviceLevelObjectives(DURATION_BUCKETS_MS).tags(tags)
                    .register(registry));
        }

        DistributionSummary requestBytes() {
            DistributionSummary d = requestBytes;
            return d != null ? d : (requestBytes = DistributionSummary.builder("istio_request_bytes")
                    .description("Request body sizes, bytes.").serviceLevelObjectives(SIZE_BUCKETS).tags(tags)
                    .register(registry));
        }

        DistributionSummary responseBytes() {
            DistributionSummary d = responseBytes;
            return d != null ? d : (responseBytes = DistributionSummary.builder("istio_response_bytes")
                    .description("Response body sizes, bytes.").serviceLevelObjectives(SIZE_BUCKETS).tags(tags)
                    .register(registry));
        }

        /** Null unless {@code request_protocol="grpc"}. */
        Counter requestMessages() {
            Counter c = requestMessages;
            return c != null || !grpc ? c : (requestMessages = Counter.builder("istio_request_messages")
                    .description("gRPC messages received from the client.").tags(tags).register(registry));
        }

        Counter responseMessages() {
            Counter c = responseMessages;
            return c != null || !grpc ? c : (responseMessages = Counter.builder("istio_response_messages")
                    .description("gRPC messages sent to the client.").tags(tags).register(registry));
        }

        /** Records one request, skipping the metrics in {@code off}. */
        void record(Set<Metric> off, double durationMs, long reqBytes, long respBytes, long reqMessages,
                    long respMessages) {
            if (!off.contains(Metric.REQUEST_COUNT)) {
                requests().increment();
            }
            if (!off.contains(Metric.REQUEST_DURATION)) {
                duration().record(durationMs);
            }
            if (!off.contains(Metric.REQUEST_SIZE)) {
                requestBytes().record(reqBytes);
            }
            if (!off.contains(Metric.RESPONSE_SIZE)) {
                responseBytes().record(respBytes);
            }
            if (grpc) {
                if (!off.contains(Metric.GRPC_REQUEST_MESSAGES)) {
                    requestMessages().increment(reqMessages);
                }
                if (!off.contains(Metric.GRPC_RESPONSE_MESSAGES)) {
                    responseMessages().increment(respMessages);
                }
            }
        }
    }

    /** One TCP label set; its counters registered on first use (a Telemetry may disable some). */
    private final class TcpSeries {
        private final Tags tags;
        private volatile Counter opened;
        private volatile Counter closed;
        private volatile Counter sent;
        private volatile Counter received;

        TcpSeries(Tags tags) {
            this.tags = tags;
        }

        Counter opened() {
            Counter c = opened;
            return c != null ? c : (opened = Counter.builder("istio_tcp_connections_opened")
                    .description("TCP connections opened.").tags(tags).register(registry));
        }

        Counter closed() {
            Counter c = closed;
            return c != null ? c : (closed = Counter.builder("istio_tcp_connections_closed")
                    .description("TCP connections closed.").tags(tags).register(registry));
        }

        Counter sent() {
            Counter c = sent;
            return c != null ? c : (sent = Counter.builder("istio_tcp_sent_bytes")
                    .description("Bytes sent to the client on TCP connections.").tags(tags).register(registry));
        }

        Counter received() {
            Counter c = received;
            return c != null ? c : (received = Counter.builder("istio_tcp_received_bytes")
                    .description("Bytes received from the client on TCP connections.").tags(tags).register(registry));
        }
    }

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
     * Records one finished request; for gRPC also its message counts
     * ({@code istio_request_messages_total}, {@code istio_response_messages_total}).
     */
    void record(String[] labels, double durationMs, long requestBytes, long responseBytes, long requestMessages,
                long responseMessages) {
        List<String> key = Arrays.asList(labels);
        Series s = series.get(key);
        if (s == null) {
            if (full()) {
                return;
            }
            s = series.computeIfAbsent(key, k -> create(labels));
        }
        s.record(Set.of(), durationMs, requestBytes, responseBytes, requestMessages, responseMessages);
    }

    /**
     * Records one finished request without allocating in the steady state: its source labels
     * are computed once per tunnel and its destination labels once per (pod, Service) on each
     * thread (a one-entry cache per event loop: consecutive requests of a tunnel hit it), and
     * its series is found with a reused probe key. Only a new label set allocates.
     */
    void record(dev.waypoint.model.request.RequestContext request, String trustDomain, String clusterDomain,
                String clusterId) {
        record(request, trustDomain, clusterDomain, clusterId, Set.of());
    }

    /** As {@link #record(dev.waypoint.model.request.RequestContext, String, String, String)}, without the metrics in {@code off} (a Telemetry's). */
    void record(dev.waypoint.model.request.RequestContext request, String trustDomain, String clusterDomain,
                String clusterId, Set<Metric> off) {
        record(request, trustDomain, clusterDomain, clusterId, off, Map.of());
    }

    /**
     * As above, with a Telemetry's {@code tagOverrides} (label index → CEL value or
     * {@link TelemetryPolicies.Effective#REMOVE}) per metric; non-empty {@code tags} take a slower
     * path that evaluates them (once per request and metric) and finds each metric's series.
     */
    void record(dev.waypoint.model.request.RequestContext request, String trustDomain, String clusterDomain,
                String clusterId, Set<Metric> off, Map<Metric, Map<Integer, TelemetryCel.Expression>> tags) {
        dev.waypoint.model.request.RequestOutcome o = request.outcome();
        PerThread t = perThread.get();
        dev.waypoint.model.request.TunnelContext tunnel = request.tunnel();
        if (t.tunnel != tunnel) {
            t.tunnel = tunnel;
            t.source = IstioLabels.sourceValues(tunnel);
            t.sourceHash = Arrays.hashCode(t.source);
        }
        dev.waypoint.model.mesh.PodSpec pod = o.endpointPod();
        Object service = IstioLabels.destination(request); // a ServiceSpec, a ServiceEntrySpec or null
        boolean known = o.endpoint() != null;
        if (!t.destinationSet || t.pod != pod || t.service != service || t.known != known) {
            t.destinationSet = true;
            t.pod = pod;
            t.service = service;
            t.known = known;
            t.destination = IstioLabels.destinationValues(pod, known, service, trustDomain, clusterDomain, clusterId);
            t.destinationHash = Arrays.hashCode(t.destination);
        }
        Key probe = t.probe;
        probe.set(t.source, t.sourceHash, t.destination, t.destinationHash, request.attributes().grpc(), o.status(),
                o.grpcStatus(), o.flags());
        if (!tags.isEmpty()) {
            recordTagged(request, probe.labels(), off, tags);
            return;
        }
        Series s = byKey.get(probe);
        if (s == null) {
            String[] labels = probe.labels();
            s = series.get(Arrays.asList(labels));
            if (s == null) {
                if (full()) {
                    return;
                }
                s = series.computeIfAbsent(Arrays.asList(labels), k -> create(labels));
            }
            byKey.putIfAbsent(probe.copy(), s);
        }
        s.record(off, Math.max(0, o.durationNanos()) / 1e6, o.requestBytes(), o.responseBytes(), o.requestMessages(),
                o.responseMessages());
    }

    private static final Metric[] HTTP_METRICS = {Metric.REQUEST_COUNT, Metric.REQUEST_DURATION, Metric.REQUEST_SIZE,
            Metric.RESPONSE_SIZE, Metric.GRPC_REQUEST_MESSAGES, Metric.GRPC_RESPONSE_MESSAGES};

    private void recordTagged(dev.waypoint.model.request.RequestContext request, String[] base, Set<Metric> off,
                              Map<Metric, Map<Integer, TelemetryCel.Expression>> tags) {
        dev.waypoint.model.request.RequestOutcome o = request.outcome();
        Map<String, Object> attributes = null;
        Set<Metric> only = java.util.EnumSet.noneOf(Metric.class);
        for (Metric m : HTTP_METRICS) {
            if (off.contains(m)) {
                continue;
            }
            Map<Integer, TelemetryCel.Expression> rewrite = tags.getOrDefault(m, Map.of());
            String[] labels = base;
            if (!rewrite.isEmpty()) {
                labels = base.clone();
                for (Map.Entry<Integer, TelemetryCel.Expression> e : rewrite.entrySet()) {
                    if (e.getValue() == TelemetryPolicies.Effective.REMOVE) {
                        labels[e.getKey()] = "";
                        continue;
                    }
                    if (attributes == null) {
                        attributes = TelemetryCel.activation(request);
                    }
                    try {
                        Object v = e.getValue().eval(attributes);
                        labels[e.getKey()] = v == null ? IstioLabels.UNKNOWN : String.valueOf(v);
                    } catch (dev.cel.runtime.CelEvaluationException ex) {
                        labels[e.getKey()] = IstioLabels.UNKNOWN; // a missing header, say
                    }
                }
            }
            List<String> key = Arrays.asList(labels);
            Series s = series.get(key);
            if (s == null) {
                if (full()) {
                    continue;
                }
                String[] l = labels;
                s = series.computeIfAbsent(key, k -> create(l));
            }
            // every other metric off: this series records m only
            only.clear();
            for (Metric x : Metric.values()) {
                if (x != m) {
                    only.add(x);
                }
            }
            s.record(only, Math.max(0, o.durationNanos()) / 1e6, o.requestBytes(), o.responseBytes(), o.requestMessages(),
                    o.responseMessages());
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
        boolean known;
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
        TcpSeries s = tcp(labels);
        if (s != null) {
            s.opened().increment();
        }
    }

    /** A TCP tunnel closed, with the bytes it relayed each way. */
    void tcpClosed(String[] labels, long receivedBytes, long sentBytes) {
        tcpClosed(labels, receivedBytes, sentBytes, Set.of());
    }

    /** As {@link #tcpClosed(String[], long, long)}, without the {@code TCP_*} metrics in {@code off}. */
    void tcpClosed(String[] labels, long receivedBytes, long sentBytes, Set<Metric> off) {
        if (off.contains(Metric.TCP_CLOSED_CONNECTIONS) && off.contains(Metric.TCP_RECEIVED_BYTES)
                && off.contains(Metric.TCP_SENT_BYTES)) {
            return;
        }
        TcpSeries s = tcp(labels);
        if (s != null) {
            if (!off.contains(Metric.TCP_CLOSED_CONNECTIONS)) {
                s.closed().increment();
            }
            if (!off.contains(Metric.TCP_RECEIVED_BYTES)) {
                s.received().increment(receivedBytes);
            }
            if (!off.contains(Metric.TCP_SENT_BYTES)) {
                s.sent().increment(sentBytes);
            }
        }
    }

    /**
     * A periodic report of an open TCP tunnel: the bytes relayed since its last report, without
     * the {@code TCP_*} byte metrics in {@code off} (the opened/closed counters are untouched).
     */
    void tcpBytes(String[] labels, long receivedBytes, long sentBytes, Set<Metric> off) {
        if (off.contains(Metric.TCP_RECEIVED_BYTES) && off.contains(Metric.TCP_SENT_BYTES)) {
            return;
        }
        TcpSeries s = tcp(labels);
        if (s != null) {
            if (!off.contains(Metric.TCP_RECEIVED_BYTES) && receivedBytes > 0) {
                s.received().increment(receivedBytes);
            }
            if (!off.contains(Metric.TCP_SENT_BYTES) && sentBytes > 0) {
                s.sent().increment(sentBytes);
            }
        }
    }

    private TcpSeries tcp(String[] labels) {
        List<String> key = Arrays.asList(labels);
        TcpSeries s = tcpSeries.get(key);
        if (s == null) {
            if (full()) {
                return null;
            }
            s = tcpSeries.computeIfAbsent(key, k -> createTcp(labels));
        }
        return s;
    }

    /** The cap is reached: counts the drop (and logs the first one). */
    private boolean full() {
        if (series.size() + tcpSeries.size() < maxSeries) {
            return false;
        }
        dropped.increment();
        if (droppedLogged.compareAndSet(false, true)) {
            log.warn("telemetry: {} label sets reached; further new ones are counted in "
                    + "waypoint_telemetry_dropped_series_total, not recorded", maxSeries);
        }
        return true;
    }

    private static Tags tags(String[] names, String[] labels) {
        String[] kv = new String[labels.length * 2];
        for (int i = 0; i < labels.length; i++) {
            kv[2 * i] = names[i];
            kv[2 * i + 1] = labels[i];
        }
        return Tags.of(kv);
    }

    private TcpSeries createTcp(String[] labels) {
        return new TcpSeries(tags(IstioLabels.TCP_NAMES, labels));
    }

    private Series create(String[] labels) {
        return new Series(tags(IstioLabels.NAMES, labels), "grpc".equals(labels[20]));
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

    /** Label sets recorded so far (HTTP and TCP). */
    public int seriesCount() {
        return series.size() + tcpSeries.size();
    }
}
