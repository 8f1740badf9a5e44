package dev.waypoint.authn;

import static dev.waypoint.authn.TestJwt.ISTIO;
import static dev.waypoint.authn.TestJwt.JWKS;
import static dev.waypoint.authn.TestJwt.claims;
import static dev.waypoint.authn.TestJwt.compiled;
import static dev.waypoint.authn.TestJwt.rule;
import static dev.waypoint.authn.TestJwt.sign;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.waypoint.authn.TestJwt.Headers;
import dev.waypoint.model.security.JwtRuleSpec;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The verifier's truth table: one request, the applicable rules, the decision. */
class JwtVerifierTest {
    static final String ISS = "https://issuer.example";
    static final long NOW = System.currentTimeMillis() / 1000;
    static final JwtRuleSpec RULE = rule(ISS, JWKS);
    /** A rule without issuer, with the same keys. */
    static final JwtRuleSpec ANY_ISS = rule(null, JWKS);
    /** Keys that verify none of {@link TestJwt#sign}'s tokens. */
    static final String OTHER_JWKS = new com.nimbusds.jose.jwk.JWKSet(TestJwt.RSA_OTHER.toPublicJWK()).toString();

    /** Expected: "none", "valid <principal>", or "<status> <message>". */
    record Case(String name, List<JwtRuleSpec> rules, Headers headers, String path, String expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Headers bearer(String token) {
        return Headers.of("authorization", "Bearer " + token);
    }

    static JWTClaimsSet.Builder good() {
        return claims(ISS, "alice");
    }

    static Case c(String name, String token, String expected) {
        return new Case(name, List.of(RULE), bearer(token), "/", expected);
    }

    static Stream<Case> cases() {
        String big = "a".repeat(60_000);
        return Stream.of(
                c("RS256", sign(JWSAlgorithm.RS256, good().build()), "valid https://issuer.example/alice"),
                c("RS512", sign(JWSAlgorithm.RS512, good().build()), "valid https://issuer.example/alice"),
                c("PS256", sign(JWSAlgorithm.PS256, good().build()), "valid https://issuer.example/alice"),
                c("ES256", sign(JWSAlgorithm.ES256, good().build()), "valid https://issuer.example/alice"),
                c("EdDSA (Ed25519, by the JDK)", sign(JWSAlgorithm.EdDSA, good().build()), "valid https://issuer.example/alice"),
                c("alg none is refused", TestJwt.unsigned(good().build()), "401 Jwt header [alg] is not supported"),
                c("signed by a key not in the JWKS", TestJwt.signWithOtherKey(good().build()), "401 Jwt verification fails"),
                c("tampered payload", tamper(sign(JWSAlgorithm.RS256, good().build())), "401 Jwt verification fails"),
                c("issuer not configured", sign(JWSAlgorithm.RS256, claims("https://evil.example", "alice").build()),
                        "401 Jwt issuer is not configured"),
                c("no issuer", sign(JWSAlgorithm.RS256, new JWTClaimsSet.Builder().subject("alice").build()),
                        "401 Jwt issuer is not configured"),
                c("expired", sign(JWSAlgorithm.RS256, good().expirationTime(at(NOW - 3600)).build()), "401 Jwt is expired"),
                c("expired 59 s ago: within the skew", sign(JWSAlgorithm.RS256, good().expirationTime(at(NOW - 59)).build()),
                        "valid https://issuer.example/alice"),
                c("expired 61 s ago: past the skew", sign(JWSAlgorithm.RS256, good().expirationTime(at(NOW - 61)).build()),
                        "401 Jwt is expired"),
                c("not yet valid", sign(JWSAlgorithm.RS256, good().notBeforeTime(at(NOW + 3600)).build()), "401 Jwt not yet valid"),
                c("nbf 59 s ahead: within the skew", sign(JWSAlgorithm.RS256, good().notBeforeTime(at(NOW + 59)).build()),
                        "valid https://issuer.example/alice"),
                c("no exp: accepted (as jwt_verify_lib)", sign(JWSAlgorithm.RS256, new JWTClaimsSet.Builder().issuer(ISS)
                        .subject("alice").build()), "valid https://issuer.example/alice"),
                c("garbage", "not-a-jwt", "401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
                c("three garbage sections", "a.b.c", "401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
                c("huge", big + "." + big + "." + big, "401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
                c("five sections (JWE)", "a.b.c.d.e", "401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
                c("HS256 with no oct key", hs256(), "401 Jwks doesn't have key to match kid or alg from Jwt"),
                new Case("no token", List.of(RULE), Headers.of(), "/", "none"),
                new Case("other scheme in Authorization", List.of(RULE), Headers.of("authorization", "Basic YTpi"), "/", "none"),
                new Case("bearer is case-insensitive", List.of(RULE),
                        Headers.of("authorization", "bearer " + sign(JWSAlgorithm.RS256, good().build())), "/",
                        "valid https://issuer.example/alice"),
                new Case("default location: access_token parameter", List.of(RULE), Headers.of(),
                        "/x?a=1&access_token=" + sign(JWSAlgorithm.ES256, good().build()), "valid https://issuer.example/alice"),
                new Case("audience listed and matched", List.of(TestJwt.withAudiences(RULE, "api")),
                        bearer(sign(JWSAlgorithm.RS256, good().audience(List.of("web", "api")).build())), "/",
                        "valid https://issuer.example/alice"),
                new Case("audience scheme and trailing slash ignored", List.of(TestJwt.withAudiences(RULE, "https://api.example/")),
                        bearer(sign(JWSAlgorithm.RS256, good().audience("api.example").build())), "/",
                        "valid https://issuer.example/alice"),
                new Case("audience mismatch is 403", List.of(TestJwt.withAudiences(RULE, "api")),
                        bearer(sign(JWSAlgorithm.RS256, good().audience("web").build())), "/",
                        "403 Audiences in Jwt are not allowed"),
                new Case("no aud but audiences listed is 403", List.of(TestJwt.withAudiences(RULE, "api")),
                        bearer(sign(JWSAlgorithm.RS256, good().build())), "/", "403 Audiences in Jwt are not allowed"),
                new Case("same issuer in two rules: either may accept", List.of(TestJwt.withAudiences(RULE, "api"), RULE),
                        bearer(sign(JWSAlgorithm.RS256, good().audience("web").build())), "/",
                        "valid https://issuer.example/alice"),
                // a rule without issuer (Istio accepts one with jwksUri): Envoy's JwtProvider "If
                // specified, it has to match the iss field in JWT, otherwise the JWT iss field is not checked"
                new Case("rule without issuer: a token of any iss", List.of(ANY_ISS),
                        bearer(sign(JWSAlgorithm.RS256, claims("https://other.example", "alice").build())), "/",
                        "valid https://other.example/alice"),
                new Case("rule without issuer: a token without iss, no request principal", List.of(ANY_ISS),
                        bearer(sign(JWSAlgorithm.RS256, new JWTClaimsSet.Builder().subject("alice").build())), "/", "valid "),
                new Case("rule without issuer: the signature is still checked", List.of(ANY_ISS),
                        bearer(TestJwt.signWithOtherKey(good().build())), "/", "401 Jwt verification fails"),
                new Case("rule without issuer: its audiences are still checked", List.of(TestJwt.withAudiences(ANY_ISS, "api")),
                        bearer(sign(JWSAlgorithm.RS256, good().audience("web").build())), "/",
                        "403 Audiences in Jwt are not allowed"),
                new Case("rule without issuer accepts what the issuer's rule refuses", List.of(
                        TestJwt.withAudiences(RULE, "api"), ANY_ISS),
                        bearer(sign(JWSAlgorithm.RS256, good().audience("web").build())), "/",
                        "valid https://issuer.example/alice"),
                new Case("an unlisted iss is checked against the rule without issuer only", List.of(RULE, rule(null, OTHER_JWKS)),
                        bearer(sign(JWSAlgorithm.RS256, claims("https://other.example", "alice").build())), "/",
                        "401 Jwt verification fails"),
                new Case("fromHeaders with prefix", List.of(TestJwt.withLocations(RULE,
                        List.of(new JwtRuleSpec.FromHeader("x-jwt", "Token ")), List.of(), List.of())),
                        Headers.of("x-jwt", "Token " + sign(JWSAlgorithm.RS256, good().build())), "/",
                        "valid https://issuer.example/alice"),
                new Case("fromHeaders replaces the default locations", List.of(TestJwt.withLocations(RULE,
                        List.of(new JwtRuleSpec.FromHeader("x-jwt", "")), List.of(), List.of())),
                        bearer(sign(JWSAlgorithm.RS256, good().build())), "/", "none"),
                new Case("fromParams", List.of(TestJwt.withLocations(RULE, List.of(), List.of("tok"), List.of())), Headers.of(),
                        "/p?tok=" + sign(JWSAlgorithm.RS256, good().build()), "valid https://issuer.example/alice"),
                new Case("fromCookies", List.of(TestJwt.withLocations(RULE, List.of(), List.of(), List.of("session"))),
                        Headers.of("cookie", "a=b; session=" + sign(JWSAlgorithm.RS256, good().build()) + "; c=d"), "/",
                        "valid https://issuer.example/alice"),
                new Case("bad token in a cookie", List.of(TestJwt.withLocations(RULE, List.of(), List.of(), List.of("session"))),
                        Headers.of("cookie", "session=garbage"), "/",
                        "401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"));
    }

    static Date at(long epochSeconds) {
        return new Date(epochSeconds * 1000);
    }

    static String tamper(String token) {
        String[] p = token.split("\\.");
        return p[0] + "." + TestJwt.b64("{\"iss\":\"" + ISS + "\",\"sub\":\"mallory\"}") + "." + p[2];
    }

    static String hs256() {
        return TestJwt.gen(() -> {
            var jwt = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader(JWSAlgorithm.HS256), good().build());
            jwt.sign(new com.nimbusds.jose.crypto.MACSigner(new byte[32]));
            return jwt.serialize();
        });
    }

    static String render(AuthnResult r) {
        if (r instanceof AuthnResult.NoToken) {
            return "none";
        }
        if (r instanceof AuthnResult.Valid v) {
            return "valid " + v.authn().principal();
        }
        if (r instanceof AuthnResult.Invalid i) {
            return i.status() + " " + i.message();
        }
        return r.toString();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decides(Case c) {
        List<JwtRule> rules = c.rules().stream().map(TestJwt::compiled).toList();
        assertThat(render(JwtVerifier.verify(rules, c.headers(), c.path(), NOW))).isEqualTo(c.expected());
    }

    @Test
    void aValidTokenBecomesThePrincipalAudiencesPresenterAndNormalizedClaims() {
        String token = sign(JWSAlgorithm.RS256, good().audience(List.of("a", "b")).claim("azp", "cli")
                .claim("scope", "read  write").claim("roles", "x y").claim("nested", Map.of("k", List.of("v")))
                .claim("gone", null).build());
        JwtRuleSpec spec = new JwtRuleSpec(ISS, List.of(), null, JWKS, List.of(), List.of(), List.of(), false, null,
                List.of(), List.of("roles"), null);

        var r = (AuthnResult.Valid) JwtVerifier.verify(List.of(compiled(spec)), bearer(token), "/", NOW);

        assertThat(r.authn().principal()).isEqualTo(ISS + "/alice");
        assertThat(r.authn().issuer()).isEqualTo(ISS);
        assertThat(r.authn().subject()).isEqualTo("alice");
        assertThat(r.authn().audiences()).containsExactly("a", "b");
        assertThat(r.authn().presenter()).isEqualTo("cli");
        // scope and permission always, and the rule's spaceDelimitedClaims, become lists of words
        assertThat(r.authn().claims()).containsEntry("scope", List.of("read", "write"))
                .containsEntry("roles", List.of("x", "y"))
                .containsEntry("nested", Map.of("k", List.of("v")))
                .doesNotContainKey("gone");
        assertThat(r.payload()).containsEntry("scope", "read  write");
        assertThat(r.location()).isEqualTo(new JwtRule.TokenLocation.Header("authorization", "Bearer "));
    }

    @Test
    void keysNotFetchedYetArePending() {
        KeySource none = new KeySource() {
            @Override
            public com.nimbusds.jose.jwk.JWKSet current() {
                return null;
            }

            @Override
            public java.util.concurrent.CompletableFuture<com.nimbusds.jose.jwk.JWKSet> ready() {
                return new java.util.concurrent.CompletableFuture<>();
            }

            @Override
            public String describe() {
                return "never";
            }
        };
        JwtRule rule = JwtRule.compile(new dev.waypoint.model.mesh.NamespacedName("ns1", "ra"), RULE, none);
        assertThat(JwtVerifier.verify(List.of(rule), bearer(sign(JWSAlgorithm.RS256, good().build())), "/", NOW))
                .isEqualTo(new AuthnResult.KeysPending(rule));
        // an expired token is refused without waiting for keys (Envoy checks time before the signature)
        assertThat(render(JwtVerifier.verify(List.of(rule),
                bearer(sign(JWSAlgorithm.RS256, good().expirationTime(at(NOW - 3600)).build())), "/", NOW)))
                .isEqualTo("401 Jwt is expired");
        // another rule for the same issuer that has its keys accepts the token at once
        assertThat(render(JwtVerifier.verify(List.of(rule, compiled(RULE)), bearer(sign(JWSAlgorithm.RS256, good().build())),
                "/", NOW))).isEqualTo("valid https://issuer.example/alice");
        // a pending rule outranks another rule's failure: its keys may still accept the token
        assertThat(JwtVerifier.verify(List.of(compiled(TestJwt.withAudiences(RULE, "api")), rule),
                bearer(sign(JWSAlgorithm.RS256, good().build())), "/", NOW)).isEqualTo(new AuthnResult.KeysPending(rule));
    }

    // ---- shared/cases/authz-cases.yaml, the cases RequestAuthentication alone decides, with Istio's real tokens

    record IstioCase(String id, List<JwtRuleSpec> rules, String token, String expected) {
        @Override
        public String toString() {
            return id;
        }
    }

    static final String ISTIO_JWKS = ISTIO.getProperty("JWKS");
    static final JwtRuleSpec ISSUER1 = rule("test-issuer-1@istio.io", ISTIO_JWKS);
    static final JwtRuleSpec ISSUER2 = rule("test-issuer-2@istio.io", ISTIO_JWKS);

    static Stream<IstioCase> istioCases() {
        return Stream.of(
                // waypoint-jwt-05 (TestL7JWT): Gateway-attached rules for issuers 1 and 2, expired token -> 401
                new IstioCase("waypoint-jwt-05", List.of(ISSUER1, ISSUER2), "TokenExpired", "401 Jwt is expired"),
                // requestauthn-03: valid token, no policy -> passes with its principal
                new IstioCase("requestauthn-03", List.of(ISSUER1), "TokenIssuer1", "valid test-issuer-1@istio.io/sub-1"),
                // requestauthn-02: no token -> passes
                new IstioCase("requestauthn-02", List.of(ISSUER1), null, "none"),
                // requestauthn-aud-01: b-part1 (issuer-1 aud foo, issuer-2 aud bar) + b-part2 (issuer-2): TokenIssuer1 has no aud -> 403
                new IstioCase("requestauthn-aud-01", List.of(TestJwt.withAudiences(ISSUER1, "foo"),
                        TestJwt.withAudiences(ISSUER2, "bar"), ISSUER2), "TokenIssuer1", "403 Audiences in Jwt are not allowed"),
                new IstioCase("requestauthn-aud-01 with TokenIssuer1WithAud", List.of(TestJwt.withAudiences(ISSUER1, "foo"),
                        TestJwt.withAudiences(ISSUER2, "bar"), ISSUER2), "TokenIssuer1WithAud", "valid test-issuer-1@istio.io/sub-1"),
                new IstioCase("requestauthn-aud-01 issuer-2 passes through b-part2", List.of(TestJwt.withAudiences(ISSUER1, "foo"),
                        TestJwt.withAudiences(ISSUER2, "bar"), ISSUER2), "TokenIssuer2", "valid test-issuer-2@istio.io/sub-2"),
                // TestRequestAuthentication "invalid token" (jwt_test.go): TokenInvalid -> 401
                new IstioCase("invalid token", List.of(ISSUER1), "TokenInvalid",
                        "401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
                // an issuer no applicable rule lists (TokenIssuer2 at a target with only issuer-1) -> 401
                new IstioCase("issuer not listed", List.of(ISSUER1), "TokenIssuer2", "401 Jwt issuer is not configured"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("istioCases")
    void replaysTheCasesRequestAuthenticationDecides(IstioCase c) {
        String token = c.token() == null ? null : ISTIO.getProperty(c.token(), c.token());
        Headers h = token == null ? Headers.of() : bearer(token);
        List<JwtRule> rules = c.rules().stream().map(TestJwt::compiled).toList();
        assertThat(render(JwtVerifier.verify(rules, h, "/", NOW))).isEqualTo(c.expected());
    }

    @Test
    void istioSpaceDelimitedPermissionIsSplit() {
        var r = (AuthnResult.Valid) JwtVerifier.verify(List.of(compiled(ISSUER2)),
                bearer(ISTIO.getProperty("TokenIssuer2WithSpaceDelimitedPermission")), "/", NOW);
        assertThat(r.authn().claims()).containsEntry("permission", List.of("read", "write"));
    }
}
