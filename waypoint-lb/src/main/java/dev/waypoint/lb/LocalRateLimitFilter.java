package dev.waypoint.lb;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The {@code ratelimit} filter: Envoy's {@code local_ratelimit} as the EnvoyFilter of Istio's
 * "Enabling Rate Limits using Envoy" page configures it, per waypoint replica. Each limit is a
 * token bucket: {@code max_tokens} at start, {@code tokens_per_fill} added every
 * {@code fill_interval} (at most {@code max_tokens}); a request takes one token. Without one, the
 * request is counted {@code rate_limited}; if it is also sampled by {@code filter_enforced} it is
 * answered 429 (flag RL, body {@code local_rate_limited}) with {@code response_headers_to_add}
 * ({@code x-local-rate-limit: true} on Istio's page). {@code filter_enabled} samples which requests
 * the filter looks at at all. Limits attached to the Gateway and to the Service both apply, each
 * with its own bucket.
 *
 * <p>A per-vhost limit (the page's {@code HTTP_ROUTE} patch, {@link LocalRateLimitSpec#routePort()})
 * applies to calls on that Service port and replaces its EnvoyFilter's filter-wide limit there; its
 * {@code rate_limits} actions make the request's descriptors ({@link RateLimitDescriptors}), and a
 * token is taken from every matched descriptor's bucket, or from the limit's own when none matched.
 *
 * <p>Buckets outlive snapshots: one per EnvoyFilter and bucket configuration, so a config reload
 * that keeps the limit keeps its tokens (a changed limit starts a full bucket).
 *
 * <h2>Threading</h2>
 * Every event loop; a bucket is two atomics, a take is a compare-and-set. No locks.
 */
public final class LocalRateLimitFilter implements HttpFilter {
    private record BucketKey(NamespacedName filter, String statPrefix, int routePort, List<LocalRateLimitSpec.Entry> entries,
                             long max, long perFill, Duration interval) {}

    /** Counters of one {@code stat_prefix}, as Envoy's {@code <stat_prefix>.http_local_rate_limit.*}. */
    static final class Counters {
        final AtomicLong enabled = new AtomicLong();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong rateLimited = new AtomicLong();
        final AtomicLong enforced = new AtomicLong();
    }

    private final LongSupplier clock;
    private final Map<BucketKey, Bucket> buckets = new ConcurrentHashMap<>();
    private final Map<String, Counters> counters = new ConcurrentHashMap<>();

    /** On the system's monotonic clock. */
    public LocalRateLimitFilter() {
        this(System::nanoTime);
    }

    /** On {@code nanoClock} (tests). */
    public LocalRateLimitFilter(LongSupplier nanoClock) {
        this.clock = nanoClock;
    }

    @Override
    public String name() {
        return "ratelimit";
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        NamespacedName svc = request.target() instanceof Target.ServiceTarget s ? s.service().name() : null;
        List<LocalRateLimitSpec> limits = request.snapshot().part(RateLimits.PART).limits(svc);
        int port = request.target() instanceof Target.ServiceTarget s ? s.port().port() : 0;
        for (int i = 0; i < limits.size(); i++) {
            LocalRateLimitSpec l = limits.get(i);
            if (!applies(limits, l, port) || !sampled(l.enabledFraction())) {
                continue;
            }
            Counters c = counters.computeIfAbsent(l.statPrefix(), k -> new Counters());
            c.enabled.incrementAndGet();
            if (take(l, request)) {
                c.ok.incrementAndGet();
                continue;
            }
            c.rateLimited.incrementAndGet();
            if (sampled(l.enforcedFraction())) {
                c.enforced.incrementAndGet();
                return FilterResult.reply(new Rejection(Rejection.Reason.RATE_LIMITED, "EnvoyFilter " + l.name()),
                        l.responseHeaders());
            }
        }
        return FilterResult.CONTINUE;
    }

    /**
     * A per-vhost limit applies to calls on its port; a filter-wide one, unless a per-vhost limit
     * of the same EnvoyFilter applies (Envoy's per-route config replaces the filter's).
     */
    private static boolean applies(List<LocalRateLimitSpec> limits, LocalRateLimitSpec l, int port) {
        if (l.routePort() != 0) {
            return l.routePort() == port;
        }
        for (int i = 0; i < limits.size(); i++) {
            LocalRateLimitSpec o = limits.get(i);
            if (o.routePort() != 0 && o.routePort() == port && o.name().equals(l.name())) {
                return false;
            }
        }
        return true;
    }

    /** A token from the matched descriptors' buckets (all of them), or from the limit's own when none matched. */
    private boolean take(LocalRateLimitSpec l, RequestContext request) {
        if (!l.descriptors().isEmpty() && !l.rateLimits().isEmpty()) {
            var attrs = request.attributes();
            java.net.InetSocketAddress src = attrs.sourceAddress();
            String ip = src == null || src.getAddress() == null ? null : src.getAddress().getHostAddress();
            List<LocalRateLimitSpec.Descriptor> matched = RateLimitDescriptors.matched(l.descriptors(),
                    RateLimitDescriptors.evaluate(l.rateLimits(), name -> switch (name) {
                        case ":path" -> attrs.path();
                        case ":method" -> attrs.method();
                        case ":authority", "host" -> attrs.host();
                        default -> request.requestHeaders().get(name);
                    }, ip));
            if (!matched.isEmpty()) {
                for (int i = 0; i < matched.size(); i++) {
                    LocalRateLimitSpec.Descriptor d = matched.get(i);
                    if (!bucket(l, d.entries(), d.maxTokens(), d.tokensPerFill(), d.fillInterval()).tryTake(clock.getAsLong())) {
                        return false;
                    }
                }
                return true;
            }
        }
        return bucket(l, List.of(), l.maxTokens(), l.tokensPerFill(), l.fillInterval()).tryTake(clock.getAsLong());
    }

    private Bucket bucket(LocalRateLimitSpec l, List<LocalRateLimitSpec.Entry> entries, long max, long perFill, Duration every) {
        return buckets.computeIfAbsent(new BucketKey(l.name(), l.statPrefix(), l.routePort(), entries, max, perFill, every),
                k -> new Bucket(k.max(), k.perFill(), k.interval().toNanos(), clock.getAsLong()));
    }

    private static boolean sampled(double fraction) {
        return fraction >= 1 || fraction > 0 && ThreadLocalRandom.current().nextDouble() < fraction;
    }

    /**
     * For {@code /stats/prometheus}: {@code waypoint_local_rate_limit_total{stat_prefix, result}}
     * with result {@code enabled}, {@code ok}, {@code rate_limited}, {@code enforced}.
     */
    public String scrape() {
        StringBuilder b = new StringBuilder();
        b.append("# HELP waypoint_local_rate_limit_total Requests seen by local rate limits (Envoy's http_local_rate_limit stats).\n")
                .append("# TYPE waypoint_local_rate_limit_total counter\n");
        new TreeMap<>(counters).forEach((prefix, c) -> {
            line(b, prefix, "enabled", c.enabled.get());
            line(b, prefix, "ok", c.ok.get());
            line(b, prefix, "rate_limited", c.rateLimited.get());
            line(b, prefix, "enforced", c.enforced.get());
        });
        return b.toString();
    }

    private static void line(StringBuilder b, String prefix, String result, long v) {
        b.append("waypoint_local_rate_limit_total{stat_prefix=\"").append(prefix.replace("\\", "\\\\").replace("\"", "\\\""))
                .append("\",result=\"").append(result).append("\"} ").append(v).append('\n');
    }

    /** A token bucket refilled in whole intervals, as Envoy's timer-driven local rate limit. */
    static final class Bucket {
        private final long max;
        private final long perFill;
        private final long interval;
        private final AtomicLong tokens;
        /** Clock value of the last fill boundary. */
        private final AtomicLong filledAt;

        Bucket(long max, long perFill, long intervalNanos, long now) {
            this.max = max;
            this.perFill = perFill;
            this.interval = intervalNanos;
            this.tokens = new AtomicLong(max);
            this.filledAt = new AtomicLong(now);
        }

        boolean tryTake(long now) {
            long at = filledAt.get();
            long fills = (now - at) / interval;
            if (fills > 0 && filledAt.compareAndSet(at, at + fills * interval)) {
                long add = fills > max ? max : fills * perFill;
                tokens.accumulateAndGet(add, (t, a) -> Math.min(max, t + a));
            }
            while (true) {
                long t = tokens.get();
                if (t <= 0) {
                    return false;
                }
                if (tokens.compareAndSet(t, t - 1)) {
                    return true;
                }
            }
        }
    }
}
