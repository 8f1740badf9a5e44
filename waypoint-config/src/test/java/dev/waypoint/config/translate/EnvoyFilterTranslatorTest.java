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
                                + "EnvoyFilter patches are not supported by this waypoint)",
                                E + "spec.configPatches: configPatches: an HTTP_ROUTE patch without the HTTP_FILTER insert "
                                + "(expected: the envoy.filters.http.local_ratelimit HTTP_FILTER insert too (Envoy ignores "
                                + "per-route config of a filter not in the chain))")),
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

    /** The page's second example: the filter inserted with only a stat_prefix, and an HTTP_ROUTE patch {@code route}. */
    static String withRoute(String vhostMatch, String route) {
        return HEAD + "  targetRefs: [{kind: Service, name: productpage}]\n" + patch("stat_prefix: http_local_rate_limiter\n") + """
                  - applyTo: HTTP_ROUTE
                    match:
                      context: SIDECAR_INBOUND
                      routeConfiguration:
                        vhost:
                """ + vhostMatch.indent(10) + """
                    patch:
                      operation: MERGE
                      value:
                        typed_per_filter_config:
                          envoy.filters.http.local_ratelimit:
                            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
                            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                            value:
                """ + route.indent(14);
    }

    static final String VHOST = "name: \"inbound|http|9080\"\nroute: {action: ANY}\n";
    static final String ROUTE = PAGE + """
            descriptors:
            - entries: [{key: header-1, value: something}]
              token_bucket: {max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s}
            - entries: [{key: header-2, value: something_else}, {key: k, value: v}]
              token_bucket: {max_tokens: 100, tokens_per_fill: 100, fill_interval: 60s}
            rate_limits:
            - actions:
              - request_headers: {header_name: x-user, descriptor_key: header-1}
            - actions:
              - generic_key: {descriptor_value: something_else, descriptor_key: header-2}
              - header_value_match:
                  descriptor_value: v
                  descriptor_key: k
                  headers: [{name: ":path", prefix_match: /api}, {name: x-debug, present_match: true, invert_match: true}]
            - actions: [{remote_address: {}}, {generic_key: {descriptor_value: g}}]
            """;

    @Test
    void thePagesRouteShapeBecomesAPerPortLimitWithDescriptorsAndActions() {
        Result r = translate(withRoute(VHOST, ROUTE));
        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().localRateLimits()).hasSize(1); // the filter patch has no bucket: it limits nothing itself
        LocalRateLimitSpec l = r.resources().localRateLimits().get(0);
        assertThat(l.routePort()).isEqualTo(9080);
        assertThat(l.maxTokens()).isEqualTo(4);
        assertThat(l.descriptors()).containsExactly(
                new LocalRateLimitSpec.Descriptor(List.of(new LocalRateLimitSpec.Entry("header-1", "something")), 10, 10,
                        Duration.ofSeconds(60)),
                new LocalRateLimitSpec.Descriptor(List.of(new LocalRateLimitSpec.Entry("header-2", "something_else"),
                        new LocalRateLimitSpec.Entry("k", "v")), 100, 100, Duration.ofSeconds(60)));
        assertThat(l.rateLimits()).containsExactly(
                List.of(new LocalRateLimitSpec.Action.RequestHeaders("x-user", "header-1", false)),
                List.of(new LocalRateLimitSpec.Action.GenericKey("header-2", "something_else"),
                        new LocalRateLimitSpec.Action.HeaderValueMatch("k", "v", true, List.of(
                                new LocalRateLimitSpec.HeaderMatch(":path", "prefix", "/api", false),
                                new LocalRateLimitSpec.HeaderMatch("x-debug", "present", null, true)))),
                List.of(new LocalRateLimitSpec.Action.RemoteAddress(), new LocalRateLimitSpec.Action.GenericKey("generic_key", "g")));
    }

    static final String R = E + "spec.configPatches[1].";

    static Stream<Case> refusedRoutes() {
        return Stream.of(
                new Case("a vhost not inbound|http|PORT", withRoute(VHOST.replace("inbound|http|9080", "outbound|http|9080"), ROUTE),
                        List.of(R + "match.routeConfiguration.vhost.name: name: outbound|http|9080 (expected: inbound|http|PORT "
                                + "(PORT: the targeted Service's port))")),
                new Case("a route by name", withRoute(VHOST.replace("action: ANY", "action: ROUTE"), ROUTE),
                        List.of(R + "match.routeConfiguration.vhost.route.action: action: ROUTE (expected: ANY (this waypoint "
                                + "applies per-vhost, not per-route, local rate limits))")),
                new Case("a routeConfiguration by port", withRoute(VHOST, ROUTE).replaceFirst("\n( *)vhost:\n",
                        "\n$1portNumber: 9080\n$1vhost:\n"),
                        List.of(R + "match.routeConfiguration.portNumber: portNumber: unknown field (expected: one of vhost)")),
                new Case("a regex header matcher", withRoute(VHOST, ROUTE.replace("prefix_match: /api", "safe_regex_match: {regex: a}")),
                        List.of(R + "patch.value.typed_per_filter_config['envoy.filters.http.local_ratelimit'].value.rate_limits[1]."
                                + "actions[1].header_value_match.headers[0].safe_regex_match: safe_regex_match: unknown field "
                                + "(expected: one of contains_match, exact_match, invert_match, name, prefix_match, present_match, "
                                + "string_match, suffix_match)")),
                new Case("another action", withRoute(VHOST, ROUTE.replace("remote_address: {}", "destination_cluster: {}")),
                        List.of(R + "patch.value.typed_per_filter_config['envoy.filters.http.local_ratelimit'].value.rate_limits[2]."
                                + "actions[0]: actions: destination_cluster (expected: request_headers, generic_key, "
                                + "header_value_match or remote_address)")),
                new Case("a descriptor without its bucket", withRoute(VHOST, ROUTE.replace(
                        "  token_bucket: {max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s}\n", "")),
                        List.of(R + "patch.value.typed_per_filter_config['envoy.filters.http.local_ratelimit'].value.descriptors[0]."
                                + "token_bucket: token_bucket: missing (expected: {max_tokens, tokens_per_fill, fill_interval})")),
                new Case("descriptors on the filter itself", HEAD + REFS + patch(ROUTE),
                        List.of(E + "spec.configPatches[0].patch.value.typed_config.value.descriptors: descriptors: unknown field "
                                + "(expected: one of filter_enabled, filter_enforced, response_headers_to_add, stat_prefix, token_bucket)",
                                E + "spec.configPatches[0].patch.value.typed_config.value.rate_limits: rate_limits: unknown field "
                                + "(expected: one of filter_enabled, filter_enforced, response_headers_to_add, stat_prefix, token_bucket)")),
                new Case("a bucketless filter without a route patch", HEAD + REFS + patch("stat_prefix: x\n"),
                        List.of(E + "spec.configPatches[0].patch.value.typed_config.value.token_bucket: token_bucket: missing "
                                + "(expected: {max_tokens, tokens_per_fill, fill_interval})")));
    }

    @ParameterizedTest
    @MethodSource("refusedRoutes")
    void otherRouteShapesRejectTheWholeObject(Case c) {
        Result r = translate(c.yaml());
        assertThat(r.problems()).containsExactlyElementsOf(c.problems());
        assertThat(r.resources().localRateLimits()).isEmpty();
    }
}
