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
 * @param reset retry when the upstream reset or closed before responding ({@code reset}, {@code refused-stream})
 * @param retriableStatuses upstream response statuses that are retried ({@code retriable-status-codes})
 */
public record RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset,
                          Set<Integer> retriableStatuses) {
    /** No retries. */
    public static final RetryPolicy NONE = new RetryPolicy(0, null, false, false, Set.of());

    public RetryPolicy {
        if (retries < 0) {
            throw new IllegalArgumentException("retries: " + retries + " (expected: >= 0)");
        }
        retriableStatuses = Set.copyOf(retriableStatuses);
    }

    /** As the canonical constructor, with only 503 retriable when {@code retriable503}. */
    public RetryPolicy(int retries, Duration perTryTimeout, boolean connectFailure, boolean reset, boolean retriable503) {
        this(retries, perTryTimeout, connectFailure, reset, retriable503 ? Set.of(503) : Set.of());
    }

    /** Whether an upstream response with {@code status} is tried again. */
    public boolean retriable(int status) {
        return retriableStatuses.contains(status);
    }
}
