package dev.waypoint.model.request;

import java.util.Objects;

/**
 * How one request ended: opened by the exchange handler when the request starts, filled in by the
 * stages as they decide (route, endpoint, attempts), and {@linkplain #close closed exactly once}
 * whichever way the request ends: a response, a local reply, a reset on either side, a timeout,
 * the client going away. Metrics, the access log and spans are all rendered from this one object
 * after it is closed (STYLE rule 12), so nothing re-derives what happened.
 *
 * <h2>Threading</h2>
 * Confined to the request's event loop.
 */
public final class RequestOutcome {
    /** How the request ended. */
    public enum End {
        /** The upstream's response was relayed completely. */
        RESPONSE,
        /** The waypoint answered (a {@link Rejection}: no route, no endpoint, policy, timeout, malformed request). */
        LOCAL_REPLY,
        /** The upstream reset or closed after the response had started: the client's stream was reset. */
        UPSTREAM_RESET,
        /**
         * The client went away (reset, closed the tunnel) before the exchange was complete, or
         * broke the protocol after the response had started (its stream was reset).
         */
        DOWNSTREAM_RESET
    }

    private final long startNanos;
    private int status;
    private String flags = "-";
    private String reason = "via_upstream";
    private String route;
    private String endpoint;
    private dev.waypoint.model.mesh.PodSpec endpointPod;
    private dev.waypoint.model.mesh.SpiffeId endpointIdentity;
    private int attempts;
    private int grpcStatus = -1;
    private long requestBytes;
    private long responseBytes;
    private long requestMessages;
    private long responseMessages;
    private long responseStartNanos;
    private long endNanos;
    private End end;

    /** Opens the outcome of a request that started at {@code startNanos} ({@link System#nanoTime()} scale). */
    public RequestOutcome(long startNanos) {
        this.startNanos = startNanos;
    }

    /**
     * Closes the outcome; only the first call counts.
     *
     * @return true if this call closed it, false if it was already closed
     */
    public boolean close(End end, long nowNanos) {
        Objects.requireNonNull(end, "end");
        if (this.end != null) {
            return false;
        }
        this.end = end;
        this.endNanos = nowNanos;
        return true;
    }

    /** Whether {@link #close} was called. */
    public boolean closed() {
        return end != null;
    }

    /** How it ended, or null while open. */
    public End end() {
        return end;
    }

    /** Records the response status sent to the client (final response, local reply). */
    public void status(int status) {
        this.status = status;
    }

    /** The HTTP status the client got; 0 when it got none (reset before a response). */
    public int status() {
        return status;
    }

    /**
     * Records Envoy's response flags ({@code UH}, {@code UF}, {@code UC}, {@code UR}, {@code DC},
     * {@code UT}, {@code NR}, {@code DPE}, ...) and the response code details ({@code via_upstream},
     * or a {@link Rejection.Reason#code()}).
     */
    public void flags(String flags, String reason) {
        this.flags = Objects.requireNonNull(flags, "flags");
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** Envoy-style response flags; {@code -} for none. */
    public String flags() {
        return flags;
    }

    /** Response code details: {@code via_upstream} or the reason code of a local reply or reset. */
    public String reason() {
        return reason;
    }

    /** Records the route taken (its name for logs and metrics). */
    public void route(String route) {
        this.route = route;
    }

    /** The route name, or null when no route was chosen. */
    public String route() {
        return route;
    }

    /**
     * Records the endpoint of the latest attempt and counts the attempt.
     *
     * @param pod the pod behind it (destination workload labels), or null for an address without one
     * @param identity the identity its destination ztunnel presents, or null when it is reached in
     *        plaintext (outside the mesh): Istio's {@code destination_principal}
     */
    public void attempt(String endpoint, dev.waypoint.model.mesh.PodSpec pod, dev.waypoint.model.mesh.SpiffeId identity) {
        this.endpoint = endpoint;
        this.endpointPod = pod;
        this.endpointIdentity = identity;
        this.attempts++;
    }

    /** The identity of the last attempt's endpoint over HBONE, or null (plaintext, or no attempt). */
    public dev.waypoint.model.mesh.SpiffeId endpointIdentity() {
        return endpointIdentity;
    }

    /** The pod of the last attempt's endpoint, or null. */
    public dev.waypoint.model.mesh.PodSpec endpointPod() {
        return endpointPod;
    }

    /** Records the {@code grpc-status} the client got (headers or trailers). */
    public void grpcStatus(int status) {
        this.grpcStatus = status;
    }

    /** The {@code grpc-status} the client got, or -1 when none (not gRPC, or reset before the trailers). */
    public int grpcStatus() {
        return grpcStatus;
    }

    /** The endpoint of the last attempt ({@code ip:port}), or null when none was tried. */
    public String endpoint() {
        return endpoint;
    }

    /** How many upstream attempts were made (0 for a local reply before the upstream stage). */
    public int attempts() {
        return attempts;
    }

    /** Adds request body bytes received from the client. */
    public void addRequestBytes(long n) {
        requestBytes += n;
    }

    /** Adds response body bytes sent to the client. */
    public void addResponseBytes(long n) {
        responseBytes += n;
    }

    /** Request body bytes received. */
    public long requestBytes() {
        return requestBytes;
    }

    /** Response body bytes sent. */
    public long responseBytes() {
        return responseBytes;
    }

    /** Adds gRPC messages received from the client (length-prefixed frames, counted as their prefixes arrive). */
    public void addRequestMessages(long n) {
        requestMessages += n;
    }

    /** Adds gRPC messages sent to the client. */
    public void addResponseMessages(long n) {
        responseMessages += n;
    }

    /** gRPC messages received from the client; 0 for a request that is not gRPC. */
    public long requestMessages() {
        return requestMessages;
    }

    /** gRPC messages sent to the client; 0 for a request that is not gRPC. */
    public long responseMessages() {
        return responseMessages;
    }

    /** Marks when the response head went to the client (first call counts). */
    public void responseStarted(long nowNanos) {
        if (responseStartNanos == 0) {
            responseStartNanos = nowNanos;
        }
    }

    /** Whether a response head (final or local) went to the client. */
    public boolean responseStarted() {
        return responseStartNanos != 0;
    }

    /** When the request started. */
    public long startNanos() {
        return startNanos;
    }

    /** Nanoseconds from the start to the response head; -1 when none was sent. */
    public long timeToResponseNanos() {
        return responseStartNanos == 0 ? -1 : responseStartNanos - startNanos;
    }

    /** Nanoseconds from the start to the close; -1 while open. */
    public long durationNanos() {
        return end == null ? -1 : endNanos - startNanos;
    }

    @Override
    public String toString() {
        return (end == null ? "open" : end) + " " + status + " " + flags + " " + reason + " route=" + route
                + " endpoint=" + endpoint + " attempts=" + attempts + " bytes=" + requestBytes + "/" + responseBytes
                + (end == null ? "" : " " + (durationNanos() / 1000) + "us");
    }
}
