package dev.waypoint.authn;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.SignedJWT;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.JwtAuthn;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides what the tokens of one request mean under the applicable jwtRules: pure, no I/O (keys
 * come from each rule's {@link KeySource} as they are now), no Netty. Follows Envoy's jwt_authn
 * as Istio configures it ({@code requires_any} over one provider per rule, plus
 * {@code allow_missing}):
 *
 * <ol>
 *   <li>Each rule looks for a token in its own locations; no token anywhere → {@link AuthnResult.NoToken}
 *       ("No token → authentication passes").</li>
 *   <li>A token must be a signed JWT ({@code alg: none} and encrypted tokens are refused).</li>
 *   <li>Its {@code iss} must be a rule's issuer, among the rules that look where the token was
 *       found, else {@code Jwt issuer is not configured}. A rule without issuer takes a token of
 *       any {@code iss}, or none: Envoy's extractor ({@code JwtIssuerChecker}: "If a specified
 *       issuer is empty, it means to allow all issuers"), and with {@code allow_missing} its
 *       {@code findByIssuer} falls back to "the first empty issuer from JwtProvider".</li>
 *   <li>{@code exp} and {@code nbf} with 60 s of clock skew (jwt_verify_lib's default).</li>
 *   <li>The rule's audiences, if any: {@code Audiences in Jwt are not allowed}, answered 403.</li>
 *   <li>The signature, by a key of the rule's JWKS whose {@code kid} (if the token names one),
 *       type and {@code alg} fit: RS*, PS*, ES*, EdDSA (Ed25519), HS* (oct keys).</li>
 * </ol>
 *
 * <p>The token is accepted when any rule accepts it. When all fail, the failure reported is the
 * one of a rule with the token's issuer or without issuer (the most specific), else the issuer one.
 *
 * <p>A valid token without {@code iss} has the request principal {@code ""}: Istio matches
 * {@code requestPrincipals} on the {@code iss} and {@code sub} claims, and a missing claim
 * matches nothing, not even {@code *}.
 *
 * <h2>Threading</h2>
 * Stateless; any thread. The request's headers are read on the thread that calls, which must be
 * the request's event loop.
 */
final class JwtVerifier {
    /** jwt_verify_lib's default clock skew: 60 seconds. */
    static final long CLOCK_SKEW_SECONDS = 60;

    // Envoy / jwt_verify_lib status messages (jwt_verify_lib/src/status.cc), which clients see as the body
    static final String EXPIRED = "Jwt is expired";
    static final String NOT_YET_VALID = "Jwt not yet valid";
    static final String VERIFICATION_FAILS = "Jwt verification fails";
    static final String UNKNOWN_ISSUER = "Jwt issuer is not configured";
    static final String AUDIENCE_NOT_ALLOWED = "Audiences in Jwt are not allowed";
    static final String BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    static final String ALG_NOT_IMPLEMENTED = "Jwt header [alg] is not supported";
    static final String NO_MATCHING_KEY = "Jwks doesn't have key to match kid or alg from Jwt";
    static final String JWKS_FETCH_FAILED = "Jwks remote fetch is failed";

    private JwtVerifier() {}

    /** One token, where it was found. */
    private record Found(String token, JwtRule.TokenLocation location) {}

    /**
     * Verifies the request's tokens against {@code rules} (not empty: with no rule, tokens are not
     * looked at) at {@code nowSeconds} (epoch).
     *
     * @param pathAndQuery the request target, for query-parameter locations
     */
    static AuthnResult verify(List<JwtRule> rules, HeadersView headers, String pathAndQuery, long nowSeconds) {
        // 1. every token, once, with the rules that look where it was found
        Map<Found, List<JwtRule>> tokens = new LinkedHashMap<>();
        for (JwtRule rule : rules) {
            for (JwtRule.TokenLocation loc : rule.locations()) {
                String t = extract(loc, headers, pathAndQuery);
                if (t != null) {
                    tokens.computeIfAbsent(new Found(t, loc), k -> new ArrayList<>()).add(rule);
                }
            }
        }
        if (tokens.isEmpty()) {
            return new AuthnResult.NoToken();
        }
        // any valid token wins; else wait if some token's keys are still coming; else the first failure
        AuthnResult failure = null;
        AuthnResult pending = null;
        for (Map.Entry<Found, List<JwtRule>> e : tokens.entrySet()) {
            AuthnResult r = verifyOne(e.getKey(), e.getValue(), nowSeconds);
            if (r instanceof AuthnResult.Valid) {
                return r;
            }
            if (r instanceof AuthnResult.KeysPending) {
                pending = pending == null ? r : pending;
            } else if (failure == null) {
                failure = r;
            }
        }
        return pending != null ? pending : failure;
    }

    private static AuthnResult verifyOne(Found found, List<JwtRule> rules, long now) {
        SignedJWT jwt;
        JWTClaimsSet claims;
        try {
            JWT parsed = JWTParser.parse(found.token());
            if (!(parsed instanceof SignedJWT signed)) {
                return invalid(ALG_NOT_IMPLEMENTED); // alg none (a plain JWT), or an encrypted one
            }
            jwt = signed;
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException | RuntimeException e) {
            return invalid(BAD_FORMAT);
        }
        String issuer = claims.getIssuer();
        AuthnResult specific = null;
        AuthnResult pending = null;
        for (JwtRule rule : rules) {
            if (rule.issuer() != null && (issuer == null || !issuer.equals(rule.issuer()))) {
                continue; // a rule without issuer checks every token (Envoy: "the JWT iss field is not checked")
            }
            AuthnResult r = check(found, jwt, claims, rule, now);
            if (r instanceof AuthnResult.Valid) {
                return r;
            }
            if (r instanceof AuthnResult.KeysPending) {
                pending = pending == null ? r : pending;
                continue;
            }
            // the most telling failure: a 401 of a rule whose audience matched beats an audience 403
            if (specific == null || ((AuthnResult.Invalid) specific).status() == 403) {
                specific = r;
            }
        }
        if (pending != null) {
            return pending; // another rule for this issuer may still accept it once its keys are there
        }
        return specific != null ? specific : invalid(UNKNOWN_ISSUER);
    }

    private static AuthnResult check(Found found, SignedJWT jwt, JWTClaimsSet claims, JwtRule rule, long now) {
        // time first, then audiences, then keys and signature: Envoy's order
        Long exp = epochSeconds(claims, "exp");
        Long nbf = epochSeconds(claims, "nbf");
        if (exp != null && now > exp + CLOCK_SKEW_SECONDS) {
            return invalid(EXPIRED);
        }
        if (nbf != null && now + CLOCK_SKEW_SECONDS < nbf) {
            return invalid(NOT_YET_VALID);
        }
        List<String> audiences = claims.getAudience();
        if (!rule.audiences().isEmpty()
                && audiences.stream().map(JwtRule::normalizeAudience).noneMatch(rule.audiences()::contains)) {
            return new AuthnResult.Invalid(403, AUDIENCE_NOT_ALLOWED);
        }
        JWKSet keys = rule.keys().current();
        if (keys == null) {
            return new AuthnResult.KeysPending(rule);
        }
        String verdict = signature(jwt, keys);
        if (verdict != null) {
            return invalid(verdict);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> payload = (Map<String, Object>) Claims.immutable(claims.toJSONObject());
        return new AuthnResult.Valid(authn(claims, audiences, rule), rule, found.token(), found.location(), payload);
    }

    /** Null when a key of {@code keys} verifies the signature, else the failure. */
    private static String signature(SignedJWT jwt, JWKSet keys) {
        JWSHeader header = jwt.getHeader();
        JWSAlgorithm alg = header.getAlgorithm();
        String kid = header.getKeyID();
        boolean candidate = false;
        for (JWK key : keys.getKeys()) {
            if (kid != null && key.getKeyID() != null && !kid.equals(key.getKeyID())) {
                continue;
            }
            if (key.getAlgorithm() != null && !key.getAlgorithm().getName().equals(alg.getName())) {
                continue;
            }
            if (key.getKeyUse() != null && !KeyUse.SIGNATURE.equals(key.getKeyUse())) {
                continue;
            }
            JWSVerifier verifier;
            try {
                verifier = verifier(alg, key);
            } catch (JOSEException e) {
                continue; // not a usable key of this type
            }
            if (verifier == null) {
                continue;
            }
            candidate = true;
            try {
                if (jwt.verify(verifier)) {
                    return null;
                }
            } catch (JOSEException | IllegalStateException e) {
                // a signature of the wrong size, a key too short: a failed verification
            }
        }
        if (!candidate) {
            return isSupported(alg) ? NO_MATCHING_KEY : ALG_NOT_IMPLEMENTED;
        }
        return VERIFICATION_FAILS;
    }

    private static boolean isSupported(JWSAlgorithm alg) {
        return JWSAlgorithm.Family.RSA.contains(alg) || JWSAlgorithm.Family.EC.contains(alg)
                || JWSAlgorithm.Family.HMAC_SHA.contains(alg) || JWSAlgorithm.EdDSA.equals(alg);
    }

    /** A verifier for {@code alg} with {@code key}, or null when they do not fit. */
    private static JWSVerifier verifier(JWSAlgorithm alg, JWK key) throws JOSEException {
        if (JWSAlgorithm.Family.RSA.contains(alg) && key instanceof RSAKey rsa) {
            return new RSASSAVerifier(rsa);
        }
        if (JWSAlgorithm.Family.EC.contains(alg) && key instanceof ECKey ec) {
            // the curve must be the algorithm's (ES256: P-256): nimbus checks it when verifying
            return new ECDSAVerifier(ec);
        }
        if (JWSAlgorithm.EdDSA.equals(alg) && key instanceof OctetKeyPair okp) {
            return new Ed25519Verifier(okp);
        }
        if (JWSAlgorithm.Family.HMAC_SHA.contains(alg) && key instanceof OctetSequenceKey oct) {
            return new MACVerifier(oct);
        }
        return null;
    }

    private static Long epochSeconds(JWTClaimsSet claims, String name) {
        Object v = claims.getClaim(name);
        if (v instanceof java.util.Date d) {
            return d.getTime() / 1000;
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        return null;
    }

    private static AuthnResult.Invalid invalid(String message) {
        return new AuthnResult.Invalid(401, message);
    }

    /** The request's identity from a verified token: {@code <iss>/<sub>}, normalized claims. */
    private static JwtAuthn authn(JWTClaimsSet claims, List<String> audiences, JwtRule rule) {
        String iss = claims.getIssuer();
        String sub = claims.getSubject();
        Object azp = claims.getClaim("azp");
        Map<String, Object> payload = new LinkedHashMap<>();
        claims.toJSONObject().forEach((k, v) -> {
            Object value = Claims.immutable(v);
            if (value == null) {
                return;
            }
            // Envoy's normalize_payload_in_metadata: these top-level string claims become lists of words
            if (value instanceof String s && rule.spaceDelimitedClaims().contains(k)) {
                value = List.of(s.trim().isEmpty() ? new String[0] : s.trim().split(" +"));
            }
            payload.put(k, value);
        });
        // Istio's requestPrincipals match iss and sub as claims: without iss there is no principal to match
        return new JwtAuthn(iss == null ? "" : iss + "/" + (sub == null ? "" : sub), iss, sub, audiences,
                azp instanceof String s ? s : null, payload);
    }

    // ---- token locations

    static String extract(JwtRule.TokenLocation loc, HeadersView headers, String pathAndQuery) {
        if (loc instanceof JwtRule.TokenLocation.Header h) {
            for (String value : headers.getAll(h.name())) {
                String v = value.trim();
                if (h.prefix().isEmpty()) {
                    return v.isEmpty() ? null : v;
                }
                if (v.regionMatches(true, 0, h.prefix(), 0, h.prefix().length())) {
                    String t = v.substring(h.prefix().length()).trim();
                    return t.isEmpty() ? null : t;
                }
            }
            return null;
        }
        if (loc instanceof JwtRule.TokenLocation.Param p) {
            return queryParam(pathAndQuery, p.name());
        }
        if (loc instanceof JwtRule.TokenLocation.Cookie c) {
            return cookie(headers, c.name());
        }
        return null;
    }

    private static String queryParam(String pathAndQuery, String name) {
        if (pathAndQuery == null) {
            return null;
        }
        int q = pathAndQuery.indexOf('?');
        if (q < 0) {
            return null;
        }
        int end = pathAndQuery.indexOf('#', q);
        String query = pathAndQuery.substring(q + 1, end < 0 ? pathAndQuery.length() : end);
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            try {
                if (URLDecoder.decode(k, StandardCharsets.UTF_8).equals(name) && eq >= 0) {
                    String v = URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                    return v.isEmpty() ? null : v;
                }
            } catch (IllegalArgumentException badEscape) {
                // not this parameter
            }
        }
        return null;
    }

    private static String cookie(HeadersView headers, String name) {
        for (String header : headers.getAll("cookie")) {
            for (String pair : header.split(";")) {
                int eq = pair.indexOf('=');
                if (eq > 0 && pair.substring(0, eq).trim().equals(name)) {
                    String v = pair.substring(eq + 1).trim();
                    if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
                        v = v.substring(1, v.length() - 1);
                    }
                    return v.isEmpty() ? null : v;
                }
            }
        }
        return null;
    }

}
