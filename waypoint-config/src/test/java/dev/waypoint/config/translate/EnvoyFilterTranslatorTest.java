package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** EnvoyFilter YAML → local rate limits: the one supported shape, and every other patch refused. */
class EnvoyFilterTranslatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private record Result(ResourceSet resources, List<String> problems) {}

    private static Result translate(String yaml) {
        try {
            Diagnostics d = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(
                    List.of(new WireObject(YAML.readTree(yaml), new SourceRef("m.yaml", 1))), d);
            return new Result(ResourceTranslator.resourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local",
                    objects), d.problems().stream().map(Object::toString).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static final String HEAD = """
            apiVersion: networking.istio.io/v1alpha3
            kind: EnvoyFilter
            metadata: {name: rl, namespace: istio-system}
            spec:
            """;
    private static final String REFS = "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]\n";

    /** The page's patch with {@code typed} as its typed_config body. */
    static String patch(String value) {
        return """
                  configPatches:
                  - applyTo: HTTP_FILTER
                    match: {context: SIDECAR_INBOUND}
                    patch:
                      operation: INSERT_BEFORE
                      value:
                        name: envoy.filters.http.local_ratelimit
                        typed_config:
                          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
                          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                          value:
                """ + value.indent(12);
    }

    static final String PAGE = """
            stat_prefix: http_local_rate_limiter
            token_bucket: {max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s}
            filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}
            filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: 50, denominator: HUNDRED}}
            response_headers_to_add:
            - append_action: APPEND_IF_EXISTS_OR_ADD
              header: {key: x-local-rate-limit, value: 'true'}
            """;

    @Test
    void thePageShapeBecomesALimit() {
        Result r = translate(HEAD + REFS + patch(PAGE));
        assertThat(r.problems()).isEmpty();
        LocalRateLimitSpec l = r.resources().localRateLimits().get(0);
        assertThat(l.statPrefix()).isEqualTo("http_local_rate_limiter");
        assertThat(l.maxTokens()).isEqualTo(4);
        assertThat(l.tokensPerFill()).isEqualTo(4);
        assertThat(l.fillInterval()).isEqualTo(Duration.ofSeconds(60));
        assertThat(l.enabledFraction()).isEqualTo(1.0);
        assertThat(l.enforcedFraction()).isEqualTo(0.5);
        assertThat(l.responseHeaders()).isEqualTo(Map.of("x-local-rate-limit", "true"));
        assertThat(l.targetRefs()).hasSize(1);
    }

    record Case(String name, String yaml, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final String E = "m.yaml:1: EnvoyFilter istio-system/rl: ";

    static Stream<Case> refused() {
        return Stream.of(
                new Case("another filter", HEAD + REFS + patch(PAGE).replace("envoy.filters.http.local_ratelimit", "envoy.filters.http.lua"),
                        List.of(E + "spec.configPatches[0]: configPatches[0]: applyTo HTTP_FILTER, operation INSERT_BEFORE, "
                                + "filter envoy.filters.http.lua (expected: the local rate limit of Istio's 'Enabling Rate Limits "
                                + "using Envoy' (applyTo HTTP_FILTER, envoy.filters.http.local_ratelimit); other EnvoyFilter "
                                + "patches are not supported by this waypoint)")),
                new Case("a route patch", HEAD + REFS + patch(PAGE).replace("applyTo: HTTP_FILTER", "applyTo: HTTP_ROUTE"),
                        List.of(E + "spec.configPatches[0]: configPatches[0]: applyTo HTTP_ROUTE, operation INSERT_BEFORE, "
                                + "filter envoy.filters.http.local_ratelimit (expected: the local rate limit of Istio's 'Enabling "
                                + "Rate Limits using Envoy' (applyTo HTTP_FILTER, envoy.filters.http.local_ratelimit); other "
                                + "EnvoyFilter patches are not supported by this waypoint)")),
                new Case("descriptors", HEAD + REFS + patch(PAGE + "descriptors: []\n"),
                        List.of(E + "spec.configPatches[0].patch.value.typed_config.value.descriptors: descriptors: unknown field "
                                + "(expected: one of filter_enabled, filter_enforced, response_headers_to_add, stat_prefix, token_bucket)")),
                new Case("fill interval too short", HEAD + REFS + patch(PAGE.replace("60s", "10ms")),
                        List.of(E + "spec.configPatches[0].patch.value.typed_config.value.token_bucket.fill_interval: "
                                + "fill_interval: 10ms (expected: at least 50ms)")),
                new Case("no max_tokens", HEAD + REFS + patch(PAGE.replace("max_tokens: 4, ", "")),
                        List.of(E + "spec.configPatches[0].patch.value.typed_config.value.token_bucket.max_tokens: "
                                + "max_tokens: missing (expected: 1-2147483647)")));
    }

    @ParameterizedTest
    @MethodSource("refused")
    void anythingElseRejectsTheWholeObject(Case c) {
        Result r = translate(c.yaml());
        assertThat(r.problems()).containsExactlyElementsOf(c.problems());
        assertThat(r.resources().localRateLimits()).isEmpty();
    }

    @Test
    void aWorkloadSelectorEnvoyFilterIsForEnvoyProxiesAndIgnoredWithAWarning() {
        Result r = translate(HEAD + "  workloadSelector: {labels: {app: x}}\n" + patch(PAGE));
        assertThat(r.problems()).containsExactly("m.yaml:1: warning: EnvoyFilter istio-system/rl: spec.targetRefs: missing: a "
                + "waypoint applies an EnvoyFilter through targetRefs only; this one (workloadSelector or mesh-wide) is for "
                + "Envoy sidecars and gateways, not applied here");
        assertThat(r.resources().localRateLimits()).isEmpty();
    }
}
