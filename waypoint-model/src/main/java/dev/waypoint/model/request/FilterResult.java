package dev.waypoint.model.request;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * What an {@link HttpFilter} decided about a request: go on to the next stage, answer locally, or
 * wait for something (a JWKS fetch, an ext_authz call) and decide then.
 *
 * <p>The body hooks ({@link HttpFilter#onRequestBody}, {@link HttpFilter#onResponseBody}) answer
 * {@link #CONTINUE} or a {@link Reply}; a filter that waits for more of the body holds the bytes
 * itself (see {@link BodyChunk}). {@link Pause} and {@link Retry} are for the request head only;
 * from a body hook they are treated as a failure of the stage (500).
 */
public sealed interface FilterResult {
    /** Go on to the next filter. One shared instance: continuing allocates nothing. */
    FilterResult CONTINUE = Continue.INSTANCE;

    /** Answer the request here with {@code rejection} (rendered by the one local-reply renderer). */
    static FilterResult reply(Rejection rejection) {
        return new Reply(rejection, Map.of());
    }

    /** As {@link #reply(Rejection)}, with extra response headers ({@code www-authenticate}, {@code location}). */
    static FilterResult reply(Rejection rejection, Map<String, String> headers) {
        return new Reply(rejection, headers);
    }

    /**
     * Wait: the chain resumes with {@code later}'s result on the request's event loop. Request
     * body bytes that arrive meanwhile are held (reads stop), not forwarded.
     */
    static FilterResult pause(CompletionStage<FilterResult> later) {
        return new Pause(later);
    }

    /**
     * Wait for {@code ready} (however it ends), then call this same filter's
     * {@link HttpFilter#onRequest} again, on the request's event loop. For a filter that must
     * touch the request once something arrives (JWKS keys: the verified token sets the request
     * principal and rewrites headers), which a {@link #pause} result computed off the event loop
     * cannot do. Body bytes are held meanwhile, as for {@link #pause}.
     */
    static FilterResult retryWhen(CompletionStage<?> ready) {
        return new Retry(ready);
    }

    /** Continue with the next filter. */
    final class Continue implements FilterResult {
        static final Continue INSTANCE = new Continue();

        private Continue() {}

        @Override
        public String toString() {
            return "Continue";
        }
    }

    /** A local reply. */
    record Reply(Rejection rejection, Map<String, String> headers) implements FilterResult {
        public Reply {
            Objects.requireNonNull(rejection, "rejection");
            headers = Map.copyOf(headers);
        }
    }

    /** Ask the same filter again once {@code ready} completed. */
    record Retry(CompletionStage<?> ready) implements FilterResult {
        public Retry {
            Objects.requireNonNull(ready, "ready");
        }
    }

    /** A decision that comes later. */
    record Pause(CompletionStage<FilterResult> later) implements FilterResult {
        public Pause {
            Objects.requireNonNull(later, "later");
        }
    }
}
