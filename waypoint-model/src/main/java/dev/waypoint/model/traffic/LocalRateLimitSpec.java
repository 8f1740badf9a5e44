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
 * @param routePort 0: the filter's own config (every call the targetRefs attach); else an
 *        {@code HTTP_ROUTE} patch's {@code typed_per_filter_config} for vhost
 *        {@code inbound|http|PORT}: calls to the attached Services' port PORT, replacing the
 *        filter-wide config of the same EnvoyFilter there (as Envoy's per-route config does)
 * @param descriptors {@code descriptors}: entries with their own token bucket
 * @param rateLimits {@code rate_limits}: each one's {@code actions}, evaluated per request into a descriptor
 */
public record LocalRateLimitSpec(NamespacedName name, List<PolicyTargetRef> targetRefs, String statPrefix, long maxTokens,
                                 long tokensPerFill, Duration fillInterval, double enabledFraction, double enforcedFraction,
                                 Map<String, String> responseHeaders, SourceRef source, int routePort,
                                 List<Descriptor> descriptors, List<List<Action>> rateLimits) {
    public LocalRateLimitSpec {
        Objects.requireNonNull(name, "name");
        targetRefs = List.copyOf(targetRefs);
        Objects.requireNonNull(statPrefix, "statPrefix");
        Objects.requireNonNull(fillInterval, "fillInterval");
        responseHeaders = Map.copyOf(responseHeaders);
        descriptors = List.copyOf(descriptors);
        rateLimits = rateLimits.stream().map(List::copyOf).toList();
    }

    /** A filter-wide limit without descriptors. */
    public LocalRateLimitSpec(NamespacedName name, List<PolicyTargetRef> targetRefs, String statPrefix, long maxTokens,
                              long tokensPerFill, Duration fillInterval, double enabledFraction, double enforcedFraction,
                              Map<String, String> responseHeaders, SourceRef source) {
        this(name, targetRefs, statPrefix, maxTokens, tokensPerFill, fillInterval, enabledFraction, enforcedFraction,
                responseHeaders, source, 0, List.of(), List.of());
    }

    /** One {@code descriptors[]} entry: its {@code entries} (key/value, in order) and its own token bucket. */
    public record Descriptor(List<Entry> entries, long maxTokens, long tokensPerFill, Duration fillInterval) {
        public Descriptor {
            entries = List.copyOf(entries);
            Objects.requireNonNull(fillInterval, "fillInterval");
        }
    }

    /** A descriptor entry. */
    public record Entry(String key, String value) {
        public Entry {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(value, "value");
        }
    }

    /** One {@code rate_limits[].actions[]} entry. */
    public sealed interface Action {
        /** {@code request_headers}: the header's value under {@code descriptorKey}; absent: no descriptor (unless skipped). */
        record RequestHeaders(String headerName, String descriptorKey, boolean skipIfAbsent) implements Action {}

        /** {@code generic_key}: a fixed entry ({@code descriptor_key} default {@code generic_key}). */
        record GenericKey(String descriptorKey, String descriptorValue) implements Action {}

        /** {@code remote_address}: {@code remote_address} = the client's IP. */
        record RemoteAddress() implements Action {}

        /**
         * {@code header_value_match}: {@code descriptorKey} (default {@code header_match}) =
         * {@code descriptorValue} when all {@code headers} match (== {@code expectMatch}); else no descriptor.
         */
        record HeaderValueMatch(String descriptorKey, String descriptorValue, boolean expectMatch, List<HeaderMatch> headers)
                implements Action {
            public HeaderValueMatch {
                headers = List.copyOf(headers);
            }
        }
    }

    /** An Envoy {@code HeaderMatcher}: {@code kind} is exact, prefix, suffix, contains or present. */
    public record HeaderMatch(String name, String kind, String value, boolean invert) {}
}
