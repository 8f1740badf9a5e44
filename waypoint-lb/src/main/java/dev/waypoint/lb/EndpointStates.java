package dev.waypoint.lb;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * What the upstream stage has seen of each endpoint, keyed by address (and identity: the same
 * address with another identity is a new endpoint), not by the snapshot's record, so it survives config generations): requests in flight, attempts, failures,
 * consecutive failures, and outlier-detection ejections. Least-request balancing, slow start and
 * outlier detection read it; the upstream stage writes it once per attempt. Endpoints that leave
 * the config are forgotten on the next generation once idle ({@link #retain}).
 *
 * <h2>Outlier detection</h2>
 * As Envoy's consecutive detectors, which Istio's {@code outlierDetection} configures:
 * <ul>
 *   <li>{@code consecutive5xxErrors}: 5xx responses in a row; without
 *       {@code splitExternalLocalOriginErrors}, a connect failure or reset counts as a 503.</li>
 *   <li>{@code consecutiveGatewayErrors}: 502, 503, 504 in a row (and connect failures, unsplit).</li>
 *   <li>{@code consecutiveLocalOriginFailures}: connect failures and resets in a row, only when split.</li>
 *   <li>An endpoint is ejected as soon as a counter reaches its threshold (Envoy ejects on the
 *       failing response, not at the next interval) unless {@code maxEjectionPercent} of the
 *       port's endpoints are ejected already (one is always allowed, as Envoy does). The n-th
 *       ejection in a row lasts n × {@code baseEjectionTime} (at most 300 s, Envoy's
 *       {@code max_ejection_time}); every {@code interval} spent healthy after an ejection takes
 *       one step off n again.</li>
 *   <li>The ejection ends when its time is up; the next pick sees it (Envoy returns hosts at
 *       the first {@code interval} tick after that time; this waypoint is never later than
 *       that).</li>
 * </ul>
 * Time is read from the injected clock ({@link #EndpointStates(LongSupplier)}), so tests replay
 * ejection timelines without sleeping.
 *
 * <h2>Threading</h2>
 * Written from every event loop; counters are atomics, the map is concurrent, an ejection is
 * one compare-and-set. No locks.
 */
public final class EndpointStates {
    /** Envoy's default {@code max_ejection_time}: an ejection never lasts longer than this (or the base). */
    static final long MAX_EJECTION_NANOS = TimeUnit.SECONDS.toNanos(300);
    /** "Never" on the clock (monotonic clocks may be negative, so not 0). */
    private static final long NEVER = Long.MIN_VALUE;

    /** How an attempt ended, as the picker and outlier detection count it. */
    public enum AttemptResult {
        /** A response came that is not a 5xx. */
        RESPONSE,
        /** No connection, or the connection failed or was reset before a response (a local-origin failure). */
        CONNECT_FAILURE,
        /** The upstream answered 5xx other than 502, 503, 504. */
        SERVER_ERROR,
        /** The upstream answered 502, 503 or 504 (Envoy's "gateway" errors). */
        GATEWAY_ERROR,
        /** The request was abandoned by the client or a timeout; says nothing about the endpoint. */
        CANCELLED;

        /** The result of a response with {@code status}. */
        public static AttemptResult ofStatus(int status) {
            if (status == 502 || status == 503 || status == 504) {
                return GATEWAY_ERROR;
            }
            return status >= 500 ? SERVER_ERROR : RESPONSE;
        }
    }

    /** Counters of one endpoint. */
    public static final class State {
        private final AtomicInteger active = new AtomicInteger();
        private final AtomicLong attempts = new AtomicLong();
        private final AtomicLong failures = new AtomicLong();
        private final AtomicInteger consecutiveFailures = new AtomicInteger();
        private final AtomicInteger consecutive5xx = new AtomicInteger();
        private final AtomicInteger consecutiveGateway = new AtomicInteger();
        private final AtomicInteger consecutiveLocal = new AtomicInteger();
        /** Clock value the current (or last) ejection ends at; {@link #NEVER}: never ejected. */
        private final AtomicLong ejectedUntil = new AtomicLong(NEVER);
        private final AtomicInteger ejectionLevel = new AtomicInteger();
        private final AtomicLong ejections = new AtomicLong();
        private final long firstSeen;
        /** The identity this state was made for: the same address with another identity is another endpoint. */
        private final SpiffeId identity;
        /** The outlier rule and the endpoints of the port the last pick was made from (null: no detection). */
        private volatile Watch watch;

        State(long firstSeen, SpiffeId identity) {
            this.firstSeen = firstSeen;
            this.identity = identity;
        }

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

        /** Times outlier detection ejected this endpoint. */
        public long ejections() {
            return ejections.get();
        }
    }

    private record Watch(OutlierDetectionSpec rule, List<Endpoint> group) {}

    /** By address (no key object per lookup: the picks read it per request); the identity is checked on the state. */
    private final Map<HostPort, State> states = new ConcurrentHashMap<>();
    private final LongSupplier clock;
    private final AtomicLong ejectionsTotal = new AtomicLong();
    /** The latest end of any ejection: while the clock is past it, nothing is ejected (the fast path). */
    private final AtomicLong latestEjectionEnd = new AtomicLong(Long.MIN_VALUE);
    private volatile boolean firstGeneration = true;

    /** States on the system's monotonic clock. */
    public EndpointStates() {
        this(System::nanoTime);
    }

    /** States on {@code nanoClock} (monotonic nanoseconds; tests inject their own). */
    public EndpointStates(LongSupplier nanoClock) {
        this.clock = nanoClock;
    }

    long now() {
        return clock.getAsLong();
    }

    /** The state of {@code endpoint}, created on first use. */
    public State of(Endpoint endpoint) {
        State s = states.get(endpoint.address());
        if (s != null && Objects.equals(s.identity, endpoint.identity())) {
            return s;
        }
        return states.compute(endpoint.address(), (k, old) -> old != null && Objects.equals(old.identity, endpoint.identity())
                ? old : new State(firstGeneration ? NEVER : now(), endpoint.identity()));
    }

    /** The state of {@code endpoint} if there is one (no allocation). */
    private State find(Endpoint endpoint) {
        State s = states.get(endpoint.address());
        return s != null && Objects.equals(s.identity, endpoint.identity()) ? s : null;
    }

    /** Requests in flight to {@code endpoint}. */
    public int active(Endpoint endpoint) {
        State s = find(endpoint);
        return s == null ? 0 : s.active();
    }

    /**
     * How long {@code endpoint} has been known (slow start reads it). Endpoints of the first
     * generation count as old: slow start is for endpoints that join a running Service.
     */
    long ageNanos(Endpoint endpoint) {
        State s = find(endpoint);
        return s == null || s.firstSeen == NEVER ? Long.MAX_VALUE : now() - s.firstSeen;
    }

    /** Whether anything may be ejected now (cheap: one read, one clock call). */
    boolean anyEjected() {
        return now() < latestEjectionEnd.get();
    }

    /** Whether outlier detection has {@code endpoint} ejected now. */
    public boolean ejected(Endpoint endpoint) {
        State s = find(endpoint);
        return s != null && now() < s.ejectedUntil.get();
    }

    /** Ejections since start, every endpoint (the {@code waypoint_outlier_ejections_total} counter). */
    public long ejectionsTotal() {
        return ejectionsTotal.get();
    }

    /** Endpoints ejected now (the {@code waypoint_outlier_ejected} gauge). */
    public int ejectedNow() {
        long now = now();
        int n = 0;
        for (State s : states.values()) {
            if (now < s.ejectedUntil.get()) {
                n++;
            }
        }
        return n;
    }

    /** Outlier detection applies {@code rule} to {@code s}, one of {@code group} (the port's endpoints). */
    void watch(State s, OutlierDetectionSpec rule, List<Endpoint> group) {
        Watch w = s.watch;
        if (rule == null) {
            if (w != null) {
                s.watch = null;
            }
        } else if (w == null || w.rule != rule || w.group != group) {
            s.watch = new Watch(rule, group);
        }
    }

    /** An attempt to {@code endpoint} starts. */
    void started(State s) {
        s.active.incrementAndGet();
        s.attempts.incrementAndGet();
    }

    /** The attempt counted by {@link #started} ended. */
    void ended(State s, AttemptResult result) {
        s.active.decrementAndGet();
        Watch w = s.watch;
        boolean split = w != null && w.rule.splitExternalLocalOriginErrors();
        switch (result) {
            case RESPONSE -> {
                s.consecutiveFailures.set(0);
                s.consecutive5xx.set(0);
                s.consecutiveGateway.set(0);
                s.consecutiveLocal.set(0);
            }
            case SERVER_ERROR -> {
                s.failures.incrementAndGet();
                s.consecutiveFailures.incrementAndGet();
                s.consecutive5xx.incrementAndGet();
                s.consecutiveGateway.set(0);
                s.consecutiveLocal.set(0);
            }
            case GATEWAY_ERROR -> {
                s.failures.incrementAndGet();
                s.consecutiveFailures.incrementAndGet();
                s.consecutive5xx.incrementAndGet();
                s.consecutiveGateway.incrementAndGet();
                s.consecutiveLocal.set(0);
            }
            case CONNECT_FAILURE -> {
                s.failures.incrementAndGet();
                s.consecutiveFailures.incrementAndGet();
                if (split) {
                    s.consecutiveLocal.incrementAndGet();
                } else {
                    // Envoy without split_external_local_origin_errors: a local-origin failure is a 503
                    s.consecutive5xx.incrementAndGet();
                    s.consecutiveGateway.incrementAndGet();
                }
            }
            case CANCELLED -> { }
        }
        if (w != null && result != AttemptResult.RESPONSE && result != AttemptResult.CANCELLED) {
            maybeEject(s, w);
        }
    }

    private void maybeEject(State s, Watch w) {
        OutlierDetectionSpec r = w.rule;
        boolean trip = r.consecutive5xxErrors() > 0 && s.consecutive5xx.get() >= r.consecutive5xxErrors()
                || r.consecutiveGatewayErrors() > 0 && s.consecutiveGateway.get() >= r.consecutiveGatewayErrors()
                || r.splitExternalLocalOriginErrors() && r.consecutiveLocalOriginFailures() > 0
                        && s.consecutiveLocal.get() >= r.consecutiveLocalOriginFailures();
        if (!trip) {
            return;
        }
        long now = now();
        long until = s.ejectedUntil.get();
        if (now < until) {
            return; // already out (a request picked before the ejection ended badly too)
        }
        int group = w.group.size();
        int ejectedNow = 0;
        for (Endpoint e : w.group) {
            if (ejected(e)) {
                ejectedNow++;
            }
        }
        // Envoy: "will eject at least one host regardless of the value"
        if (ejectedNow > 0 && (ejectedNow + 1) * 100L > (long) r.maxEjectionPercent() * group) {
            return;
        }
        long base = r.baseEjectionTime().toNanos();
        long interval = Math.max(1, r.interval().toNanos());
        int level = s.ejectionLevel.get();
        if (until != NEVER) {
            // healthy intervals since the last ejection ended take its multiplier down (Envoy decrements per interval)
            level = (int) Math.max(0, level - (now - until) / interval);
        }
        level++;
        long length = Math.min(base * level, Math.max(base, MAX_EJECTION_NANOS));
        if (s.ejectedUntil.compareAndSet(until, now + length)) {
            s.ejectionLevel.set(level);
            s.ejections.incrementAndGet();
            ejectionsTotal.incrementAndGet();
            s.consecutive5xx.set(0);
            s.consecutiveGateway.set(0);
            s.consecutiveLocal.set(0);
            latestEjectionEnd.accumulateAndGet(now + length, Math::max);
        }
    }

    /** Endpoints of a new generation: states are made for new ones (their slow start begins now). */
    void seen(Collection<Endpoint> endpoints) {
        for (Endpoint e : endpoints) {
            of(e);
        }
        firstGeneration = false;
    }

    /** Forgets endpoints not in {@code live} (and idle): called when a new generation arrives. */
    void retain(Set<HostPort> live) {
        states.entrySet().removeIf(e -> !live.contains(e.getKey()) && e.getValue().active() == 0);
    }

    /**
     * For the config dump: {@code "ip:port" -> {active, attempts, failures, consecutiveFailures,
     * ejections, ejectedForMs}}.
     */
    public Map<String, Map<String, Long>> debug() {
        Map<String, Map<String, Long>> out = new LinkedHashMap<>();
        long now = now();
        states.forEach((k, s) -> out.put(k.toString(), Map.of("active", (long) s.active(),
                "attempts", s.attempts(), "failures", s.failures(), "consecutiveFailures", (long) s.consecutiveFailures(),
                "ejections", s.ejections(),
                "ejectedForMs", s.ejectedUntil.get() == NEVER ? 0L
                        : Math.max(0, TimeUnit.NANOSECONDS.toMillis(s.ejectedUntil.get() - now)))));
        return out;
    }
}
