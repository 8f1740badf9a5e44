package dev.waypoint.lb;

import dev.waypoint.model.request.Rejection;
import java.util.Objects;

/**
 * The endpoint pick for one attempt: an {@link Endpoint} (which is its own result, so a pick
 * allocates nothing), or {@link Unavailable} with the rejection to answer (503 when a Service has
 * no ready endpoint).
 */
public sealed interface UpstreamPick permits Endpoint, UpstreamPick.Unavailable {
    /** Nothing to pick. */
    record Unavailable(Rejection rejection) implements UpstreamPick {
        public Unavailable {
            Objects.requireNonNull(rejection, "rejection");
        }
    }
}
