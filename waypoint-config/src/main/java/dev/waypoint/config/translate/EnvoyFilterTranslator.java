package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code networking.istio.io/v1alpha3} {@code EnvoyFilter} → {@link LocalRateLimitSpec}s. A
 * waypoint that is not Envoy cannot apply arbitrary Envoy patches; it applies exactly one shape,
 * the local rate limit of Istio's "Enabling Rate Limits using Envoy" page: {@code applyTo:
 * HTTP_FILTER}, an insert operation, {@code value.name: envoy.filters.http.local_ratelimit} with
 * its {@code typed_config} (a {@code udpa.type.v1.TypedStruct} or the {@code LocalRateLimit} type
 * itself): {@code stat_prefix}, {@code token_bucket}, {@code filter_enabled}, {@code filter_enforced},
 * {@code response_headers_to_add}; and the page's per-route example: an {@code HTTP_ROUTE}
 * {@code MERGE} of {@code typed_per_filter_config} for vhost {@code inbound|http|PORT} (port PORT
 * of the targeted Service) with {@code route.action: ANY}, whose LocalRateLimit may also have
 * {@code descriptors} and {@code rate_limits} actions ({@link RateLimitActions}).
 *
 * <p>An EnvoyFilter with {@code targetRefs} is this waypoint's to apply: any other patch, or a
 * field of {@code LocalRateLimit} it does not implement ({@code descriptors} outside a route
 * patch, other route matches, ...), is an error, so the object is rejected whole rather than
 * half-applied (its last good version stays). An EnvoyFilter without {@code targetRefs} (a
 * {@code workloadSelector} one, for sidecars or gateways) is a warning and is ignored.
 */
final class EnvoyFilterTranslator {
    static final String FILTER = "envoy.filters.http.local_ratelimit";
    private static final String TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
    private static final String TYPED_STRUCT = "type.googleapis.com/udpa.type.v1.TypedStruct";
    private static final String XDS_TYPED_STRUCT = "type.googleapis.com/xds.type.v3.TypedStruct";
    private static final Set<String> SPEC_FIELDS = Set.of("workloadSelector", "targetRefs", "configPatches", "priority");
    private static final Set<String> PATCH_FIELDS = Set.of("applyTo", "match", "patch");
    private static final Set<String> INSERTS = Set.of("INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "ADD");
    private static final Set<String> LRL_FIELDS = Set.of("stat_prefix", "token_bucket", "filter_enabled", "filter_enforced",
            "response_headers_to_add");
    private static final Set<String> BUCKET_FIELDS = Set.of("max_tokens", "tokens_per_fill", "fill_interval");
    private static final java.util.regex.Pattern VHOST = java.util.regex.Pattern.compile("inbound\\|http\\|([0-9]{1,5})");
    private static final Set<String> FRACTION_FIELDS = Set.of("runtime_key", "default_value");
    private static final String SUPPORTED = "the local rate limit of Istio's 'Enabling Rate Limits using Envoy' "
            + "(applyTo HTTP_FILTER, " + FILTER + ")";

    private EnvoyFilterTranslator() {}

    /** The rate limits of the object (one per patch); empty when it is not for a waypoint. */
    static List<LocalRateLimitSpec> translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.unknownKeys(spec, "spec", SPEC_FIELDS);
        PolicyTargetRefs.Read targets = PolicyTargetRefs.read(ctx, spec, "Service or Gateway");
        if (!targets.written()) {
            ctx.warning("spec.targetRefs", "missing: a waypoint applies an EnvoyFilter through targetRefs only; "
                    + "this one (workloadSelector or mesh-wide) is for Envoy sidecars and gateways, not applied here");
            return List.of();
        }
        if (child(spec, "workloadSelector") != null) {
            ctx.error("spec.workloadSelector", message("workloadSelector", "set", "only one of workloadSelector or targetRefs"));
        }
        List<LocalRateLimitSpec> out = new ArrayList<>();
        List<JsonNode> patches = ctx.list(spec, "spec", "configPatches");
        if (patches.isEmpty()) {
            ctx.error("spec.configPatches", message("configPatches", "empty", SUPPORTED));
        }
        boolean hasRoutePatch = false;
        for (JsonNode patch : patches) {
            hasRoutePatch |= patch != null && "HTTP_ROUTE".equals(child(patch, "applyTo") == null ? null
                    : child(patch, "applyTo").asText());
        }
        boolean hasFilterPatch = false;
        for (int i = 0; i < patches.size(); i++) {
            String p = index("spec.configPatches", i);
            JsonNode patch = ctx.element(patches.get(i), p, "configPatches[" + i + "]");
            if (patch == null) {
                continue;
            }
            ctx.unknownKeys(patch, p, PATCH_FIELDS);
            String applyTo = ctx.string(patch, p, "applyTo");
            JsonNode body = ctx.object(patch, p, "patch");
            String op = ctx.string(body, path(p, "patch"), "operation");
            JsonNode value = ctx.object(body, path(p, "patch"), "value");
            String vp = path(path(p, "patch"), "value");
            if ("HTTP_ROUTE".equals(applyTo) && "MERGE".equals(op) && value != null) {
                LocalRateLimitSpec lrl = routePatch(ctx, patch, p, value, vp, name, targets);
                if (lrl != null) {
                    out.add(lrl);
                }
                continue;
            }
            String filterName = value == null ? null : ctx.string(value, vp, "name");
            if (!"HTTP_FILTER".equals(applyTo) || op == null || !INSERTS.contains(op) || !FILTER.equals(filterName)) {
                ctx.error(p, message("configPatches[" + i + "]", "applyTo " + applyTo + ", operation " + op + ", filter "
                        + filterName, SUPPORTED + "; other EnvoyFilter patches are not supported by this waypoint"));
                continue;
            }
            hasFilterPatch = true;
            JsonNode typed = ctx.object(value, vp, "typed_config");
            LocalRateLimitSpec lrl = typedConfig(ctx, typed, path(vp, "typed_config"), name, targets, 0, hasRoutePatch);
            if (lrl != null) {
                out.add(lrl);
            }
        }
        if (hasRoutePatch && !hasFilterPatch) {
            ctx.error("spec.configPatches", message("configPatches", "an HTTP_ROUTE patch without the HTTP_FILTER insert",
                    "the " + FILTER + " HTTP_FILTER insert too (Envoy ignores per-route config of a filter not in the chain)"));
        }
        return ctx.failed() ? null : out;
    }

    /**
     * An {@code HTTP_ROUTE} {@code MERGE} of {@code typed_per_filter_config} for vhost
     * {@code inbound|http|PORT}, {@code route.action: ANY} (the page's second example).
     */
    private static LocalRateLimitSpec routePatch(ObjectContext ctx, JsonNode patch, String p, JsonNode value, String vp,
                                                 NamespacedName name, PolicyTargetRefs.Read targets) {
        JsonNode match = ctx.object(patch, p, "match");
        String mp = path(p, "match");
        if (match == null) {
            ctx.error(mp, message("match", "missing", "routeConfiguration.vhost {name: inbound|http|PORT, route.action: ANY}"));
            return null;
        }
        ctx.unknownKeys(match, mp, Set.of("context", "routeConfiguration"));
        JsonNode rc = ctx.object(match, mp, "routeConfiguration");
        String rcp = path(mp, "routeConfiguration");
        JsonNode vhost = rc == null ? null : ctx.object(rc, rcp, "vhost");
        String hp = path(rcp, "vhost");
        if (vhost == null) {
            ctx.error(hp, message("vhost", "missing", "{name: inbound|http|PORT, route: {action: ANY}}"));
            return null;
        }
        ctx.unknownKeys(rc, rcp, Set.of("vhost"));
        ctx.unknownKeys(vhost, hp, Set.of("name", "route"));
        String vhostName = ctx.string(vhost, hp, "name");
        java.util.regex.Matcher m = vhostName == null ? null : VHOST.matcher(vhostName);
        int port = 0;
        if (m == null || !m.matches() || (port = Integer.parseInt(m.group(1))) < 1 || port > 65535) {
            ctx.error(path(hp, "name"), message("name", String.valueOf(vhostName),
                    "inbound|http|PORT (PORT: the targeted Service's port)"));
        }
        JsonNode route = ctx.object(vhost, hp, "route");
        if (route != null) {
            ctx.unknownKeys(route, path(hp, "route"), Set.of("action"));
        }
        String action = route == null ? null : ctx.string(route, path(hp, "route"), "action");
        if (!"ANY".equals(action)) {
            ctx.error(path(path(hp, "route"), "action"), message("action", String.valueOf(action),
                    "ANY (this waypoint applies per-vhost, not per-route, local rate limits)"));
        }
        ctx.unknownKeys(value, vp, Set.of("typed_per_filter_config"));
        JsonNode perFilter = ctx.object(value, vp, "typed_per_filter_config");
        String pp = path(vp, "typed_per_filter_config");
        if (perFilter == null) {
            ctx.error(pp, message("typed_per_filter_config", "missing", "{" + FILTER + ": a LocalRateLimit}"));
            return null;
        }
        ctx.unknownKeys(perFilter, pp, Set.of(FILTER));
        JsonNode typed = ctx.object(perFilter, pp, FILTER);
        if (ctx.failed()) {
            return null;
        }
        return typedConfig(ctx, typed, path(pp, FILTER), name, targets, port, false);
    }

    /**
     * A LocalRateLimit {@code typed_config}; {@code routePort} 0 for the filter's own (no
     * descriptors); {@code bucketOptional}: the filter's own config of an EnvoyFilter with route
     * patches may leave out {@code token_bucket} (then it limits nothing by itself, as Envoy).
     */
    private static LocalRateLimitSpec typedConfig(ObjectContext ctx, JsonNode typed, String tp, NamespacedName name,
                                                  PolicyTargetRefs.Read targets, int routePort, boolean bucketOptional) {
        if (typed == null) {
            ctx.error(tp, message("typed_config", "missing", "a " + TYPE));
            return null;
        }
        String type = ctx.string(typed, tp, "@type");
        JsonNode config;
        String cp;
        if (TYPED_STRUCT.equals(type) || XDS_TYPED_STRUCT.equals(type)) {
            String url = ctx.string(typed, tp, "type_url");
            if (!TYPE.equals(url)) {
                ctx.error(path(tp, "type_url"), message("type_url", String.valueOf(url), TYPE));
                return null;
            }
            ctx.unknownKeys(typed, tp, Set.of("@type", "type_url", "value"));
            config = ctx.object(typed, tp, "value");
            cp = path(tp, "value");
        } else if (TYPE.equals(type)) {
            config = typed;
            cp = tp;
        } else {
            ctx.error(path(tp, "@type"), message("@type", String.valueOf(type), TYPE + " or a TypedStruct of it"));
            return null;
        }
        if (config == null) {
            ctx.error(cp, message("value", "missing", "the LocalRateLimit fields"));
            return null;
        }
        Set<String> known = new java.util.HashSet<>(LRL_FIELDS);
        if (config == typed) {
            known.add("@type");
        }
        if (routePort != 0) {
            known.add("descriptors");
            known.add("rate_limits");
        }
        ctx.unknownKeys(config, cp, known);
        String statPrefix = ctx.requiredString(config, cp, "stat_prefix", "a stat prefix such as http_local_rate_limiter");
        JsonNode bucket = ctx.object(config, cp, "token_bucket");
        String bp = path(cp, "token_bucket");
        if (bucket == null) {
            if (bucketOptional) {
                ctx.unknownKeys(config, cp, Set.of("stat_prefix", "@type"));
                return null;
            }
            ctx.error(bp, message("token_bucket", "missing", "{max_tokens, tokens_per_fill, fill_interval}"));
            return null;
        }
        LocalRateLimitSpec.Descriptor own = bucket(ctx, bucket, bp, List.of());
        List<LocalRateLimitSpec.Descriptor> descriptors = new ArrayList<>();
        List<JsonNode> ds = ctx.list(config, cp, "descriptors");
        for (int i = 0; i < ds.size(); i++) {
            String dp = index(path(cp, "descriptors"), i);
            JsonNode d = ctx.element(ds.get(i), dp, "descriptors[" + i + "]");
            if (d == null) {
                continue;
            }
            ctx.unknownKeys(d, dp, Set.of("entries", "token_bucket"));
            List<LocalRateLimitSpec.Entry> entries = new ArrayList<>();
            List<JsonNode> es = ctx.list(d, dp, "entries");
            if (es.isEmpty()) {
                ctx.error(path(dp, "entries"), message("entries", "empty", "at least one {key, value}"));
            }
            for (int j = 0; j < es.size(); j++) {
                String ep = index(path(dp, "entries"), j);
                JsonNode e = ctx.element(es.get(j), ep, "entries[" + j + "]");
                if (e == null) {
                    continue;
                }
                ctx.unknownKeys(e, ep, Set.of("key", "value"));
                String k = ctx.requiredString(e, ep, "key", "a descriptor key");
                String v = ctx.requiredString(e, ep, "value", "a descriptor value");
                if (k != null && v != null) {
                    entries.add(new LocalRateLimitSpec.Entry(k, v));
                }
            }
            JsonNode db = ctx.object(d, dp, "token_bucket");
            if (db == null) {
                ctx.error(path(dp, "token_bucket"), message("token_bucket", "missing", "{max_tokens, tokens_per_fill, fill_interval}"));
                continue;
            }
            LocalRateLimitSpec.Descriptor desc = bucket(ctx, db, path(dp, "token_bucket"), entries);
            if (desc != null) {
                if (descriptors.stream().anyMatch(x -> x.entries().equals(desc.entries()))) {
                    ctx.error(dp, message("entries", desc.entries().toString(), "distinct descriptors (Envoy rejects duplicates)"));
                }
                descriptors.add(desc);
            }
        }
        List<List<LocalRateLimitSpec.Action>> rateLimits = RateLimitActions.read(ctx, config, cp);
        long maxTokens = own == null ? 0 : own.maxTokens();
        long perFill = own == null ? 1 : own.tokensPerFill();
        Duration interval = own == null ? null : own.fillInterval();
        double enabled = fraction(ctx, config, cp, "filter_enabled");
        double enforced = fraction(ctx, config, cp, "filter_enforced");
        Map<String, String> headers = new LinkedHashMap<>();
        List<JsonNode> adds = ctx.list(config, cp, "response_headers_to_add");
        for (int i = 0; i < adds.size(); i++) {
            String hp = index(path(cp, "response_headers_to_add"), i);
            JsonNode a = ctx.element(adds.get(i), hp, "response_headers_to_add[" + i + "]");
            if (a == null) {
                continue;
            }
            ctx.unknownKeys(a, hp, Set.of("header", "append", "append_action", "keep_empty_value"));
            JsonNode h = ctx.object(a, hp, "header");
            String key = ctx.requiredString(h, path(hp, "header"), "key", "a header name");
            String v = ctx.string(h, path(hp, "header"), "value");
            if (key != null) {
                headers.put(key.toLowerCase(java.util.Locale.ROOT), v == null ? "" : v);
            }
        }
        if (statPrefix == null || interval == null || maxTokens <= 0 || ctx.failed()) {
            return null;
        }
        return new LocalRateLimitSpec(name, targets.refs(), statPrefix, maxTokens, perFill, interval, enabled, enforced,
                headers, ctx.source(), routePort, descriptors, rateLimits);
    }

    /** A {@code token_bucket} (of the filter, or of a descriptor with {@code entries}); null if invalid. */
    private static LocalRateLimitSpec.Descriptor bucket(ObjectContext ctx, JsonNode bucket, String bp,
                                                        List<LocalRateLimitSpec.Entry> entries) {
        ctx.unknownKeys(bucket, bp, BUCKET_FIELDS);
        long maxTokens = ctx.integer(bucket, bp, "max_tokens", 1, Integer.MAX_VALUE, 0);
        if (child(bucket, "max_tokens") == null) {
            ctx.error(path(bp, "max_tokens"), message("max_tokens", "missing", "1-" + Integer.MAX_VALUE));
        }
        long perFill = ctx.integer(bucket, bp, "tokens_per_fill", 1, Integer.MAX_VALUE, 1);
        Duration interval = child(bucket, "fill_interval") == null ? null
                : DestinationRuleTranslator.duration(ctx, bucket, bp, "fill_interval");
        if (child(bucket, "fill_interval") == null) {
            ctx.error(path(bp, "fill_interval"), message("fill_interval", "missing", "a duration of at least 50ms"));
            return null;
        } else if (interval != null && interval.toMillis() < 50) {
            // Envoy: "The fill interval must be >= 50ms"
            ctx.error(path(bp, "fill_interval"), message("fill_interval", interval.toMillis() + "ms", "at least 50ms"));
            return null;
        }
        return interval == null || maxTokens <= 0 ? null : new LocalRateLimitSpec.Descriptor(entries, maxTokens, perFill, interval);
    }

    /** A {@code RuntimeFractionalPercent}'s default value as a fraction; absent is 0 (Envoy's default). */
    private static double fraction(ObjectContext ctx, JsonNode parent, String parentPath, String key) {
        JsonNode f = ctx.object(parent, parentPath, key);
        if (f == null) {
            return 0;
        }
        String p = path(parentPath, key);
        ctx.unknownKeys(f, p, FRACTION_FIELDS);
        JsonNode d = ctx.object(f, p, "default_value");
        if (d == null) {
            return 0;
        }
        String dp = path(p, "default_value");
        ctx.unknownKeys(d, dp, Set.of("numerator", "denominator"));
        int numerator = ctx.integer(d, dp, "numerator", 0, Integer.MAX_VALUE, 0);
        String den = ctx.string(d, dp, "denominator");
        double scale = switch (den == null ? "HUNDRED" : den) {
            case "HUNDRED" -> 100;
            case "TEN_THOUSAND" -> 10_000;
            case "MILLION" -> 1_000_000;
            default -> {
                ctx.error(path(dp, "denominator"), message("denominator", renderJson(child(d, "denominator")),
                        "HUNDRED, TEN_THOUSAND or MILLION"));
                yield 100;
            }
        };
        return Math.min(1, numerator / scale);
    }
}
