package dev.waypoint.routing;

import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Chooses among a rule's weighted backendRefs: {@link #next(int)} returns a number in
 * {@code [0, bound)}. An interface so that tests are deterministic.
 */
@FunctionalInterface
public interface BackendPicker {
    /** A uniformly distributed number in {@code [0, bound)}; {@code bound > 0}. */
    int next(int bound);

    /** The data path's picker: {@link ThreadLocalRandom}, safe on every event loop. */
    static BackendPicker random() {
        return bound -> ThreadLocalRandom.current().nextInt(bound);
    }

    /** A reproducible sequence for tests; not thread-safe (one test thread). */
    static BackendPicker seeded(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        return random::nextInt;
    }
}
