package dev.waypoint.model.request;

import java.util.Objects;

/**
 * Why the waypoint answered instead of forwarding: a value, not an exception. Carries the HTTP
 * status a client sees, the Envoy/Istio response flag for logs and metrics, a stable reason code,
 * and a short human message (also the response body).
 */
public record Rejection(Reason reason, String message) implements TargetResolution {
    public Rejection {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(message, "message");
    }

    /** The closed vocabulary of rejections. */
    public enum Reason {
        /** HBONE stream that is not a classic CONNECT. */
        NOT_CONNECT(400, "-", "not_connect"),
        /** {@code :authority} is not {@code ip:port}. */
        BAD_AUTHORITY(400, "-", "bad_authority"),
        /** The address is not a Service or Pod bound to this waypoint (ztunnel: {@code IPMismatch}). */
        NOT_BOUND(400, "NR", "target_not_bound"),
        /** No config loaded yet. */
        NOT_READY(503, "NR", "waypoint_not_ready"),
        /** The Service has no ready endpoint. */
        NO_HEALTHY_UPSTREAM(503, "UH", "no_healthy_upstream"),
        /** The endpoint (or its ztunnel) refused the connection or the CONNECT. */
        UPSTREAM_REFUSED(502, "UF", "upstream_connect_failure"),
        /** The upstream reset the stream or closed before a response. */
        UPSTREAM_RESET(502, "UC", "upstream_reset_before_response_started"),
        /** Connecting to the endpoint took longer than the connect timeout. */
        CONNECT_TIMEOUT(504, "UF", "upstream_connect_timeout"),
        /** The request was malformed (bad header, oversized head). */
        BAD_REQUEST(400, "DPE", "downstream_protocol_error"),
        /** The request head exceeded the configured limit. */
        HEADERS_TOO_LARGE(431, "DPE", "request_headers_too_large"),
        /** The request line exceeded the configured limit. */
        URI_TOO_LONG(414, "DPE", "request_uri_too_long"),
        /** A request on a live tunnel whose target this waypoint no longer serves (config changed). */
        TARGET_UNBOUND(503, "NR", "target_no_longer_bound"),
        /** The route's request timeout passed before the response completed. */
        REQUEST_TIMEOUT(504, "UT", "upstream_request_timeout"),
        /** A stage failed unexpectedly (a bug); the request is refused rather than let through. */
        INTERNAL(500, "-", "internal_error"),
        /**
         * AuthorizationPolicy denied the request: Envoy's RBAC filter answer, 403 with the body
         * {@code RBAC: access denied}; the message is the matched policy
         * ({@code rbac_access_denied_matched_policy[ns/name, rule 0]}).
         */
        RBAC_DENIED(403, "RBAC", "rbac_access_denied_matched_policy", "RBAC: access denied"),
        /**
         * AuthorizationPolicy denied a TCP tunnel before it opened: the CONNECT is answered 401, as
         * ztunnel answers an L4 policy deny (shared/spec/waypoint.md §1.5, hbone.md).
         */
        CONNECT_RBAC_DENIED(401, "RBAC", "rbac_access_denied_matched_policy", "RBAC: access denied");

        private final int status;
        private final String flag;
        private final String code;
        private final String fixedBody;

        Reason(int status, String flag, String code) {
            this(status, flag, code, null);
        }

        Reason(int status, String flag, String code, String fixedBody) {
            this.status = status;
            this.flag = flag;
            this.code = code;
            this.fixedBody = fixedBody;
        }

        /**
         * The exact response body this reason always answers with (Envoy's, for clients and tests
         * that compare it), or null: then the body is {@code <code>: <message>\n}.
         */
        public String fixedBody() {
            return fixedBody;
        }

        /** The HTTP status (of the CONNECT response, or of the inner request). */
        public int status() {
            return status;
        }

        /** Envoy short response flag ({@code UH}, {@code UF}, ...), {@code -} for none. */
        public String flag() {
            return flag;
        }

        /** Stable snake_case code, as in Envoy's {@code response_code_details}. */
        public String code() {
            return code;
        }

        /**
         * The {@code grpc-status} a gRPC client gets instead of the HTTP status, after gRPC's
         * HTTP-to-gRPC mapping (doc/http-grpc-status-mapping.md): 400 INTERNAL, 401
         * UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503 UNAVAILABLE;
         * timeouts (504) are DEADLINE_EXCEEDED, as Envoy's router sends for them.
         */
        public int grpcStatus() {
            return switch (status) {
                case 400, 414, 431 -> 13;
                case 401 -> 16;
                case 403 -> 7;
                case 404 -> 12;
                case 504 -> 4;
                case 500 -> 13;
                default -> 14;
            };
        }
    }

    /** The response body: the reason's {@linkplain Reason#fixedBody() fixed body}, else {@code <code>: <message>\n}. */
    public String body() {
        return reason.fixedBody() != null ? reason.fixedBody() : reason.code() + ": " + message + "\n";
    }

    @Override
    public String toString() {
        return reason.status() + " " + reason.code() + ": " + message;
    }
}
