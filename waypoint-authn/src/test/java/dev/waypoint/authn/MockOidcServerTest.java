package dev.waypoint.authn;

import static dev.waypoint.authn.TestRequests.B;
import static dev.waypoint.authn.TestRequests.ra;
import static dev.waypoint.authn.TestRequests.request;
import static dev.waypoint.authn.TestRequests.service;
import static dev.waypoint.authn.TestRequests.snapshot;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.authn.TestJwt.Headers;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.security.JwtRuleSpec;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Against a real OpenID provider (NAV's mock-oauth2-server: discovery, JWKS and token endpoints,
 * RS256 tokens): the JWKS comes from the {@code jwks_uri} its discovery document names, tokens
 * from its token endpoint.
 */
class MockOidcServerTest {
    static MockOAuth2Server oidc;
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();
    JwksCache cache;

    @BeforeAll
    static void start() throws Exception {
        oidc = new MockOAuth2Server();
        oidc.start(InetAddress.getByName("127.0.0.1"), 0);
    }

    @AfterAll
    static void stop() {
        oidc.shutdown();
    }

    static JsonNode get(String url) throws Exception {
        return JSON.readTree(HTTP.send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }

    /** A client_credentials token from the provider's token endpoint. */
    static String tokenFromEndpoint(String tokenEndpoint, String audience) throws Exception {
        String form = "grant_type=client_credentials&client_id=orders&client_secret=s&scope=" + audience;
        HttpResponse<String> res = HTTP.send(HttpRequest.newBuilder(URI.create(tokenEndpoint))
                .header("content-type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
        return JSON.readTree(res.body()).get("access_token").asText();
    }

    JwtRuleSpec ruleFromDiscovery(String issuerId) throws Exception {
        JsonNode discovery = get(oidc.issuerUrl(issuerId) + "/.well-known/openid-configuration");
        return new JwtRuleSpec(discovery.get("issuer").asText(), List.of(), discovery.get("jwks_uri").asText(), null,
                List.of(), List.of(), List.of(), false, null, List.of(), List.of(), Duration.ofSeconds(5));
    }

    static FilterResult run(AuthnFilter f, RequestContext r) throws Exception {
        FilterResult res = f.onRequest(r);
        while (res instanceof FilterResult.Retry retry) {
            retry.ready().toCompletableFuture().handle((x, e) -> null).get(10, TimeUnit.SECONDS);
            res = f.onRequest(r);
        }
        return res;
    }

    @Test
    void tokensOfARealProviderVerifyAgainstItsPublishedKeys() throws Exception {
        cache = JwksCache.create(JwksCache.Settings.defaults());
        try {
            ConfigSnapshot s = snapshot(cache, ra("ra", List.of(service("b")), ruleFromDiscovery("default")));
            AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);
            String tokenEndpoint = get(oidc.issuerUrl("default") + "/.well-known/openid-configuration")
                    .get("token_endpoint").asText();

            // from the token endpoint, over HTTP
            RequestContext r = request(s, B, "/", Headers.of("authorization", "Bearer " + tokenFromEndpoint(tokenEndpoint, "api")));
            assertThat(run(f, r)).isSameAs(FilterResult.CONTINUE);
            JwtAuthn authn = r.get(JwtAuthn.KEY);
            assertThat(authn.issuer()).isEqualTo(oidc.issuerUrl("default").toString());
            assertThat(authn.principal()).isEqualTo(authn.issuer() + "/orders");
            assertThat(authn.audiences()).contains("api");

            // issued in process, with claims
            String t = oidc.issueToken("default", "alice", "api", Map.of("scope", "read write")).serialize();
            RequestContext r2 = request(s, B, "/", Headers.of("authorization", "Bearer " + t));
            assertThat(run(f, r2)).isSameAs(FilterResult.CONTINUE);
            assertThat(r2.get(JwtAuthn.KEY).claims()).containsEntry("scope", List.of("read", "write"));

            // the same provider's other issuer is not configured here
            String other = oidc.issueToken("other", "alice", "api").serialize();
            FilterResult res = run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + other)));
            assertThat(((FilterResult.Reply) res).rejection().message()).isEqualTo("Jwt issuer is not configured");

            // an hour past its expiry (the provider's default lifetime is one hour)
            AuthnFilter later = new AuthnFilter(Clock.fixed(Instant.now().plus(Duration.ofHours(3)), ZoneOffset.UTC), cache);
            res = run(later, request(s, B, "/", Headers.of("authorization", "Bearer " + t)));
            assertThat(((FilterResult.Reply) res).rejection().message()).isEqualTo("Jwt is expired");
        } finally {
            cache.close();
        }
    }

    @Test
    void aRuleWithOnlyTheIssuerFindsItsKeysByOpenIdDiscovery() throws Exception {
        cache = JwksCache.create(JwksCache.Settings.defaults());
        try {
            // the issuer as the provider names it, no jwksUri, no jwks: Istio's OpenID discovery case
            String issuer = oidc.issuerUrl("default").toString();
            JwtRuleSpec rule = new JwtRuleSpec(issuer, List.of(), null, null, List.of(), List.of(), List.of(), false,
                    null, List.of(), List.of(), Duration.ofSeconds(5));
            ConfigSnapshot s = snapshot(cache, ra("ra", List.of(service("b")), rule));
            AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);

            String t = oidc.issueToken("default", "alice", "api").serialize();
            RequestContext r = request(s, B, "/", Headers.of("authorization", "Bearer " + t));
            assertThat(run(f, r)).isSameAs(FilterResult.CONTINUE);
            assertThat(r.get(JwtAuthn.KEY).principal()).isEqualTo(issuer + "/alice");

            // a token signed by a key the provider does not publish still fails
            String forged = TestJwt.sign(com.nimbusds.jose.JWSAlgorithm.RS256, TestJwt.claims(issuer, "mallory").build());
            FilterResult res = run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + forged)));
            assertThat(res).isInstanceOf(FilterResult.Reply.class);
        } finally {
            cache.close();
        }
    }

    @Test
    void aDiscoveryDocumentWithoutAJwksUriIsAFailedFetch() {
        URI doc = URI.create("https://issuer.example/.well-known/openid-configuration");
        assertThat(JwksCache.jwksUri(doc, "{\"jwks_uri\": \"https://issuer.example/keys\"}"))
                .isEqualTo(URI.create("https://issuer.example/keys"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> JwksCache.jwksUri(doc, "{\"issuer\": \"x\"}"))
                .hasMessage(doc + ": jwks_uri: null (expected: an http or https URL)");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> JwksCache.jwksUri(doc, "not json"))
                .hasMessageStartingWith(doc + ": not an OpenID discovery document");
    }
}
