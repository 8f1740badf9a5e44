package dev.waypoint.authn;

import dev.waypoint.model.request.JwtAuthn;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link JwtVerifier} decided about one request's tokens (STYLE rule 5: decide, then do).
 */
sealed interface AuthnResult {
    /** No token in any location of the applicable rules: authentication passes, without a principal. */
    record NoToken() implements AuthnResult {}

    /**
     * A token verified against {@code rule}.
     *
     * @param token the raw token, as found
     * @param location where it was found (a header location is removed unless the rule forwards it)
     * @param payload the claims as in the token (not split), for {@code outputClaimToHeaders}
     */
    record Valid(JwtAuthn authn, JwtRule rule, String token, JwtRule.TokenLocation location,
                 Map<String, Object> payload) implements AuthnResult {}

    /**
     * A token was presented and fails: {@code status} 401, or 403 for an audience mismatch;
     * {@code message} in Envoy's words ({@code Jwt is expired}).
     */
    record Invalid(int status, String message) implements AuthnResult {
        public Invalid {
            Objects.requireNonNull(message, "message");
        }
    }

    /** A token whose issuer's keys are not there yet: wait for {@code rule.keys().ready()}, then verify again. */
    record KeysPending(JwtRule rule) implements AuthnResult {}
}
