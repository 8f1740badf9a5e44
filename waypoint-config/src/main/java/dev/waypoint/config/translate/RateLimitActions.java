package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.traffic.LocalRateLimitSpec.Action;
import dev.waypoint.model.traffic.LocalRateLimitSpec.HeaderMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A LocalRateLimit's {@code rate_limits[].actions} (Envoy's route {@code RateLimit.Action}): the
 * four the Istio page and its users write: {@code request_headers}, {@code generic_key},
 * {@code header_value_match} (with {@code HeaderMatcher}s: exact, prefix, suffix, contains,
 * present, {@code string_match} of those, {@code invert_match}) and {@code remote_address}. Any
 * other action or field is an error.
 */
final class RateLimitActions {
    private static final String ACTIONS = "request_headers, generic_key, header_value_match or remote_address";

    private RateLimitActions() {}

    static List<List<Action>> read(ObjectContext ctx, JsonNode config, String cp) {
        List<List<Action>> out = new ArrayList<>();
        List<JsonNode> rls = ctx.list(config, cp, "rate_limits");
        for (int i = 0; i < rls.size(); i++) {
            String rp = index(path(cp, "rate_limits"), i);
            JsonNode rl = ctx.element(rls.get(i), rp, "rate_limits[" + i + "]");
            if (rl == null) {
                continue;
            }
            ctx.unknownKeys(rl, rp, Set.of("actions"));
            List<JsonNode> as = ctx.list(rl, rp, "actions");
            if (as.isEmpty()) {
                ctx.error(path(rp, "actions"), message("actions", "empty", "at least one of " + ACTIONS));
            }
            List<Action> actions = new ArrayList<>();
            for (int j = 0; j < as.size(); j++) {
                String ap = index(path(rp, "actions"), j);
                JsonNode a = ctx.element(as.get(j), ap, "actions[" + j + "]");
                if (a == null) {
                    continue;
                }
                if (a.size() != 1) {
                    ctx.error(ap, message("actions[" + j + "]", a.size() + " fields", "exactly one of " + ACTIONS));
                    continue;
                }
                Action action = action(ctx, a, ap);
                if (action != null) {
                    actions.add(action);
                }
            }
            out.add(actions);
        }
        return out;
    }

    private static Action action(ObjectContext ctx, JsonNode a, String ap) {
        String kind = a.fieldNames().next();
        String p = path(ap, kind);
        JsonNode body = ctx.object(a, ap, kind);
        switch (kind) {
            case "request_headers" -> {
                if (body == null) {
                    return null;
                }
                ctx.unknownKeys(body, p, Set.of("header_name", "descriptor_key", "skip_if_absent"));
                String header = ctx.requiredString(body, p, "header_name", "a header name");
                String key = ctx.requiredString(body, p, "descriptor_key", "a descriptor key");
                boolean skip = ctx.bool(body, p, "skip_if_absent", false);
                return header == null || key == null ? null
                        : new Action.RequestHeaders(header.toLowerCase(Locale.ROOT), key, skip);
            }
            case "generic_key" -> {
                if (body == null) {
                    return null;
                }
                ctx.unknownKeys(body, p, Set.of("descriptor_value", "descriptor_key"));
                String value = ctx.requiredString(body, p, "descriptor_value", "a descriptor value");
                String key = ctx.string(body, p, "descriptor_key");
                return value == null ? null : new Action.GenericKey(key == null || key.isEmpty() ? "generic_key" : key, value);
            }
            case "remote_address" -> {
                if (body != null) {
                    ctx.unknownKeys(body, p, Set.of());
                }
                return new Action.RemoteAddress();
            }
            case "header_value_match" -> {
                if (body == null) {
                    return null;
                }
                ctx.unknownKeys(body, p, Set.of("descriptor_value", "descriptor_key", "expect_match", "headers"));
                String value = ctx.requiredString(body, p, "descriptor_value", "a descriptor value");
                String key = ctx.string(body, p, "descriptor_key");
                boolean expect = ctx.bool(body, p, "expect_match", true);
                List<HeaderMatch> headers = new ArrayList<>();
                List<JsonNode> hs = ctx.list(body, p, "headers");
                if (hs.isEmpty()) {
                    ctx.error(path(p, "headers"), message("headers", "empty", "at least one header matcher"));
                }
                for (int k = 0; k < hs.size(); k++) {
                    String hp = index(path(p, "headers"), k);
                    JsonNode h = ctx.element(hs.get(k), hp, "headers[" + k + "]");
                    HeaderMatch m = h == null ? null : headerMatch(ctx, h, hp);
                    if (m != null) {
                        headers.add(m);
                    }
                }
                return value == null ? null
                        : new Action.HeaderValueMatch(key == null || key.isEmpty() ? "header_match" : key, value, expect, headers);
            }
            default -> {
                ctx.error(ap, message("actions", kind, ACTIONS));
                return null;
            }
        }
    }

    /** An Envoy {@code config.route.v3.HeaderMatcher} without regexes and ranges. */
    private static HeaderMatch headerMatch(ObjectContext ctx, JsonNode h, String hp) {
        ctx.unknownKeys(h, hp, Set.of("name", "exact_match", "prefix_match", "suffix_match", "contains_match",
                "present_match", "string_match", "invert_match"));
        String name = ctx.requiredString(h, hp, "name", "a header name");
        boolean invert = ctx.bool(h, hp, "invert_match", false);
        String kind = null;
        String value = null;
        int specifiers = 0;
        for (String k : List.of("exact_match", "prefix_match", "suffix_match", "contains_match")) {
            if (child(h, k) != null) {
                specifiers++;
                kind = k.substring(0, k.indexOf('_'));
                value = ctx.string(h, hp, k);
            }
        }
        if (child(h, "present_match") != null) {
            specifiers++;
            kind = "present";
            if (!ctx.bool(h, hp, "present_match", true)) {
                invert = !invert;
            }
        }
        JsonNode sm = ctx.object(h, hp, "string_match");
        if (sm != null) {
            specifiers++;
            String sp = path(hp, "string_match");
            ctx.unknownKeys(sm, sp, Set.of("exact", "prefix", "suffix", "contains"));
            if (sm.size() != 1) {
                ctx.error(sp, message("string_match", sm.size() + " fields", "exactly one of exact, prefix, suffix, contains"));
                return null;
            }
            kind = sm.fieldNames().next();
            value = ctx.string(sm, sp, kind);
        }
        if (specifiers == 0) {
            // Envoy: no specifier is a presence match
            kind = "present";
        } else if (specifiers > 1) {
            ctx.error(hp, message("headers", specifiers + " match specifiers", "at most one"));
            return null;
        }
        if (name == null || !"present".equals(kind) && value == null) {
            return null;
        }
        return new HeaderMatch(name.toLowerCase(Locale.ROOT), kind, value, invert);
    }
}
