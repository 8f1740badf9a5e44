package dev.waypoint.model.request;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What RequestAuthentication established for one request: a validated JWT. Written to
 * {@link #KEY} by the {@code authn} filter; read by authorization ({@code requestPrincipals},
 * {@code request.auth.*}) and telemetry. Absent when the request carried no token (or no
 * RequestAuthentication applies: tokens are then ignored).
 *
 * @param principal {@code <iss>/<sub>}, Istio's request principal; {@code ""} for a token without
 *        {@code iss} (accepted by a jwtRule without issuer), which no {@code requestPrincipals} value matches
 * @param issuer {@code iss}
 * @param subject {@code sub}
 * @param audiences {@code aud} (a string or a list in the token; always a list here)
 * @param presenter {@code azp}, or null
 * @param claims the whole payload, as JSON values (String, Number, Boolean, List, Map; JSON nulls dropped),
 *        normalized as Envoy's {@code normalize_payload_in_metadata} does for Istio: the top-level
 *        string claims {@code scope}, {@code permission} and the validating rule's
 *        {@code spaceDelimitedClaims} are already split on spaces into lists of words, so a
 *        matcher needs only "a list claim matches if any element matches" 
 */
public record JwtAuthn(String principal, String issuer, String subject, List<String> audiences, String presenter,
                       Map<String, Object> claims) {
    /** The request slot the {@code authn} stage writes. */
    public static final RequestKey<JwtAuthn> KEY = RequestKey.of("authn.jwt", JwtAuthn.class);

    public JwtAuthn {
        Objects.requireNonNull(principal, "principal");
        audiences = List.copyOf(audiences);
        claims = Map.copyOf(claims);
    }
}
