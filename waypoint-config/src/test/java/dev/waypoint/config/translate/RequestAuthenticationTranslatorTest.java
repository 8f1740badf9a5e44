package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.JwtRuleSpec;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** RequestAuthentication YAML → {@link RequestAuthenticationSpec}: the error table and the full record. */
class RequestAuthenticationTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");

    private record Result(List<TranslatedObject> objects, ResourceSet resources, List<String> problems) {}

    private static Result translate(String yaml) {
        try {
            Diagnostics d = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(
                    List.of(new WireObject(YAML.readTree(yaml), new SourceRef("m.yaml", 1))), d);
            return new Result(objects, ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", objects),
                    d.problems().stream().map(Object::toString).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final String HEAD = """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: ra, namespace: ns1}
            """;
    private static final String REFS = "  targetRefs: [{kind: Service, group: '', name: b}]\n";

    record Case(String name, String spec, boolean kept, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final String P = "m.yaml:1: RequestAuthentication ns1/ra: ";
    private static final String W = "m.yaml:1: warning: RequestAuthentication ns1/ra: ";

    static Stream<Case> cases() {
        return Stream.of(
                new Case("minimal, jwksUri", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks'}]
                        """, true, List.of()),
                new Case("inline jwks", REFS + """
                          jwtRules: [{issuer: a, jwks: '{"keys": []}'}]
                        """, true, List.of()),
                new Case("jwks_uri, the proto name the CRD also lists", REFS + """
                          jwtRules: [{issuer: a, jwks_uri: 'https://a.example/jwks'}]
                        """, true, List.of()),
                new Case("jwks and jwksUri (CRD CEL: only one): kept with the inline jwks, as istiod applies it", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', jwks: '{"keys": []}'}]
                        """, true, List.of(W + "spec.jwtRules[0]: jwtRules: more than one of jwks, jwksUri and jwks_uri (expected: only one of jwks or jwksUri can be set; the inline jwks is used)")),
                new Case("jwksUri and jwks_uri: kept with jwksUri", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', jwks_uri: 'https://b.example/jwks'}]
                        """, true, List.of(W + "spec.jwtRules[0]: jwtRules: more than one of jwks, jwksUri and jwks_uri (expected: only one of jwks or jwksUri can be set; jwksUri is used)")),
                new Case("presence REQUIRED: kept, not applied (as in Istio)", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', presence: REQUIRED}]
                        """, true, List.of(W + "spec.jwtRules[0].presence: presence: REQUIRED is not applied (Istio does not apply it either): a request without a token passes; an AuthorizationPolicy with requestPrincipals: [\"*\"] requires one")),
                new Case("presence OPTIONAL", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', presence: OPTIONAL}]
                        """, true, List.of()),
                new Case("presence not in the enum", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', presence: ALWAYS}]
                        """, false, List.of(P + "spec.jwtRules[0].presence: presence: ALWAYS (expected: OPTIONAL or REQUIRED)")),
                new Case("neither jwksUri nor jwks, an issuer that is no URL", REFS + """
                          jwtRules: [{issuer: a}]
                        """, false, List.of(P + "spec.jwtRules[0].jwksUri: jwksUri: missing (expected: jwksUri or jwks, or an issuer that is an http(s) URL for OpenID discovery of its keys)")),
                new Case("neither jwksUri nor jwks, an https issuer: OpenID discovery", REFS + """
                          jwtRules: [{issuer: 'https://accounts.example.com'}]
                        """, true, List.of()),
                new Case("neither jwksUri nor jwks, an http issuer: OpenID discovery", REFS + """
                          jwtRules: [{issuer: 'http://keycloak.auth.svc.cluster.local/realms/demo'}]
                        """, true, List.of()),
                new Case("OpenID discovery in a selector-based object: not applied here, so no error", """
                          selector: {matchLabels: {app: b}}
                          jwtRules: [{issuer: a}]
                        """, true, List.of(W + "spec.selector: a waypoint applies RequestAuthentication through targetRefs only; this selector-based object is enforced by ztunnel or sidecars, not here")),
                // validation.go validateJwtRule: "issuer or jwksUri must be non-empty string"
                new Case("no issuer, jwksUri: valid (tokens of any iss)", REFS + """
                          jwtRules: [{jwksUri: 'https://a.example/jwks'}]
                        """, true, List.of()),
                new Case("empty issuer is no issuer", REFS + """
                          jwtRules: [{issuer: '', jwksUri: 'https://a.example/jwks'}]
                        """, true, List.of()),
                new Case("no issuer, jwks_uri: valid", REFS + """
                          jwtRules: [{jwks_uri: 'https://a.example/jwks'}]
                        """, true, List.of()),
                new Case("no issuer, inline jwks only (Istio: issuer or jwksUri)", REFS + """
                          jwtRules: [{jwks: '{"keys": []}'}]
                        """, false, List.of(P + "spec.jwtRules[0].issuer: issuer: missing (expected: issuer or jwksUri (Istio: \"issuer or jwksUri must be non-empty string\"))")),
                new Case("empty issuer, inline jwks only", REFS + """
                          jwtRules: [{issuer: '', jwks: '{"keys": []}'}]
                        """, false, List.of(P + "spec.jwtRules[0].issuer: issuer: \"\" (expected: issuer or jwksUri (Istio: \"issuer or jwksUri must be non-empty string\"))")),
                new Case("neither issuer nor jwksUri, in a selector-based object too", """
                          selector: {matchLabels: {app: b}}
                          jwtRules: [{audiences: [a]}]
                        """, false, List.of(
                        W + "spec.selector: a waypoint applies RequestAuthentication through targetRefs only; this selector-based object is enforced by ztunnel or sidecars, not here",
                        P + "spec.jwtRules[0].issuer: issuer: missing (expected: issuer or jwksUri (Istio: \"issuer or jwksUri must be non-empty string\"))")),
                new Case("issuer not a string", REFS + """
                          jwtRules: [{issuer: 5, jwksUri: 'https://a.example/jwks'}]
                        """, false, List.of(P + "spec.jwtRules[0].issuer: issuer: 5 (expected: a string; 5 unquoted is a number in YAML: quote it)")),
                new Case("unknown rule field (a typo would widen what is accepted)", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', audience: [x]}]
                        """, false, List.of(P + "spec.jwtRules[0].audience: audience: unknown field (expected: one of audiences, forwardOriginalToken, fromCookies, fromHeaders, fromParams, issuer, jwks, jwksUri, jwks_uri, outputClaimToHeaders, outputPayloadToHeader, presence, spaceDelimitedClaims, timeout)")),
                new Case("unknown spec field", REFS + """
                          action: ALLOW
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks'}]
                        """, false, List.of(P + "spec.action: action: unknown field (expected: one of jwtRules, selector, targetRef, targetRefs)")),
                new Case("jwksUri not http(s)", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'file:///etc/jwks.json'}]
                        """, false, List.of(P + "spec.jwtRules[0].jwksUri: jwksUri: file:///etc/jwks.json (expected: an http or https URL with a host)")),
                new Case("jwks not a JWKS", REFS + """
                          jwtRules: [{issuer: a, jwks: 'not json'}]
                        """, false, List.of(P + "spec.jwtRules[0].jwks: jwks: not json (expected: a JWKS document: {\"keys\": [...]})")),
                new Case("bad timeout", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', timeout: 5}]
                        """, false, List.of(P + "spec.jwtRules[0].timeout: timeout: 5 (expected: a duration of at least 1ms such as 5s, 500ms or 1m30s)")),
                new Case("Go-style compound timeout (time.ParseDuration, as istiod decodes it)", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', timeout: 1m30s}]
                        """, true, List.of()),
                new Case("timeout under 1ms", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', timeout: 500us}]
                        """, false, List.of(P + "spec.jwtRules[0].timeout: timeout: 500us (expected: a duration of at least 1ms such as 5s, 500ms or 1m30s)")),
                new Case("zero timeout", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', timeout: 0s}]
                        """, false, List.of(P + "spec.jwtRules[0].timeout: timeout: 0s (expected: a duration of at least 1ms such as 5s, 500ms or 1m30s)")),
                new Case("bad header names, empty claim", REFS + """
                          jwtRules:
                          - issuer: a
                            jwksUri: 'https://a.example/jwks'
                            fromHeaders: [{name: 'x token'}]
                            outputClaimToHeaders: [{header: x-sub, claim: ''}]
                        """, false, List.of(
                        P + "spec.jwtRules[0].fromHeaders[0].name: name: x token (expected: an HTTP header name (RFC 7230 token characters))",
                        P + "spec.jwtRules[0].outputClaimToHeaders[0].claim: claim: \"\" (expected: a claim name such as sub)")),
                new Case("audiences must be strings", REFS + """
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', audiences: [1, '']}]
                        """, false, List.of(
                        P + "spec.jwtRules[0].audiences[0]: audiences[0]: 1 (expected: a non-empty string; 1 unquoted is a number in YAML: quote it)",
                        P + "spec.jwtRules[0].audiences[1]: audiences[1]: \"\" (expected: a non-empty string)")),
                new Case("selector and targetRefs", REFS + """
                          selector: {matchLabels: {app: b}}
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks'}]
                        """, false, List.of(P + "spec.selector: selector: {\"matchLabels\":{\"app\":\"b\"}} (expected: only one of selector or targetRefs)")),
                new Case("targetRef and targetRefs: both used, warned", REFS + """
                          targetRef: {kind: Service, name: c}
                          jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks'}]
                        """, true, List.of(W + "spec.targetRef: targetRef: {\"kind\":\"Service\",\"name\":\"c\"} (expected: only one of targetRef or targetRefs; both are used)")),
                new Case("selector-based: kept, not applied by a waypoint", """
                          selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: waypoint}}
                          jwtRules: [{issuer: a, jwks: '{"keys": []}'}]
                        """, true, List.of(W + "spec.selector: a waypoint applies RequestAuthentication through targetRefs only; this selector-based object is enforced by ztunnel or sidecars, not here")),
                new Case("no targetRefs: kept, not applied by a waypoint", """
                          jwtRules: [{issuer: a, jwks: '{"keys": []}'}]
                        """, true, List.of(W + "spec.targetRefs: missing: a waypoint does not apply a namespace- or mesh-wide RequestAuthentication (no targetRefs); it attaches to nothing here")),
                new Case("cross-namespace targetRef", """
                          targetRefs: [{kind: Service, name: b, namespace: ns2}]
                          jwtRules: [{issuer: a, jwks: '{"keys": []}'}]
                        """, true, List.of(W + "spec.targetRefs[0].namespace: namespace: ns2 (expected: the policy's own namespace ns1; this reference attaches to nothing)")),
                new Case("targetRef without kind", """
                          targetRefs: [{name: b}]
                          jwtRules: [{issuer: a, jwks: '{"keys": []}'}]
                        """, false, List.of(P + "spec.targetRefs[0].kind: kind: missing (expected: a kind such as Service or Gateway)")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void reportsEveryProblemWithItsFieldPath(Case c) {
        Result r = translate(HEAD + "spec:\n" + c.spec());

        assertThat(r.problems()).containsExactlyElementsOf(c.problems());
        assertThat(r.objects()).singleElement().satisfies(t -> assertThat(t.kept()).as("kept").isEqualTo(c.kept()));
        assertThat(r.resources().requestAuthentications()).hasSize(c.kept() ? 1 : 0);
    }

    @Test
    void jwksUriUnderItsProtoNameIsTheJwksUri() {
        Result r = translate(HEAD + "spec:\n" + REFS + "  jwtRules: [{issuer: a, jwks_uri: 'https://a.example/jwks'}]\n");

        assertThat(r.resources().requestAuthentications()).singleElement().satisfies(ra ->
                assertThat(ra.jwtRules().get(0).jwksUri()).isEqualTo("https://a.example/jwks"));
    }

    @Test
    void aRuleWithoutIssuerHasNone() {
        Result r = translate(HEAD + "spec:\n" + REFS + "  jwtRules: [{jwksUri: 'https://a.example/jwks'}]\n");

        assertThat(r.resources().requestAuthentications()).singleElement().satisfies(ra -> {
            assertThat(ra.jwtRules().get(0).issuer()).as("any iss").isNull();
            assertThat(ra.jwtRules().get(0).jwksUri()).isEqualTo("https://a.example/jwks");
        });
    }

    @Test
    void withBothJwksAndJwksUriTheInlineKeysAreTheOnesUsed() {
        Result r = translate(HEAD + "spec:\n" + REFS
                + "  jwtRules: [{issuer: a, jwksUri: 'https://a.example/jwks', jwks: '{\"keys\": []}'}]\n");

        assertThat(r.resources().requestAuthentications()).singleElement().satisfies(ra -> {
            assertThat(ra.jwtRules().get(0).jwks()).isEqualTo("{\"keys\": []}");
            assertThat(ra.jwtRules().get(0).jwksUri()).as("nothing fetched").isNull();
        });
    }

    @Test
    void everyFieldReachesTheRecord() {
        Result r = translate("""
                apiVersion: security.istio.io/v1beta1
                kind: RequestAuthentication
                metadata: {name: ra, namespace: ns1}
                spec:
                  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}
                  jwtRules:
                  - issuer: https://issuer.example
                    audiences: [foo, bar]
                    jwksUri: https://issuer.example/jwks
                    fromHeaders: [{name: X-Jwt, prefix: 'Token '}, {name: x-other}]
                    fromParams: [tok]
                    fromCookies: [session]
                    forwardOriginalToken: true
                    outputPayloadToHeader: X-Payload
                    outputClaimToHeaders: [{header: x-sub, claim: sub}]
                    spaceDelimitedClaims: [roles]
                    timeout: 1.5s
                """);

        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().requestAuthentications()).containsExactly(new RequestAuthenticationSpec(
                new NamespacedName("ns1", "ra"),
                List.of(new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null)), false,
                List.of(new JwtRuleSpec("https://issuer.example", List.of("foo", "bar"), "https://issuer.example/jwks", null,
                        List.of(new JwtRuleSpec.FromHeader("x-jwt", "Token "), new JwtRuleSpec.FromHeader("x-other", "")),
                        List.of("tok"), List.of("session"), true, "x-payload",
                        List.of(new JwtRuleSpec.ClaimToHeader("x-sub", "sub")), List.of("roles"), Duration.ofMillis(1500))),
                new SourceRef("m.yaml", 1)));
        assertThat(r.resources().others()).isEmpty();
    }

    @Test
    void otherVersionsAreIgnoredWithAWarning() {
        Result r = translate("""
                apiVersion: security.istio.io/v1alpha1
                kind: RequestAuthentication
                metadata: {name: ra, namespace: ns1}
                spec: {}
                """);
        assertThat(r.problems()).containsExactly("m.yaml:1: warning: RequestAuthentication ns1/ra: apiVersion: apiVersion: security.istio.io/v1alpha1 (expected: security.istio.io/v1 or security.istio.io/v1beta1; the object is not applied)");
        assertThat(r.resources().requestAuthentications()).isEmpty();
    }
}
