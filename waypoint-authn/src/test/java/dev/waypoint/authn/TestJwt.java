package dev.waypoint.authn;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.security.JwtRuleSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/** Test keys (RSA, EC P-256, Ed25519), token minting, Istio's published test tokens, headers. */
final class TestJwt {
    static final RSAKey RSA = gen(() -> new RSAKeyGenerator(2048).keyID("rsa-1").generate());
    static final RSAKey RSA_OTHER = gen(() -> new RSAKeyGenerator(2048).keyID("rsa-1").generate());
    static final ECKey EC = gen(() -> new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate());
    static final KeyPair ED = gen(() -> KeyPairGenerator.getInstance("Ed25519").generateKeyPair());
    static final OctetKeyPair ED_JWK = new OctetKeyPair.Builder(Curve.Ed25519,
            Base64URL.encode(rawEd25519(ED))).keyID("ed-1").build();

    /** The public keys of RSA, EC and ED as one JWKS document. */
    static final String JWKS = new JWKSet(List.<JWK>of(RSA.toPublicJWK(), EC.toPublicJWK(), ED_JWK)).toString();

    /** Istio's tests/common/jwt data: JWKS and tokens by name. */
    static final Properties ISTIO = load("/istio-jwt.properties");

    interface Gen<T> {
        T get() throws Exception;
    }

    static <T> T gen(Gen<T> g) {
        try {
            return g.get();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Properties load(String name) {
        try (InputStream in = TestJwt.class.getResourceAsStream(name)) {
            Properties p = new Properties();
            p.load(in);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] rawEd25519(KeyPair kp) {
        byte[] der = kp.getPublic().getEncoded(); // SubjectPublicKeyInfo: the raw key is the last 32 bytes
        byte[] raw = new byte[32];
        System.arraycopy(der, der.length - 32, raw, 0, 32);
        return raw;
    }

    static JWTClaimsSet.Builder claims(String iss, String sub) {
        long now = System.currentTimeMillis() / 1000;
        return new JWTClaimsSet.Builder().issuer(iss).subject(sub).expirationTime(new java.util.Date((now + 3600) * 1000));
    }

    static String sign(JWSAlgorithm alg, JWTClaimsSet claims) {
        return gen(() -> {
            if (alg.equals(JWSAlgorithm.EdDSA)) {
                return signEd25519(claims);
            }
            JWSHeader header = new JWSHeader.Builder(alg).type(JOSEObjectType.JWT)
                    .keyID(JWSAlgorithm.Family.EC.contains(alg) ? EC.getKeyID() : RSA.getKeyID()).build();
            SignedJWT jwt = new SignedJWT(header, claims);
            jwt.sign(JWSAlgorithm.Family.EC.contains(alg) ? new ECDSASigner(EC) : new RSASSASigner(RSA));
            return jwt.serialize();
        });
    }

    /** RS256 with a key that is not in the JWKS (same kid). */
    static String signWithOtherKey(JWTClaimsSet claims) {
        return gen(() -> {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa-1").build(), claims);
            jwt.sign(new RSASSASigner(RSA_OTHER));
            return jwt.serialize();
        });
    }

    /** EdDSA by the JDK (nimbus' own Ed25519Signer needs Tink). */
    static String signEd25519(JWTClaimsSet claims) throws Exception {
        String header = b64("{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"typ\":\"JWT\"}");
        String payload = b64(claims.toString());
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(ED.getPrivate());
        s.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
        return header + "." + payload + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(s.sign());
    }

    /** An unsigned token: {@code alg: none}. */
    static String unsigned(JWTClaimsSet claims) {
        return b64("{\"alg\":\"none\"}") + "." + b64(claims.toString()) + ".";
    }

    static String b64(String s) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A jwtRule with inline {@code jwks}. */
    static JwtRuleSpec rule(String issuer, String jwks) {
        return new JwtRuleSpec(issuer, List.of(), null, jwks, List.of(), List.of(), List.of(), false, null, List.of(),
                List.of(), null);
    }

    static JwtRule compiled(JwtRuleSpec spec) {
        return JwtRule.compile(new NamespacedName("ns1", "ra"), spec,
                gen(() -> KeySource.inline(JWKSet.parse(spec.jwks()))));
    }

    static JwtRuleSpec withAudiences(JwtRuleSpec s, String... audiences) {
        return new JwtRuleSpec(s.issuer(), List.of(audiences), s.jwksUri(), s.jwks(), s.fromHeaders(), s.fromParams(),
                s.fromCookies(), s.forwardOriginalToken(), s.outputPayloadToHeader(), s.outputClaimToHeaders(),
                s.spaceDelimitedClaims(), s.timeout());
    }

    static JwtRuleSpec withLocations(JwtRuleSpec s, List<JwtRuleSpec.FromHeader> headers, List<String> params,
                                     List<String> cookies) {
        return new JwtRuleSpec(s.issuer(), s.audiences(), s.jwksUri(), s.jwks(), headers, params, cookies,
                s.forwardOriginalToken(), s.outputPayloadToHeader(), s.outputClaimToHeaders(), s.spaceDelimitedClaims(),
                s.timeout());
    }

    static JwtRuleSpec withJwksUri(JwtRuleSpec s, String uri, Duration timeout) {
        return new JwtRuleSpec(s.issuer(), s.audiences(), uri, null, s.fromHeaders(), s.fromParams(), s.fromCookies(),
                s.forwardOriginalToken(), s.outputPayloadToHeader(), s.outputClaimToHeaders(), s.spaceDelimitedClaims(),
                timeout);
    }

    /** A plain multi-map HeadersView. */
    static final class Headers implements HeadersView {
        final Map<String, List<String>> map = new LinkedHashMap<>();

        static Headers of(String... nameValues) {
            Headers h = new Headers();
            for (int i = 0; i < nameValues.length; i += 2) {
                h.add(nameValues[i], nameValues[i + 1]);
            }
            return h;
        }

        private static String k(CharSequence n) {
            return n.toString().toLowerCase(Locale.ROOT);
        }

        @Override
        public String get(CharSequence name) {
            List<String> v = map.get(k(name));
            return v == null || v.isEmpty() ? null : v.get(0);
        }

        @Override
        public List<String> getAll(CharSequence name) {
            return List.copyOf(map.getOrDefault(k(name), List.of()));
        }

        @Override
        public boolean contains(CharSequence name) {
            return map.containsKey(k(name));
        }

        @Override
        public void set(CharSequence name, String value) {
            map.put(k(name), new ArrayList<>(List.of(value)));
        }

        @Override
        public void add(CharSequence name, String value) {
            map.computeIfAbsent(k(name), x -> new ArrayList<>()).add(value);
        }

        @Override
        public void remove(CharSequence name) {
            map.remove(k(name));
        }
    }

    private TestJwt() {}
}
