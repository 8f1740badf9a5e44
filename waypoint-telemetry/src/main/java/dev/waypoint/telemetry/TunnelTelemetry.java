package dev.waypoint.telemetry;

import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.request.TunnelObserver;

/**
 * Telemetry of tunnels. Every CONNECT is answered with the waypoint's own {@code baggage}
 * ({@link #connectBaggage}), as a destination ztunnel answers, so the source ztunnel's telemetry
 * sees the waypoint as its peer. TCP tunnels run no filter list: the listener reports each one when its
 * upstream attempt is over ({@code istio_tcp_connections_opened_total}) and once when it ends
 * ({@code istio_tcp_connections_closed_total} and one access-log line). Bytes
 * ({@code istio_tcp_received_bytes_total}, {@code istio_tcp_sent_bytes_total}) are reported while
 * a tunnel relays, every {@code tcp_reporting_duration} as Istio's stats filter does (5 s, or the
 * Telemetry API's {@code metrics[].reportingInterval} for the tunnel's Service: {@link TcpReports}),
 * and the remainder when it ends. A Telemetry's {@code tagOverrides} on the {@code TCP_*} metrics
 * are evaluated once per tunnel, when it opens ({@link TcpTags}); its reports and its close are
 * labelled from that result.
 *
 * <h2>Threading</h2>
 * Called on tunnels' event loops; never blocks (the access log is an async writer).
 */
public final class TunnelTelemetry implements TunnelObserver {
    private final IstioMetrics metrics;
    private final dev.waypoint.model.SnapshotSource snapshots;
    private final AccessLogSettings fallbackLog;
    private final String clusterDomain;
    private final String clusterId;
    private final String baggage;
    private final TcpReports reports = new TcpReports(this::report);
    /**
     * Open tunnels with {@code tagOverrides} on a TCP metric ({@link TcpTags}, evaluated at their
     * open), until their close; empty (and never read past an {@code isEmpty}) when no Telemetry
     * has any.
     */
    private final java.util.Map<TcpOutcome, TcpTags> tagged = new java.util.concurrent.ConcurrentHashMap<>();
    /** The interval when no Telemetry sets {@code reportingInterval} (Istio's 5 s; tests shorten it). */
    private long defaultIntervalNanos = TcpReports.DEFAULT_INTERVAL_NANOS;

    /**
     * @param accessLog where lines go, or null for no access log
     * @param clusterId this cluster's id for {@code destination_cluster} (Istio's default: {@code Kubernetes})
     * @param waypoint the waypoint's Gateway: Istio names the waypoint's Deployment after it and
     *        gives its pods {@code service.istio.io/canonical-name: <name>}, revision {@code latest}
     */
    public TunnelTelemetry(IstioMetrics metrics, AccessLog accessLog, String clusterDomain, String clusterId,
                           dev.waypoint.model.mesh.NamespacedName waypoint) {
        this(metrics, accessLog, null, clusterDomain, clusterId, waypoint);
    }

    /**
     * @param snapshots where the access log in force is read ({@link AccessLogSettings}) when a
     *        tunnel ends; null: {@code accessLog} (or none) always
     */
    public TunnelTelemetry(IstioMetrics metrics, AccessLog accessLog, dev.waypoint.model.SnapshotSource snapshots,
                           String clusterDomain, String clusterId, dev.waypoint.model.mesh.NamespacedName waypoint) {
        this.metrics = metrics;
        this.snapshots = snapshots;
        this.fallbackLog = accessLog == null ? AccessLogSettings.OFF
                : new AccessLogSettings(accessLog, "--access-log", AccessLogFormat.ISTIO_TEXT);
        this.clusterDomain = clusterDomain;
        this.clusterId = clusterId;
        this.baggage = Baggage.of(clusterId, waypoint.namespace(), "deployment", waypoint.name(), waypoint.name(),
                "latest");
    }

    @Override
    public String connectBaggage() {
        return baggage;
    }

    /**
     * Reports open TCP tunnels' bytes periodically ({@link TcpReports}) for tunnels on
     * {@code dataPlane}, the event loops the listener runs tunnels on; without it bytes are
     * recorded when a tunnel ends.
     *
     * @return this
     */
    public TunnelTelemetry reportOn(io.netty.channel.EventLoopGroup dataPlane) {
        reports.reportOn(java.util.Objects.requireNonNull(dataPlane, "dataPlane"));
        return this;
    }

    /** Sets the reporting interval used when no Telemetry sets one (package-private: tests). */
    TunnelTelemetry defaultReportingInterval(java.time.Duration interval) {
        this.defaultIntervalNanos = interval.toNanos();
        return this;
    }

    @Override
    public void tcpOpened(TunnelContext tunnel, TcpOutcome outcome) {
        TelemetryPolicies.Effective t = telemetry(tunnel);
        String[] labels = IstioLabels.tcpValues(tunnel, outcome, clusterDomain, clusterId);
        // tagOverrides on TCP_* metrics: their CEL runs once, now; the reports and the close reuse it
        TcpTags tags = t == null ? null : TcpTags.of(t.tcpTags(), tunnel, outcome);
        if (tags != null) {
            tagged.put(outcome, tags);
        }
        metrics.tcpOpened(labels, t == null ? java.util.Set.of() : t.disabledMetrics(), tags);
        if (!outcome.closed() && "-".equals(outcome.flags())) { // relaying (a refused tunnel is closed at once)
            reports.open(tunnel, outcome, labels, tags, t != null && t.tcpReportingInterval() != null
                    ? t.tcpReportingInterval().toNanos() : defaultIntervalNanos);
        }
    }

    /**
     * A periodic report of an open tunnel ({@link TcpReports}), with the current snapshot's TCP_*
     * overrides and the tags evaluated at its open.
     */
    private void report(TunnelContext tunnel, String[] labels, TcpTags tags, long receivedBytes, long sentBytes) {
        TelemetryPolicies.Effective t = telemetry(tunnel);
        metrics.tcpBytes(labels, receivedBytes, sentBytes, t == null ? java.util.Set.of() : t.disabledMetrics(), tags);
    }

    /** Open tunnels with periodic reports (tests). */
    int reportedTunnels() {
        return reports.openTunnels();
    }

    /**
     * The Telemetry API's settings for the tunnel's Service in the current snapshot, or null.
     * Its {@code TCP_*} metric overrides (disabled metrics, {@code tagOverrides}) and
     * {@code accessLogging.disabled} apply; a CEL
     * {@code filter} is for HTTP requests (its attributes are a request's) and is not applied to
     * TCP lines.
     */
    private TelemetryPolicies.Effective telemetry(TunnelContext tunnel) {
        dev.waypoint.model.ConfigSnapshot snapshot = snapshots == null ? null : snapshots.current();
        if (snapshot == null || !snapshot.has(TelemetryPolicies.PART)) {
            return null;
        }
        TelemetryPolicies p = snapshot.part(TelemetryPolicies.PART);
        return p.none() ? null : p.of(tunnel.target() instanceof dev.waypoint.model.request.Target.ServiceTarget s
                ? s.service() : null);
    }

    @Override
    public void tcpClosed(TunnelContext tunnel, TcpOutcome outcome) {
        TelemetryPolicies.Effective t = telemetry(tunnel);
        long[] reported = reports.close(outcome); // what the periodic reports already counted
        TcpTags tags = tagged.isEmpty() ? null : tagged.remove(outcome); // as evaluated at the open
        metrics.tcpClosed(IstioLabels.tcpValues(tunnel, outcome, clusterDomain, clusterId),
                outcome.receivedBytes() - reported[0], outcome.sentBytes() - reported[1],
                t == null ? java.util.Set.of() : t.disabledMetrics(), tags);
        if (t != null && t.logDisabled()) {
            return;
        }
        dev.waypoint.model.ConfigSnapshot snapshot = snapshots == null ? null : snapshots.current();
        AccessLogSettings logs = snapshot != null && snapshot.has(AccessLogSettings.PART)
                ? snapshot.part(AccessLogSettings.PART) : fallbackLog;
        logs.write(t, new LogEntries.Tcp(tunnel, outcome, clusterDomain, java.time.Instant.now()));
    }
}
