package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.gateway.HttpFilterSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The CORS filter's origin matching and answers (Envoy's CORS filter over Istio's translation of HTTPCORSFilter). */
class CorsPolicyTest {
    private static CorsPolicy policy(boolean credentials, List<String> methods, List<String> headers, List<String> expose,
                                     String... origins) {
        return new CorsPolicy(new HttpFilterSpec.Cors(List.of(origins), credentials, methods, headers, expose, 5));
    }

    @ParameterizedTest(name = "{0} allows {1}: {2}")
    @CsvSource({
            "https://www.foo.com, https://www.foo.com, true",
            "https://www.foo.com, https://www.foo.com:443, false",
            "https://www.foo.com, http://www.foo.com, false",
            "https://*.bar.com, https://www.bar.com, true",
            "https://*.bar.com, https://xpto.www.bar.com, true", // '*' spans several labels
            "https://*.bar.com, https://bar.com, false",
            "https://*.bar.com, https://www.bar.com.evil.io, false",
            "https://foo*, https://foo.example:8443, true",
            "*, https://anything.example:1, true",
            "*, null, false", // not an origin
            "*, file:///etc, false"})
    void origins(String allowed, String origin, boolean allows) {
        assertThat(policy(false, List.of(), List.of(), List.of(), allowed).allows(origin)).isEqualTo(allows);
    }

    @Test
    void aPreflightFromAnAllowedOriginGetsTheListsAndMaxAge() {
        CorsPolicy p = policy(true, List.of("GET", "OPTIONS"), List.of("x-header-1", "x-header-2"), List.of("x-header-3"),
                "https://www.foo.com");
        Map<String, String> h = p.preflightHeaders("https://www.foo.com", TestRequests.Headers.of(
                "origin", "https://www.foo.com", "access-control-request-method", "GET"));
        assertThat(h).containsExactly(Map.entry("access-control-allow-origin", "https://www.foo.com"),
                Map.entry("access-control-allow-credentials", "true"), Map.entry("access-control-allow-methods", "GET, OPTIONS"),
                Map.entry("access-control-allow-headers", "x-header-1, x-header-2"),
                Map.entry("access-control-expose-headers", "x-header-3"), Map.entry("access-control-max-age", "5"));
        assertThat(p.preflightHeaders("https://evil.example", TestRequests.Headers.of())).isEmpty();
    }

    @Test
    void withCredentialsWildcardsEchoWhatWasAskedAndExposeStarIsNotSent() {
        CorsPolicy p = policy(true, List.of("*"), List.of("*"), List.of("*"), "*");
        Map<String, String> h = p.preflightHeaders("https://a.example", TestRequests.Headers.of(
                "access-control-request-method", "PUT", "access-control-request-headers", "x-a, x-b"));
        assertThat(h).containsEntry("access-control-allow-origin", "https://a.example") // never '*'
                .containsEntry("access-control-allow-methods", "PUT").containsEntry("access-control-allow-headers", "x-a, x-b")
                .doesNotContainKey("access-control-expose-headers");
        CorsPolicy open = policy(false, List.of("*"), List.of("*"), List.of("*"), "*");
        assertThat(open.preflightHeaders("https://a.example", TestRequests.Headers.of("access-control-request-method", "PUT")))
                .containsEntry("access-control-allow-methods", "*").containsEntry("access-control-allow-headers", "*")
                .containsEntry("access-control-expose-headers", "*").doesNotContainKey("access-control-allow-credentials");
    }

    @Test
    void anActualResponseGetsOriginCredentialsAndExposeHeaders() {
        TestRequests.Headers response = TestRequests.Headers.of();
        policy(true, List.of(), List.of(), List.of("x-header-3", "x-header-4"), "https://www.foo.com")
                .addResponseHeaders("https://www.foo.com", response);
        assertThat(response.get("access-control-allow-origin")).isEqualTo("https://www.foo.com");
        assertThat(response.get("access-control-allow-credentials")).isEqualTo("true");
        assertThat(response.get("access-control-expose-headers")).isEqualTo("x-header-3, x-header-4");
    }

    @ParameterizedTest(name = "{0} with {1}: preflight {2}")
    @CsvSource(nullValues = "-", value = {"OPTIONS, GET, true", "OPTIONS, -, false", "GET, GET, false"})
    void whatIsAPreflight(String method, String requested, boolean preflight) {
        TestRequests.Headers h = requested == null ? TestRequests.Headers.of("origin", "https://a.example")
                : TestRequests.Headers.of("origin", "https://a.example", "access-control-request-method", requested);
        assertThat(CorsPolicy.preflight(method, h)).isEqualTo(preflight);
    }
}
