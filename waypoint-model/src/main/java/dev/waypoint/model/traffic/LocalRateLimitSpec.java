package dev.waypoint.model.traffic;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A local rate limit, as Istio users write it today: an {@code EnvoyFilter} that inserts
 * {@code envoy.filters.http.local_ratelimit} (Istio's "Enabling Rate Limits using Envoy" page),
 * attached to this waypoint or a Service through {@code targetRefs}. One per EnvoyFilter patch.
 *
 * @param name the EnvoyFilter
 * @param targetRefs where it attaches (the waypoint Gateway, or Services)
 * @param statPrefix {@code stat_prefix} (metric label)
 * @param maxTokens {@code token_bucket.max_tokens}: the bucket's size, and its content at start
 * @param tokensPerFill {@code token_bucket.tokens_per_fill} (default 1)
 * @param fillInterval {@code token_bucket.fill_interval}
 * @param enabledFraction {@code filter_enabled.default_value} as a fraction (0: not even counted; absent: 0, as Envoy)
 * @param enforcedFraction {@code filter_enforced.default_value} as a fraction (absent: 0: counted, never refused)
 * @param responseHeaders {@code response_headers_to_add}, added to the 429
 */
public record LocalRateLimitSpec(NamespacedName name, List<PolicyTargetRef> targetRefs, String statPrefix, long maxTokens,
                                 long tokensPerFill, Duration fillInterval, double enabledFraction, double enforcedFraction,
                                 Map<String, String> responseHeaders, SourceRef source) {
    public LocalRateLimitSpec {
        Objects.requireNonNull(name, "name");
        targetRefs = List.copyOf(targetRefs);
        Objects.requireNonNull(statPrefix, "statPrefix");
        Objects.requireNonNull(fillInterval, "fillInterval");
        responseHeaders = Map.copyOf(responseHeaders);
    }
}
