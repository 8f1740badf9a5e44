package dev.waypoint.model.security;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One {@code jwtRules} entry of a RequestAuthentication ({@code istio.security.v1beta1.JWTRule}),
 * validated. Exactly what the manifest said; defaults (token locations, the JWKS fetch timeout)
 * are applied by the compiler, not here.
 *
 * @param issuer {@code issuer}: the {@code iss} a token must carry for this rule; null when not
 *        set (Istio requires {@code issuer} or {@code jwksUri}): then a token of any {@code iss},
 *        or none, is checked against this rule's keys, as Envoy's {@code JwtProvider.issuer} says:
 *        "If specified, it has to match the iss field in JWT, otherwise the JWT iss field is not checked"
 * @param audiences {@code audiences}: when not empty, the token's {@code aud} must contain one of them
 * @param jwksUri {@code jwksUri}, or null
 * @param jwks {@code jwks}: an inline JWKS document (JSON), or null; wins over {@code jwksUri}
 * @param fromHeaders {@code fromHeaders}; empty: the default locations
 * @param fromParams {@code fromParams} (query parameters)
 * @param fromCookies {@code fromCookies}
 * @param forwardOriginalToken {@code forwardOriginalToken}: keep the token header when forwarding
 * @param outputPayloadToHeader {@code outputPayloadToHeader}: header to put the base64url payload in, or null
 * @param outputClaimToHeaders {@code outputClaimToHeaders}
 * @param spaceDelimitedClaims {@code spaceDelimitedClaims} (on top of {@code scope} and {@code permission})
 * @param timeout {@code timeout}: how long a request waits for the first JWKS of {@code jwksUri}, or null
 */
public record JwtRuleSpec(String issuer, List<String> audiences, String jwksUri, String jwks,
                          List<FromHeader> fromHeaders, List<String> fromParams, List<String> fromCookies,
                          boolean forwardOriginalToken, String outputPayloadToHeader,
                          List<ClaimToHeader> outputClaimToHeaders, List<String> spaceDelimitedClaims,
                          Duration timeout) {
    public JwtRuleSpec {
        if (issuer != null && issuer.isEmpty()) {
            issuer = null; // proto3: an empty string is not set
        }
        audiences = List.copyOf(audiences);
        fromHeaders = List.copyOf(fromHeaders);
        fromParams = List.copyOf(fromParams);
        fromCookies = List.copyOf(fromCookies);
        outputClaimToHeaders = List.copyOf(outputClaimToHeaders);
        spaceDelimitedClaims = List.copyOf(spaceDelimitedClaims);
    }

    /** {@code fromHeaders[]}: a header carrying the token, after {@code prefix} (e.g. {@code "Bearer "}). */
    public record FromHeader(String name, String prefix) {
        public FromHeader {
            Objects.requireNonNull(name, "name");
            prefix = prefix == null ? "" : prefix;
        }
    }

    /** {@code outputClaimToHeaders[]}: copy claim {@code claim} of a valid token into request header {@code header}. */
    public record ClaimToHeader(String header, String claim) {
        public ClaimToHeader {
            Objects.requireNonNull(header, "header");
            Objects.requireNonNull(claim, "claim");
        }
    }
}
