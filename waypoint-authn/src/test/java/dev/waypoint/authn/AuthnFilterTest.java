package dev.waypoint.authn;

import static dev.waypoint.authn.TestJwt.JWKS;
import static dev.waypoint.authn.TestJwt.claims;
import static dev.waypoint.authn.TestJwt.rule;
import static dev.waypoint.authn.TestJwt.sign;
import static dev.waypoint.authn.TestRequests.B;
import static dev.waypoint.authn.TestRequests.C;
import static dev.waypoint.authn.TestRequests.ra;
import static dev.waypoint.authn.TestRequests.request;
import static dev.waypoint.authn.TestRequests.service;
import static dev.waypoint.authn.TestRequests.snapshot;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import dev.waypoint.authn.TestJwt.Headers;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.security.JwtRuleSpec;
import dev.waypoint.model.security.PolicyTargetRef;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The {@code authn} filter over requests to Service ns1/b: what it writes, strips, answers. */
class AuthnFilterTest {
    static final String ISS = "https://issuer.example";
    final JwksCache cache = JwksCache.create(JwksCache.Settings.defaults());
    final AuthnFilter filter = new AuthnFilter(Clock.systemUTC(), cache);

    @AfterEach
    void close() {
        cache.close();
    }

    static String token() {
        return sign(JWSAlgorithm.ES256, claims(ISS, "alice").claim("groups", List.of("g1")).claim("tier", 3).build());
    }

    ConfigSnapshot onB(JwtRuleSpec rule) {
        return snapshot(cache, ra("ra", List.of(service("b")), rule));
    }

    @Test
    void aValidTokenSetsThePrincipalAndIsStripped() {
        Headers h = Headers.of("authorization", "Bearer " + token(), "x-other", "1");
        RequestContext r = request(onB(rule(ISS, JWKS)), B, "/p", h);

        assertThat(filter.onRequest(r)).isSameAs(FilterResult.CONTINUE);
        JwtAuthn authn = r.get(JwtAuthn.KEY);
        assertThat(authn.principal()).isEqualTo(ISS + "/alice");
        assertThat(authn.claims()).containsEntry("groups", List.of("g1"));
        assertThat(h.contains("authorization")).as("forwardOriginalToken: false").isFalse();
        assertThat(h.get("x-other")).isEqualTo("1");
    }

    @Test
    void forwardOriginalTokenKeepsItAndOutputHeadersAreWritten() {
        String token = token();
        JwtRuleSpec spec = new JwtRuleSpec(ISS, List.of(), null, JWKS, List.of(), List.of(), List.of(), true, "x-payload",
                List.of(new JwtRuleSpec.ClaimToHeader("x-sub", "sub"), new JwtRuleSpec.ClaimToHeader("x-tier", "tier"),
                        new JwtRuleSpec.ClaimToHeader("x-groups", "groups")), List.of(), null);
        // client-sent copies of the output headers never survive, valid token or not
        Headers h = Headers.of("authorization", "Bearer " + token, "x-sub", "spoofed", "x-groups", "spoofed");
        RequestContext r = request(onB(spec), B, "/", h);

        assertThat(filter.onRequest(r)).isSameAs(FilterResult.CONTINUE);
        assertThat(h.get("authorization")).isEqualTo("Bearer " + token);
        assertThat(new String(Base64.getUrlDecoder().decode(h.get("x-payload")))).contains("\"sub\":\"alice\"");
        assertThat(h.get("x-sub")).isEqualTo("alice");
        assertThat(h.get("x-tier")).isEqualTo("3");
        assertThat(h.contains("x-groups")).as("a list claim is not copied").isFalse();

        Headers spoof = Headers.of("x-sub", "spoofed");
        filter.onRequest(request(onB(spec), B, "/", spoof));
        assertThat(spoof.contains("x-sub")).isFalse();
    }

    @Test
    void anExpiredTokenIs401WithEnvoysBodyAndChallenge() {
        String expired = sign(JWSAlgorithm.RS256, claims(ISS, "alice")
                .expirationTime(new java.util.Date(System.currentTimeMillis() - 3_600_000)).build());
        RequestContext r = request(onB(rule(ISS, JWKS)), B, "/a/b?x=1", Headers.of("authorization", "Bearer " + expired));

        FilterResult res = filter.onRequest(r);

        assertThat(res).isEqualTo(FilterResult.reply(new Rejection(Rejection.Reason.JWT_REJECTED, "Jwt is expired"),
                Map.of("www-authenticate", "Bearer realm=\"http://b.ns1.svc.cluster.local:8080/a/b\", error=\"invalid_token\"")));
        Rejection rej = ((FilterResult.Reply) res).rejection();
        assertThat(rej.body()).isEqualTo("Jwt is expired");
        assertThat(rej.reason().status()).isEqualTo(401);
        assertThat(rej.reason().code()).isEqualTo("jwt_authn_access_denied");
        assertThat(r.get(JwtAuthn.KEY)).isNull();
    }

    @Test
    void anAudienceMismatchIs403() {
        JwtRuleSpec spec = TestJwt.withAudiences(rule(ISS, JWKS), "api");
        FilterResult res = filter.onRequest(request(onB(spec), B, "/", Headers.of("authorization", "Bearer " + token())));
        assertThat(((FilterResult.Reply) res).rejection())
                .isEqualTo(new Rejection(Rejection.Reason.JWT_AUDIENCE_DENIED, "Audiences in Jwt are not allowed"));
        assertThat(Rejection.Reason.JWT_AUDIENCE_DENIED.status()).isEqualTo(403);
    }

    @Test
    void withoutAnApplicableRequestAuthenticationTokensAreIgnored() {
        Headers h = Headers.of("authorization", "Bearer garbage");
        RequestContext onC = request(onB(rule(ISS, JWKS)), C, "/", h); // the object targets b, not c
        assertThat(filter.onRequest(onC)).isSameAs(FilterResult.CONTINUE);
        assertThat(onC.get(JwtAuthn.KEY)).isNull();
        assertThat(h.get("authorization")).isEqualTo("Bearer garbage");
    }

    @Test
    void noTokenPasses() {
        RequestContext r = request(onB(rule(ISS, JWKS)), B, "/", Headers.of());
        assertThat(filter.onRequest(r)).isSameAs(FilterResult.CONTINUE);
        assertThat(r.get(JwtAuthn.KEY)).isNull();
    }

    @Test
    void gatewayAttachedRulesApplyToEveryServiceAndSelectorsToNone() {
        var gw = ra("gw", List.of(new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null)),
                rule(ISS, JWKS));
        var selector = new dev.waypoint.model.security.RequestAuthenticationSpec(
                new dev.waypoint.model.mesh.NamespacedName("ns1", "sel"), List.of(), true,
                List.of(rule("https://other.example", JWKS)), dev.waypoint.model.SourceRef.NONE);
        ConfigSnapshot s = snapshot(cache, gw, selector);
        String other = sign(JWSAlgorithm.RS256, claims("https://other.example", "bob").build());
        for (var svc : List.of(B, C)) {
            FilterResult res = filter.onRequest(request(s, svc, "/", Headers.of("authorization", "Bearer " + other)));
            assertThat(((FilterResult.Reply) res).rejection().message()).isEqualTo("Jwt issuer is not configured");
        }
        assertThat(s.part(JwtRules.PART).debug()).containsKeys("service ns1/b", "service ns1/c", "pod-addressed");
    }

    @Test
    void aBadInlineJwksIsReportedAndFailsEveryToken() {
        var d = new dev.waypoint.model.Diagnostics();
        var rs = TestRequests.resources(List.of(ra("ra", List.of(service("b")), rule(ISS, "{\"keys\": [{\"kty\": \"nope\"}]}"))));
        ConfigSnapshot s = ConfigSnapshot.compile(1, rs, List.of(new JwtRuleCompiler(cache, "istio-system")), d);
        assertThat(d.problems()).singleElement().asString()
                .contains("spec.jwtRules[0].jwks: jwks: 1 of 1 keys not usable");
        FilterResult res = filter.onRequest(request(s, B, "/", Headers.of("authorization", "Bearer " + token())));
        assertThat(((FilterResult.Reply) res).rejection().reason()).isEqualTo(Rejection.Reason.JWT_REJECTED);

        var d2 = new dev.waypoint.model.Diagnostics();
        var rs2 = TestRequests.resources(List.of(ra("ra", List.of(service("b")), rule(ISS, "{\"keys\": 5}"))));
        ConfigSnapshot s2 = ConfigSnapshot.compile(1, rs2, List.of(new JwtRuleCompiler(cache, "istio-system")), d2);
        assertThat(d2.problems()).singleElement().asString().contains("spec.jwtRules[0].jwks: jwks: ");
        res = filter.onRequest(request(s2, B, "/", Headers.of("authorization", "Bearer " + token())));
        assertThat(((FilterResult.Reply) res).rejection().message()).isEqualTo("Jwks doesn't have key to match kid or alg from Jwt");
    }
}
