package dev.waypoint.authn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** JSON values of a token payload as immutable Java values; JSON {@code null} dropped. */
final class Claims {
    private Claims() {}

    /** {@code v} with nested maps and lists made immutable and nulls removed; null for a JSON null. */
    static Object immutable(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> {
                Object y = immutable(x);
                if (k != null && y != null) {
                    out.put(k.toString(), y);
                }
            });
            return Collections.unmodifiableMap(out);
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object x : l) {
                Object y = immutable(x);
                if (y != null) {
                    out.add(y);
                }
            }
            return List.copyOf(out);
        }
        if (v instanceof java.util.Date d) {
            return d.getTime() / 1000;
        }
        return v;
    }

    /**
     * The value of {@code claim} for a header ({@code outputClaimToHeaders}): a string, number or
     * boolean, found through {@code .}-separated nested objects as Envoy's {@code claim_to_headers}
     * does; null for anything else.
     */
    static String headerValue(Map<String, Object> claims, String claim) {
        Object v = claims.get(claim);
        if (v == null && claim.contains(".")) {
            Object cur = claims;
            for (String part : claim.split("\\.")) {
                cur = cur instanceof Map<?, ?> m ? m.get(part) : null;
            }
            v = cur;
        }
        if (v instanceof String || v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        return null;
    }
}
