package dev.waypoint.authn;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.JwtRuleSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One jwtRule, compiled: where its tokens are looked for, which issuer and audiences it accepts,
 * where its keys come from, and what a valid token does to the request. Immutable; built by
 * {@link JwtRuleCompiler}, read on the event loops.
 *
 * @param origin the RequestAuthentication it comes from
 * @param issuer the {@code iss} its tokens must carry; null: any {@code iss}, or none (a rule
 *        with {@code jwksUri} and no {@code issuer}, which Istio accepts: Envoy's
 *        {@code JwtProvider.issuer} "If specified, it has to match the iss field in JWT, otherwise
 *        the JWT iss field is not checked")
 * @param locations where tokens are looked for, in order
 * @param audiences allowed audiences, normalized ({@link #normalizeAudience}); empty: any
 * @param spaceDelimitedClaims top-level claims split on spaces for authorization: {@code scope},
 *        {@code permission} and the rule's own
 * @param timeout how long a request waits for this rule's first keys
 * @param stripHeaders headers a verified token is removed from ({@code forwardOriginalToken: false})
 */
record JwtRule(NamespacedName origin, String issuer, Set<String> audiences, List<TokenLocation> locations,
               KeySource keys, Duration timeout, boolean forwardOriginalToken, String outputPayloadToHeader,
               List<JwtRuleSpec.ClaimToHeader> outputClaimToHeaders, Set<String> spaceDelimitedClaims) {

    /** Istio's {@code jwtRules[].timeout} default: "Default is 5s". */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    JwtRule {
        audiences = Set.copyOf(audiences);
        locations = List.copyOf(locations);
        outputClaimToHeaders = List.copyOf(outputClaimToHeaders);
        spaceDelimitedClaims = Set.copyOf(spaceDelimitedClaims);
    }

    /** Where a token may be. */
    sealed interface TokenLocation {
        /** A header, after {@code prefix} (compared case-insensitively, as the {@code Bearer} scheme is). */
        record Header(String name, String prefix) implements TokenLocation {}

        /** A query parameter. */
        record Param(String name) implements TokenLocation {}

        /** A cookie. */
        record Cookie(String name) implements TokenLocation {}
    }

    /**
     * Envoy's defaults when a rule names no location (jwt_authn {@code JwtProvider}: "If no
     * explicit location is specified, the following default locations are tried in order: 1. The
     * Authorization header using the Bearer schema ... 2. access_token query parameter").
     */
    static final List<TokenLocation> DEFAULT_LOCATIONS = List.of(
            new TokenLocation.Header("authorization", "Bearer "), new TokenLocation.Param("access_token"));

    static JwtRule compile(NamespacedName origin, JwtRuleSpec spec, KeySource keys) {
        List<TokenLocation> locations = new ArrayList<>();
        spec.fromHeaders().forEach(h -> locations.add(new TokenLocation.Header(h.name().toLowerCase(Locale.ROOT), h.prefix())));
        spec.fromParams().forEach(p -> locations.add(new TokenLocation.Param(p)));
        spec.fromCookies().forEach(c -> locations.add(new TokenLocation.Cookie(c)));
        Set<String> audiences = new LinkedHashSet<>();
        spec.audiences().forEach(a -> audiences.add(normalizeAudience(a)));
        // Istio always asks Envoy to split these two (normalize_payload_in_metadata), and the rule's own
        Set<String> split = new LinkedHashSet<>(List.of("scope", "permission"));
        split.addAll(spec.spaceDelimitedClaims());
        return new JwtRule(origin, spec.issuer(), audiences, locations.isEmpty() ? DEFAULT_LOCATIONS : locations, keys,
                spec.timeout() == null ? DEFAULT_TIMEOUT : spec.timeout(), spec.forwardOriginalToken(),
                spec.outputPayloadToHeader(), spec.outputClaimToHeaders(), split);
    }

    /**
     * jwt_verify_lib's audience comparison: the {@code http://} or {@code https://} scheme and a
     * trailing slash are ignored, so {@code https://api.example/} matches {@code api.example}.
     */
    static String normalizeAudience(String a) {
        String s = a;
        if (s.startsWith("http://")) {
            s = s.substring(7);
        } else if (s.startsWith("https://")) {
            s = s.substring(8);
        }
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /** For the config dump. */
    String debug() {
        return origin + ": issuer " + (issuer == null ? "any" : issuer) + (audiences.isEmpty() ? "" : ", audiences " + audiences) + ", keys "
                + keys.describe() + ", from " + locations;
    }
}
