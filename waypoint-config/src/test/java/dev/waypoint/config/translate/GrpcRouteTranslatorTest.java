package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteMatchSpec.GrpcMethodMatch;
import dev.waypoint.model.gateway.RouteMatchSpec.PathType;
import dev.waypoint.model.gateway.RouteMatchSpec.ValueType;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** GRPCRoute → an HttpRouteSpec of kind GRPCRoute whose method matches are path matches (as Istio converts them). */
class GrpcRouteTranslatorTest {
    @TempDir
    Path dir;

    private record Result(ResourceSet resources, List<String> problems) {}

    private Result translate(String yaml) throws IOException {
        Files.writeString(dir.resolve("r.yaml"), yaml);
        DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
        List<WireObject> wire = content.files().stream().flatMap(f -> f.objects().stream()).toList();
        Diagnostics diagnostics = new Diagnostics();
        List<TranslatedObject> objects = ResourceTranslator.translate(wire, diagnostics);
        return new Result(ResourceTranslator.resourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local", objects),
                diagnostics.problems().stream().map(Object::toString).toList());
    }

    private static String route(String rule) {
        return """
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata: {name: g, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: echo, port: 7070}]
                  rules:
                """ + rule.indent(2);
    }

    @ParameterizedTest(name = "{0} service={1} method={2} -> {3} {4}")
    @CsvSource(nullValues = "-", value = {
            "Exact, pkg.Echo, Call, EXACT, /pkg.Echo/Call",
            "Exact, pkg.Echo, -, PATH_PREFIX, /pkg.Echo",
            "Exact, -, Call, REGULAR_EXPRESSION, /[^/]+/\\QCall\\E",
            "RegularExpression, pkg\\..*, -, REGULAR_EXPRESSION, /(?:pkg\\..*)/[^/]+",
            "RegularExpression, -, Call.*, REGULAR_EXPRESSION, /[^/]+/(?:Call.*)"})
    void methodMatchesBecomePathMatches(String type, String service, String method, PathType pathType, String path)
            throws IOException {
        String m = "{type: " + type + (service != null ? ", service: '" + service + "'" : "") + (method != null ? ", method: '" + method + "'" : "") + "}";
        Result r = translate(route("""
                - matches:
                  - method: %s
                    headers: [{name: version, value: two}]
                  backendRefs: [{name: echo-v1, port: 7070}]
                """.formatted(m)));
        assertThat(r.problems()).isEmpty();
        HttpRouteSpec g = r.resources().httpRoutes().get(0);
        assertThat(g.kind()).isEqualTo("GRPCRoute");
        assertThat(g.grpc()).isTrue();
        RouteMatchSpec match = g.rules().get(0).matches().get(0);
        assertThat(match.path()).isEqualTo(new RouteMatchSpec.PathMatch(pathType, path));
        assertThat(match.grpcMethod()).isEqualTo(new GrpcMethodMatch(ValueType.valueOf(type.equals("Exact") ? "EXACT"
                : "REGULAR_EXPRESSION"), service, method));
        assertThat(match.headers()).containsExactly(new RouteMatchSpec.ValueMatch(ValueType.EXACT, "version", "two"));
    }

    @Test
    void aRuleWithoutMatchesMatchesEveryCallAndKeepsFiltersAndWeights() throws IOException {
        Result r = translate(route("""
                - filters:
                  - type: RequestHeaderModifier
                    requestHeaderModifier: {set: [{name: x-a, value: "1"}]}
                  backendRefs: [{name: echo-v1, port: 7070, weight: 70}, {name: echo-v2, port: 7070, weight: 30}]
                """));
        assertThat(r.problems()).isEmpty();
        RouteRuleSpec rule = r.resources().httpRoutes().get(0).rules().get(0);
        assertThat(rule.matches()).containsExactly(RouteMatchSpec.any());
        assertThat(rule.filters()).singleElement().isInstanceOf(HttpFilterSpec.RequestHeaderModifier.class);
        assertThat(rule.backendRefs()).extracting(b -> b.weight()).containsExactly(70, 30);
    }

    @Test
    void whatTheGrpcRouteCrdRefusesIsAnErrorWithTheField() throws IOException {
        Result r = translate(route("""
                - matches:
                  - method: {type: Exact}
                  - method: {service: "not a service"}
                  - method: {type: Prefix, method: Call}
                  filters:
                  - type: URLRewrite
                    urlRewrite: {hostname: h}
                  backendRefs: [{name: echo-v1, port: 7070}]
                """));
        assertThat(r.resources().httpRoutes()).isEmpty(); // the last good version (none here) keeps serving
        assertThat(r.problems()).anyMatch(p -> p.contains("spec.rules[0].matches[0].method") && p.contains("one or both of service and method"))
                .anyMatch(p -> p.contains("spec.rules[0].matches[1].method.service") && p.contains("a gRPC service name"))
                .anyMatch(p -> p.contains("spec.rules[0].matches[2].method.type") && p.contains("Exact or RegularExpression"))
                .anyMatch(p -> p.contains("spec.rules[0].filters[0].type") && p.contains("a GRPCRoute filter"));
    }
}
