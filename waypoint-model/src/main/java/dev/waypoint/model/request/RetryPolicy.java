package dev.waypoint.model.request;

import java.time.Duration;
import java.util.Set;

/**
 * When the upstream stage tries a failed request again, on another endpoint where one exists
 * (Envoy's {@code previous_hosts} predicate, which Istio sets). Only failures before any response
 * byte reached the client are retried, and only while the request body seen so far fits the
 * replay buffer.
 *
 * @param retries tries after the first (0: none)
 * @param perTryTimeout the timeout of one attempt, or null for none
 * @param connectFailure retry when the endpoint could not be reached ({@code connect-failure}),
 *        or the per-try timeout passed
 * @param reset retry when the upstream reset or closed before responding ({@code reset})
 * @param refusedStream retry when an HTTP/2 upstream refused the stream ({@code refused-stream}:
 *        {@code RST_STREAM REFUSED_STREAM}, the request was not processed); implied by {@code reset}
 * @param retriableStatuses upstream response statuses that are retried ({@code retriable-status-codes})
 * @param retriableGrpcStatuses {@code grpc-status} values of a trailers-only gRPC response that are
 *        retried ({@code cancelled} = 1, {@code unavailable} = 14, as Envoy's {@code retry_on})
 * @param backoff Envoy's {@code base_interval} between tries (jittered exponential, capped at 10
 *        times it), or null: a retry starts at once
 */
public record RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset, boolean refusedStream,
                          Set<Integer> retriableStatuses, Set<Integer> retriableGrpcStatuses, Duration backoff) {
    /** No retries. */
    public static final RetryPolicy NONE = new RetryPolicy(0, null, false, false, false, Set.of(), Set.of());

    /** gRPC {@code CANCELLED}. */
    public static final int GRPC_CANCELLED = 1;
    /** gRPC {@code UNAVAILABLE}. */
    public static final int GRPC_UNAVAILABLE = 14;

    /**
     * Istio's default retry policy, which a waypoint applies to its default routes and to routes
     * without a retry policy of their own when the mesh config sets no
     * {@code defaultHttpRetryPolicy} ({@code pilot/pkg/networking/core/route/retry/retry.go}):
     * {@code num_retries: 2}, {@code retry_on: connect-failure,refused-stream,unavailable,cancelled,
     * retriable-status-codes} with 503 retriable. (Istio 1.24 dropped the 503 by default,
     * {@code EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY}; issue #13 asks for it, so it is kept here.)
     */
    public static final RetryPolicy ISTIO_DEFAULT = new RetryPolicy(2, null, true, false, true, Set.of(503),
            Set.of(GRPC_CANCELLED, GRPC_UNAVAILABLE));

    public RetryPolicy {
        if (retries < 0) {
            throw new IllegalArgumentException("retries: " + retries + " (expected: >= 0)");
        }
        refusedStream |= reset;
        retriableStatuses = Set.copyOf(retriableStatuses);
        retriableGrpcStatuses = Set.copyOf(retriableGrpcStatuses);
        if (backoff != null && (backoff.isZero() || backoff.isNegative())) {
            backoff = null; // Envoy's base_interval must be > 0: no backoff
        }
    }

    /** Without a backoff: a retry starts at once. */
    public RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset, boolean refusedStream,
                       Set<Integer> retriableStatuses, Set<Integer> retriableGrpcStatuses) {
        this(retries, perTryTimeout, connectFailure, reset, refusedStream, retriableStatuses, retriableGrpcStatuses, null);
    }

    /** Without gRPC statuses; {@code refused-stream} as {@code reset}. */
    public RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset, Set<Integer> retriableStatuses) {
        this(retries, perTryTimeout, connectFailure, reset, reset, retriableStatuses, Set.of());
    }

    /** As the canonical constructor, with only 503 retriable when {@code retriable503}. */
    public RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset, boolean retriable503) {
        this(retries, perTryTimeout, connectFailure, reset, retriable503 ? Set.of(503) : Set.of());
    }

    /** Whether an upstream response with {@code status} is tried again. */
    public boolean retriable(int status) {
        return retriableStatuses.contains(status);
    }

    /** Whether a trailers-only gRPC response with {@code grpcStatus} is tried again. */
    public boolean retriableGrpc(int grpcStatus) {
        return retriableGrpcStatuses.contains(grpcStatus);
    }

    /** This policy with another per-try timeout (null: none). */
    public RetryPolicy withPerTryTimeout(Duration timeout) {
        return new RetryPolicy(retries, timeout, connectFailure, reset, refusedStream, retriableStatuses, retriableGrpcStatuses,
                backoff);
    }

    /**
     * This policy with a backoff between tries (HTTPRoute {@code retry.backoff}; null or zero:
     * none): Envoy's {@code retry_back_off} with this {@code base_interval} and its default
     * {@code max_interval} of 10 times that.
     */
    public RetryPolicy withBackoff(Duration base) {
        return new RetryPolicy(retries, perTryTimeout, connectFailure, reset, refusedStream, retriableStatuses,
                retriableGrpcStatuses, base);
    }

    /** {@code 2 retries on connect-failure,refused-stream,503,grpc 1,14}: for logs, {@code explain} and goldens. */
    @Override
    public String toString() {
        if (retries == 0) {
            return "no retries" + (perTryTimeout == null ? "" : ", per-try timeout " + perTryTimeout.toMillis() + " ms");
        }
        StringBuilder sb = new StringBuilder().append(retries).append(retries == 1 ? " retry on " : " retries on ");
        java.util.List<String> on = new java.util.ArrayList<>();
        if (connectFailure) {
            on.add("connect-failure");
        }
        if (reset) {
            on.add("reset");
        } else if (refusedStream) {
            on.add("refused-stream");
        }
        new java.util.TreeSet<>(retriableStatuses).forEach(s -> on.add(String.valueOf(s)));
        if (!retriableGrpcStatuses.isEmpty()) {
            on.add("grpc " + new java.util.TreeSet<>(retriableGrpcStatuses).toString().replaceAll("[\\[\\] ]", ""));
        }
        sb.append(on.isEmpty() ? "nothing" : String.join(",", on));
        if (perTryTimeout != null) {
            sb.append(", per-try timeout ").append(perTryTimeout.toMillis()).append(" ms");
        }
        if (backoff != null) {
            sb.append(", backoff ").append(backoff.toMillis()).append(" ms");
        }
        return sb.toString();
    }
}
