package dev.waypoint.model.request;

import java.util.function.BiConsumer;

/**
 * Told when each upstream attempt of a request starts and ends: a stage that needs per-attempt
 * facts (tracing: a client span per attempt, its context in the attempt's headers) puts one in
 * the request's {@link #KEY} slot; the upstream stage calls it. Called on the request's event
 * loop; must not block.
 */
public interface AttemptObserver {
    /** The request slot the upstream stage reads. */
    RequestKey<AttemptObserver> KEY = RequestKey.of("attempt.observer", AttemptObserver.class);

    /**
     * Attempt {@code attempt} (1 for the first) to {@code endpoint} ({@code ip:port}) starts;
     * {@code setHeader} sets a header on the request this attempt sends.
     */
    void started(int attempt, String endpoint, BiConsumer<String, String> setHeader);

    /**
     * The attempt ended: with a response ({@code status} its code), or failed ({@code status} 0:
     * no connection, reset, timeout, cancelled).
     */
    void ended(int attempt, int status);
}
