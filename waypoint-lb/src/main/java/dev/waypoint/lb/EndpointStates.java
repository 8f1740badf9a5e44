package dev.waypoint.lb;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the upstream stage has seen of each endpoint, keyed by address and identity (not by the
 * snapshot's record, so it survives config generations): requests in flight, attempts, failures
 * and consecutive failures. Least-request balancing and outlier detection read it; the upstream
 * stage writes it once per attempt. Endpoints that leave the config are forgotten on the next
 * generation ({@link #retain}).
 *
 * <h2>Threading</h2>
 * Written from every event loop; counters are atomics, the map is concurrent.
 */
public final class EndpointStates {
    /** How an attempt ended, as the picker and outlier detection count it. */
    public enum AttemptResult {
        /** A response came (any status the upstream chose to send). */
        RESPONSE,
        /** No connection, or the connection failed or was reset before a response (Envoy: a "gateway" error). */
        CONNECT_FAILURE,
        /** The upstream answered 5xx. */
        SERVER_ERROR,
        /** The request was abandoned by the client or a timeout; says nothing about the endpoint. */
        CANCELLED
    }

    record Key(HostPort address, SpiffeId identity) {}

    /** Counters of one endpoint. */
    public static final class State {
        private final AtomicInteger active = new AtomicInteger();
        private final AtomicLong attempts = new AtomicLong();
        private final AtomicLong failures = new AtomicLong();
        private final AtomicInteger consecutiveFailures = new AtomicInteger();

        /** Attempts in flight. */
        public int active() {
            return active.get();
        }

        /** Attempts started. */
        public long attempts() {
            return attempts.get();
        }

        /** Attempts that ended in a connect failure or a 5xx. */
        public long failures() {
            return failures.get();
        }

        /** Failures since the last response that was not one. */
        public int consecutiveFailures() {
            return consecutiveFailures.get();
        }
    }

    private final Map<Key, State> states = new ConcurrentHashMap<>();

    /** The state of {@code endpoint}, created on first use. */
    public State of(Endpoint endpoint) {
        return states.computeIfAbsent(new Key(endpoint.address(), endpoint.identity()), k -> new State());
    }

    /** Requests in flight to {@code endpoint}. */
    public int active(Endpoint endpoint) {
        State s = states.get(new Key(endpoint.address(), endpoint.identity()));
        return s == null ? 0 : s.active();
    }

    /** An attempt to {@code endpoint} starts. */
    void started(State s) {
        s.active.incrementAndGet();
        s.attempts.incrementAndGet();
    }

    /** The attempt counted by {@link #started} ended. */
    void ended(State s, AttemptResult result) {
        s.active.decrementAndGet();
        switch (result) {
            case RESPONSE -> s.consecutiveFailures.set(0);
            case CONNECT_FAILURE, SERVER_ERROR -> {
                s.failures.incrementAndGet();
                s.consecutiveFailures.incrementAndGet();
            }
            case CANCELLED -> { }
        }
    }

    /** Forgets endpoints not in {@code live} (and idle): called when a new generation arrives. */
    void retain(Set<HostPort> live) {
        states.entrySet().removeIf(e -> !live.contains(e.getKey().address()) && e.getValue().active() == 0);
    }

    /** For the config dump: {@code "ip:port" -> {active, attempts, failures, consecutiveFailures}}. */
    public Map<String, Map<String, Long>> debug() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        states.forEach((k, s) -> out.put(k.address().toString(), Map.of("active", (long) s.active(),
                "attempts", s.attempts(), "failures", s.failures(), "consecutiveFailures", (long) s.consecutiveFailures())));
        return out;
    }
}
