package dev.waypoint.lb;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The local rate limits that apply, per Service and waypoint-wide, compiled once per snapshot by
 * {@link RateLimitCompiler}; {@link LocalRateLimitFilter} reads it per request.
 */
public final class RateLimits {
    /** The snapshot key of this part. */
    public static final SnapshotPart<RateLimits> PART = SnapshotPart.of("rateLimits", RateLimits.class);

    private final List<LocalRateLimitSpec> wide;
    private final Map<NamespacedName, List<LocalRateLimitSpec>> byService;

    RateLimits(List<LocalRateLimitSpec> wide, Map<NamespacedName, List<LocalRateLimitSpec>> byService) {
        this.wide = List.copyOf(wide);
        this.byService = Map.copyOf(byService);
    }

    /** The limits of a call to {@code service} (null: a Pod-addressed call, waypoint-wide limits only). */
    List<LocalRateLimitSpec> limits(NamespacedName service) {
        if (service == null) {
            return wide;
        }
        return byService.getOrDefault(service, wide);
    }

    /** For the config dump: {@code "ns/svc" or "*" -> ["ns/envoyfilter (stat_prefix: N tokens per interval)"]}. */
    public Map<String, List<String>> debug() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (!wide.isEmpty()) {
            out.put("*", wide.stream().map(RateLimits::describe).toList());
        }
        byService.forEach((k, v) -> out.put(k.toString(), v.stream().map(RateLimits::describe).toList()));
        return out;
    }

    private static String describe(LocalRateLimitSpec s) {
        return s.name() + " (" + s.statPrefix() + ": " + s.maxTokens() + " tokens, " + s.tokensPerFill() + " per "
                + s.fillInterval().toMillis() + " ms" + (s.routePort() == 0 ? "" : ", vhost inbound|http|" + s.routePort()
                + ", " + s.descriptors().size() + " descriptors") + ")";
    }
}
