package dev.waypoint.model.request;

import java.util.Objects;

/**
 * Why the waypoint answered instead of forwarding: a value, not an exception. Carries the HTTP
 * status a client sees, the Envoy/Istio response flag for logs and metrics, a stable reason code,
 * and a short human message (also the response body).
 *
 * <p>The body is {@code <code>: <message>\n}, except for the reasons whose clients read Envoy's
 * exact body ({@link Reason#plainBody()}): there it is the message alone, as Envoy sends it
 * ({@code Jwt is expired}).
 *
 * <p>A proxy-wasm plugin's {@code proxy_send_local_response} chooses its own status and body: such
 * a rejection ({@link #of(Reason, String, int, String)}) carries them in {@link #status()} and
 * {@link #customBody()}; every other rejection answers the reason's status.
 *
 * @param status the HTTP status answered: the reason's, unless a plugin chose one
 * @param customBody the body a plugin chose, or null for the reason's rendering
 */
public record Rejection(Reason reason, String message, int status, String customBody) implements TargetResolution {
    public Rejection {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(message, "message");
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 100-599)");
        }
    }

    /** A rejection answered with {@code reason}'s status and body. */
    public Rejection(Reason reason, String message) {
        this(reason, message, reason.status(), null);
    }

    /** A rejection answered with {@code status} and {@code body} (a plugin's local response). */
    public static Rejection of(Reason reason, String message, int status, String body) {
        return new Rejection(reason, message, status, Objects.requireNonNull(body, "body"));
    }

    /**
     * A rejection whose status is not its reason's: an ext_authz provider's deny carries the
     * provider's own status ({@code 401}, {@code 302}, ...), and its error the provider's
     * {@code statusOnError}.
     */
    public static Rejection withStatus(Reason reason, int status, String message) {
        return new Rejection(reason, message, status, null);
    }

    /** The {@code grpc-status} for {@link #status()} ({@link Reason#grpcStatus()}'s mapping). */
    public int grpcStatus() {
        return status == reason.status() ? reason.grpcStatus() : Reason.grpcStatusOf(status);
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
        /**
         * The endpoint (or its ztunnel) refused the connection or the CONNECT: 503, as Envoy's router
         * answers a connection failure (a reset before response headers other than a protocol error;
         * {@code 503 UF upstream_reset_before_response_started{connection_failure}}) and as ztunnel
         * answers a CONNECT whose upstream connect failed.
         */
        UPSTREAM_REFUSED(503, "UF", "upstream_connect_failure"),
        /**
         * The upstream reset the stream or closed before a response: 503, as Envoy's router answers
         * every reset before response headers except a protocol error
         * ({@code source/common/router/router.cc onUpstreamReset}).
         */
        UPSTREAM_RESET(503, "UC", "upstream_reset_before_response_started"),
        /** The upstream sent a malformed or truncated response head (Envoy: 502 {@code UPE}). */
        UPSTREAM_PROTOCOL_ERROR(502, "UPE", "upstream_reset_before_response_started{protocol_error}"),
        /**
         * Connecting to the endpoint took longer than the connect timeout: 503 UF, as Envoy answers it
         * ({@code connection_timeout} is a connection failure; 504 is the route's request timeout, UT).
         */
        CONNECT_TIMEOUT(503, "UF", "upstream_connect_timeout"),
        /**
         * A DestinationRule {@code connectionPool} limit was reached (Envoy's circuit breakers: 503
         * with flag UO, details {@code upstream_reset_before_response_started{overflow}}).
         */
        UPSTREAM_OVERFLOW(503, "UO", "upstream_reset_before_response_started{overflow}"),
        /** A local rate limit's bucket is empty (Envoy's local_ratelimit: 429, flag RL, body {@code local_rate_limited}). */
        RATE_LIMITED(429, "RL", "local_rate_limited", "local_rate_limited"),
        /** The request was malformed (bad header, oversized head). */
        BAD_REQUEST(400, "DPE", "downstream_protocol_error"),
        /** The request head exceeded the configured limit. */
        HEADERS_TOO_LARGE(431, "DPE", "request_headers_too_large"),
        /** The request line exceeded the configured limit. */
        URI_TOO_LONG(414, "DPE", "request_uri_too_long"),
        /** An HTTP version other than 1.0 and 1.1 on an HTTP/1 request line (RFC 9110 §15.6.6). */
        VERSION_NOT_SUPPORTED(505, "DPE", "http_version_not_supported"),
        /** A request on a live tunnel whose target this waypoint no longer serves (config changed). */
        TARGET_UNBOUND(503, "NR", "target_no_longer_bound"),
        /** The route's request timeout passed before the response completed. */
        REQUEST_TIMEOUT(504, "UT", "upstream_request_timeout"),
        /** The Service has HTTPRoutes and none of their rules matches the request (Gateway API: 404). */
        ROUTE_NOT_FOUND(404, "NR", "route_not_found"),
        /**
         * The matching route rule cannot be served: no, invalid or unresolvable backendRefs, a
         * filter this waypoint does not implement (Gateway API: 500).
         */
        ROUTE_INVALID(500, "-", "route_invalid"),
        /** An HTTPRoute {@code RequestRedirect} with status 301; the reply carries {@code location}. */
        REDIRECT_301(301, "-", "redirect"),
        /** {@code RequestRedirect} with status 302 (the default). */
        REDIRECT_302(302, "-", "redirect"),
        /** {@code RequestRedirect} with status 303. */
        REDIRECT_303(303, "-", "redirect"),
        /** {@code RequestRedirect} with status 307. */
        REDIRECT_307(307, "-", "redirect"),
        /** {@code RequestRedirect} with status 308. */
        REDIRECT_308(308, "-", "redirect"),
        /**
         * An HTTPRoute {@code CORS} filter answered a preflight itself (Envoy's CORS filter: 200,
         * empty body, details {@code cors_response}); the reply carries the CORS headers.
         */
        CORS_PREFLIGHT(200, "-", "cors_response", ""),
        /** A stage failed unexpectedly (a bug); the request is refused rather than let through. */
        INTERNAL(500, "-", "internal_error"),
        /**
         * RequestAuthentication: the request carried a token that is not valid for any applicable
         * jwtRule (bad signature, expired, issuer not configured, keys not available). Envoy
         * jwt_authn answers 401 with the failure as the body ({@code Jwt is expired}); its
         * response code details are {@code jwt_authn_access_denied{Jwt_is_expired}}.
         */
        JWT_REJECTED(401, "-", "jwt_authn_access_denied", true),
        /**
         * RequestAuthentication: a token valid but for none of the rule's {@code audiences}
         * (Envoy jwt_authn: 403 {@code Audiences in Jwt are not allowed}).
         */
        JWT_AUDIENCE_DENIED(403, "-", "jwt_authn_access_denied", true),
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
        CONNECT_RBAC_DENIED(401, "RBAC", "rbac_access_denied_matched_policy", "RBAC: access denied"),
        /**
         * A proxy-wasm plugin answered with {@code proxy_send_local_response}: status, body and
         * headers are the plugin's ({@link Rejection#of}); the message is its details string.
         */
        WASM_LOCAL_REPLY(200, "-", "wasm_local_reply"),
        /**
         * A proxy-wasm plugin trapped, ran too long or misbehaved at run time and its failStrategy
         * is FAIL_CLOSE: Envoy's {@code failStream} answers 503 {@code wasm_fail_stream}.
         */
        WASM_FAIL_STREAM(503, "-", "wasm_fail_stream"),
        /**
         * A CUSTOM AuthorizationPolicy's ext_authz provider denied the request: its status (403 when
         * it names none), its body as the message, and the headers it sends to the client (Envoy's
         * ext_authz: flag {@code UAEX}, details {@code ext_authz_denied}).
         */
        EXT_AUTHZ_DENIED(403, "UAEX", "ext_authz_denied", true),
        /**
         * The ext_authz provider could not be asked (unreachable, timed out, 5xx, a broken answer)
         * and the provider is not {@code failOpen}: the provider's {@code statusOnError} (default
         * 403), empty body (Envoy's ext_authz: {@code ext_authz_error}); the message says what
         * failed, for logs and {@code explain}.
         */
        EXT_AUTHZ_ERROR(403, "UAEX", "ext_authz_error", ""),
        /**
         * A filter held more of the request body than its limit (a proxy-wasm plugin that answered
         * Pause on every chunk): Envoy answers 413 {@code Payload Too Large}, details
         * {@code request_payload_too_large}.
         */
        REQUEST_PAYLOAD_TOO_LARGE(413, "-", "request_payload_too_large", "Payload Too Large"),
        /**
         * As {@link #REQUEST_PAYLOAD_TOO_LARGE} for the response body: Envoy answers 500
         * {@code response_payload_too_large} while the head is not sent, and resets the stream
         * once it is (here it always is).
         */
        RESPONSE_PAYLOAD_TOO_LARGE(500, "-", "response_payload_too_large", "Internal Server Error");

        private final int status;
        private final String flag;
        private final String code;
        private final boolean plainBody;
        private final String fixedBody;

        Reason(int status, String flag, String code) {
            this(status, flag, code, false, null);
        }

        /** @param plainBody the body is the message alone (Envoy's jwt_authn replies) */
        Reason(int status, String flag, String code, boolean plainBody) {
            this(status, flag, code, plainBody, null);
        }

        /** @param fixedBody the body is always this text (Envoy's RBAC reply) */
        Reason(int status, String flag, String code, String fixedBody) {
            this(status, flag, code, false, fixedBody);
        }

        private Reason(int status, String flag, String code, boolean plainBody, String fixedBody) {
            this.status = status;
            this.flag = flag;
            this.code = code;
            this.plainBody = plainBody;
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

        /** Whether the body is the message alone, as Envoy sends it (clients and tests read it). */
        public boolean plainBody() {
            return plainBody;
        }

        /**
         * The {@code grpc-status} a gRPC client gets instead of the HTTP status, after gRPC's
         * HTTP-to-gRPC mapping (doc/http-grpc-status-mapping.md): 400 INTERNAL, 401
         * UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503 UNAVAILABLE;
         * timeouts (504) are DEADLINE_EXCEEDED, as Envoy's router sends for them.
         */
        public int grpcStatus() {
            return grpcStatusOf(status);
        }

        static int grpcStatusOf(int status) {
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

    /**
     * The response body: the reason's {@linkplain Reason#fixedBody() fixed body}; else the message
     * alone for {@link Reason#plainBody()} reasons; else {@code <code>: <message>\n}.
     */
    public String body() {
        if (customBody != null) {
            return customBody;
        }
        return reason.fixedBody() != null ? reason.fixedBody()
                : reason.plainBody ? message : reason.code() + ": " + message + "\n";
    }

    @Override
    public String toString() {
        return status + " " + reason.code() + ": " + message;
    }
}
