package dev.waypoint.model.request;

import java.time.Duration;

/**
 * When the upstream stage tries a failed request again, on another endpoint where one exists
 * (Envoy's {@code previous_hosts} predicate, which Istio sets). Only failures before any response
 * byte reached the client are retried, and only while the request body seen so far fits the
 * replay buffer.
 *
 * @param retries tries after the first (0: none)
 * @param perTryTimeout the timeout of one attempt, or null for none
 * @param connectFailure retry when the endpoint could not be reached ({@code connect-failure})
 * @param reset retry when the upstream reset or closed before responding ({@code reset}, {@code refused-stream})
 * @param retriable503 retry a 503 response from the upstream ({@code retriable-status-codes} with 503)
 */
public record RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset,
                          boolean retriable503) {
    /** No retries. */
    public static final RetryPolicy NONE = new RetryPolicy(0, null, false, false, false);

    public RetryPolicy {
        if (retries < 0) {
            throw new IllegalArgumentException("retries: " + retries + " (expected: >= 0)");
        }
    }
}
