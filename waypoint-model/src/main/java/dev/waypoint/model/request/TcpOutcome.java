package dev.waypoint.model.request;

import java.util.Objects;

/**
 * How one TCP tunnel ended: the TCP counterpart of {@link RequestOutcome}. Opened by the
 * listener when a TCP tunnel's upstream is about to be connected, given its endpoint by the
 * load balancer, its byte counts by the relay, and {@linkplain #close closed exactly once}: when
 * the tunnel's stream closes, or when the tunnel is refused before it opened (upstream failure,
 * L4 policy deny). Metrics and the access log render it once, after it is closed.
 *
 * <h2>Threading</h2>
 * Confined to the tunnel's event loop.
 */
public final class TcpOutcome {
    private final long startNanos;
    private String flags = "-";
    private String details = "-";
    private String endpoint;
    private dev.waypoint.model.mesh.PodSpec endpointPod;
    private dev.waypoint.model.mesh.SpiffeId endpointIdentity;
    private long receivedBytes;
    private long sentBytes;
    private long endNanos;
    private boolean closed;

    /** Opens the outcome of a tunnel that started at {@code startNanos} ({@link System#nanoTime()} scale). */
    public TcpOutcome(long startNanos) {
        this.startNanos = startNanos;
    }

    /**
     * Closes the outcome; only the first call counts.
     *
     * @return true if this call closed it
     */
    public boolean close(long nowNanos) {
        if (closed) {
            return false;
        }
        closed = true;
        endNanos = nowNanos;
        return true;
    }

    /** Whether {@link #close} was called. */
    public boolean closed() {
        return closed;
    }

    /**
     * Records the upstream endpoint ({@code ip:port}), the pod behind it (or null) and the identity
     * its destination ztunnel presents (null when it is reached in plaintext, outside the mesh).
     */
    public void endpoint(String endpoint, dev.waypoint.model.mesh.PodSpec pod, dev.waypoint.model.mesh.SpiffeId identity) {
        this.endpoint = endpoint;
        this.endpointPod = pod;
        this.endpointIdentity = identity;
    }

    /** The identity the endpoint presents over HBONE, or null (plaintext, or none picked). */
    public dev.waypoint.model.mesh.SpiffeId endpointIdentity() {
        return endpointIdentity;
    }

    /** The upstream endpoint, or null when none was picked. */
    public String endpoint() {
        return endpoint;
    }

    /** The pod behind {@link #endpoint()}, or null. */
    public dev.waypoint.model.mesh.PodSpec endpointPod() {
        return endpointPod;
    }

    /**
     * Records Envoy's response flags ({@code UF}, {@code UH}, {@code RBAC}, {@code DC}) and the
     * connection termination details (a {@link Rejection.Reason#code()}).
     */
    public void flags(String flags, String details) {
        this.flags = Objects.requireNonNull(flags, "flags");
        this.details = Objects.requireNonNull(details, "details");
    }

    /** Envoy-style response flags; {@code -} for none. */
    public String flags() {
        return flags;
    }

    /** Why the waypoint ended or refused the tunnel; {@code -} when it ran its course. */
    public String details() {
        return details;
    }

    /** Adds bytes received from the client (relayed to the upstream). */
    public void addReceived(long n) {
        receivedBytes += n;
    }

    /** Adds bytes sent to the client (relayed from the upstream). */
    public void addSent(long n) {
        sentBytes += n;
    }

    /** Bytes received from the client. */
    public long receivedBytes() {
        return receivedBytes;
    }

    /** Bytes sent to the client. */
    public long sentBytes() {
        return sentBytes;
    }

    /** When the tunnel started. */
    public long startNanos() {
        return startNanos;
    }

    /** Nanoseconds from the start to the close; -1 while open. */
    public long durationNanos() {
        return closed ? endNanos - startNanos : -1;
    }

    @Override
    public String toString() {
        return (closed ? "closed" : "open") + " " + flags + " " + details + " endpoint=" + endpoint + " bytes="
                + receivedBytes + "/" + sentBytes;
    }
}
