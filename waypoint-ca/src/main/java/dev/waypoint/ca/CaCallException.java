package dev.waypoint.ca;

/**
 * A CreateCertificate call that did not return a certificate: a gRPC status other than {@code OK}
 * (for example {@code 16 UNAUTHENTICATED} for a token istiod refuses), or a transport failure
 * (connect, TLS verification against the mesh root, timeout), with the cause attached.
 */
public final class CaCallException extends Exception {
    private static final long serialVersionUID = 1L;

    /** The gRPC status code; {@code -1} when the call failed below gRPC (connect, TLS, HTTP/2). */
    private final int grpcStatus;

    CaCallException(String message, int grpcStatus, Throwable cause) {
        super(message, cause);
        this.grpcStatus = grpcStatus;
    }

    /** The gRPC status code the CA answered, or {@code -1} for a transport failure. */
    public int grpcStatus() {
        return grpcStatus;
    }
}
