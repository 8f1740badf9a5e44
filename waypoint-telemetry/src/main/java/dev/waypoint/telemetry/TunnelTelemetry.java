package dev.waypoint.telemetry;

import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.request.TunnelObserver;

/**
 * Telemetry of tunnels. Every CONNECT is answered with the waypoint's own {@code baggage}
 * ({@link #connectBaggage}), as a destination ztunnel answers, so the source ztunnel's telemetry
 * sees the waypoint as its peer. TCP tunnels run no filter list: the listener reports each one when its
 * upstream attempt is over ({@code istio_tcp_connections_opened_total}) and once when it ends
 * ({@code istio_tcp_connections_closed_total}, {@code istio_tcp_received_bytes_total},
 * {@code istio_tcp_sent_bytes_total}, and one access-log line). Bytes are counted when the tunnel
 * ends, not periodically as Envoy's stats filter also does for long connections.
 *
 * <h2>Threading</h2>
 * Called on tunnels' event loops; never blocks (the access log is an async writer).
 */
public final class TunnelTelemetry implements TunnelObserver {
    private final IstioMetrics metrics;
    private final dev.waypoint.model.SnapshotSource snapshots;
    private final AccessLogSettings fallbackLog;
    private final String trustDomain;
    private final String clusterDomain;
    private final String clusterId;
    private final String baggage;

    /**
     * @param accessLog where lines go, or null for no access log
     * @param clusterId this cluster's id for {@code destination_cluster} (Istio's default: {@code Kubernetes})
     * @param waypoint the waypoint's Gateway: Istio names the waypoint's Deployment after it and
     *        gives its pods {@code service.istio.io/canonical-name: <name>}, revision {@code latest}
     */
    public TunnelTelemetry(IstioMetrics metrics, AccessLog accessLog, String trustDomain, String clusterDomain,
                           String clusterId, dev.waypoint.model.mesh.NamespacedName waypoint) {
        this(metrics, accessLog, null, trustDomain, clusterDomain, clusterId, waypoint);
    }

    /**
     * @param snapshots where the access log in force is read ({@link AccessLogSettings}) when a
     *        tunnel ends; null: {@code accessLog} (or none) always
     */
    public TunnelTelemetry(IstioMetrics metrics, AccessLog accessLog, dev.waypoint.model.SnapshotSource snapshots,
                           String trustDomain, String clusterDomain, String clusterId,
                           dev.waypoint.model.mesh.NamespacedName waypoint) {
        this.metrics = metrics;
        this.snapshots = snapshots;
        this.fallbackLog = accessLog == null ? AccessLogSettings.OFF
                : new AccessLogSettings(accessLog, "--access-log", AccessLogFormat.ISTIO_TEXT);
        this.trustDomain = trustDomain;
        this.clusterDomain = clusterDomain;
        this.clusterId = clusterId;
        this.baggage = Baggage.of(clusterId, waypoint.namespace(), "deployment", waypoint.name(), waypoint.name(),
                "latest");
    }

    @Override
    public String connectBaggage() {
        return baggage;
    }

    @Override
    public void tcpOpened(TunnelContext tunnel, TcpOutcome outcome) {
        TelemetryPolicies.Effective t = telemetry(tunnel);
        metrics.tcpOpened(IstioLabels.tcpValues(tunnel, outcome, trustDomain, clusterDomain, clusterId),
                t == null ? java.util.Set.of() : t.disabledMetrics());
    }

    /**
     * The Telemetry API's settings for the tunnel's Service in the current snapshot, or null.
     * Its {@code TCP_*} metric overrides and {@code accessLogging.disabled} apply; a CEL
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
        metrics.tcpClosed(IstioLabels.tcpValues(tunnel, outcome, trustDomain, clusterDomain, clusterId),
                outcome.receivedBytes(), outcome.sentBytes(), t == null ? java.util.Set.of() : t.disabledMetrics());
        if (t != null && t.logDisabled()) {
            return;
        }
        dev.waypoint.model.ConfigSnapshot snapshot = snapshots == null ? null : snapshots.current();
        AccessLogSettings logs = snapshot != null && snapshot.has(AccessLogSettings.PART)
                ? snapshot.part(AccessLogSettings.PART) : fallbackLog;
        logs.write(t, new LogEntries.Tcp(tunnel, outcome, clusterDomain, java.time.Instant.now()));
    }
}
