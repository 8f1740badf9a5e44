package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.L4RouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class L4RouteTranslatorTest {
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

    @Test
    void aTcpRouteWithItsDefaults() throws IOException {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: TCPRoute
                metadata: {name: db, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
                spec:
                  parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
                  rules:
                  - name: main
                    backendRefs:
                    - {name: db-v1, port: 5432, weight: 9}
                    - {name: db-v2, namespace: other, port: 5432}
                """);
        assertThat(r.problems()).isEmpty();
        L4RouteSpec route = r.resources().l4Routes().get(0);
        assertThat(route.kind()).isEqualTo(L4RouteSpec.Kind.TCP);
        assertThat(route.creationTimestamp()).isEqualTo(Instant.parse("2024-01-01T00:00:00Z"));
        assertThat(route.parentRefs()).containsExactly(new ParentRefSpec("", "Service", "apps", "db", 5432, null));
        assertThat(route.rules()).containsExactly(new L4RouteSpec.Rule("main", List.of(
                new BackendRefSpec("", "Service", "apps", "db-v1", 5432, 9, List.of()),
                new BackendRefSpec("", "Service", "other", "db-v2", 5432, 1, List.of()))));
        assertThat(route.hostnames()).isEmpty();
    }

    @Test
    void tlsRoutesInBothVersions() throws IOException {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: TLSRoute
                metadata: {name: a, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: front}]
                  rules: [{backendRefs: [{name: a, port: 443}]}]
                ---
                apiVersion: gateway.networking.k8s.io/v1alpha3
                kind: TLSRoute
                metadata: {name: b, namespace: apps}
                spec:
                  parentRefs: [{group: "", kind: Service, name: front, port: 443}]
                  hostnames: [API.example.com, "*.example.net"]
                  rules: [{backendRefs: [{group: networking.istio.io, kind: Hostname, name: api.example.com, port: 443}]}]
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().l4Routes()).extracting(L4RouteSpec::kind).containsOnly(L4RouteSpec.Kind.TLS);
        assertThat(r.resources().l4Routes().get(0).hostnames()).isEmpty();
        assertThat(r.resources().l4Routes().get(1).hostnames()).containsExactly("api.example.com", "*.example.net");
        assertThat(r.resources().l4Routes().get(1).rules().get(0).backendRefs().get(0).kind()).isEqualTo("Hostname");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            no rules                 | gateway.networking.k8s.io/v1alpha2 | TCPRoute | rules: []                                            | spec.rules: rules: missing (expected: 1-16 rules)
            no backendRefs           | gateway.networking.k8s.io/v1alpha2 | TCPRoute | rules: [{}]                                          | spec.rules[0].backendRefs: backendRefs: missing
            TCPRoute with hostnames  | gateway.networking.k8s.io/v1alpha2 | TCPRoute | hostnames: [a.b]\\n  rules: [{backendRefs: [{name: x, port: 1}]}] | spec.hostnames: hostnames: unknown field
            an IP as SNI             | gateway.networking.k8s.io/v1alpha2 | TLSRoute | hostnames: [10.0.0.1]\\n  rules: [{backendRefs: [{name: x, port: 1}]}] | spec.hostnames[0]: hostnames[0]: 10.0.0.1 (expected: a DNS name
            a wildcard inside        | gateway.networking.k8s.io/v1alpha2 | TLSRoute | hostnames: ['a.*.b']\\n  rules: [{backendRefs: [{name: x, port: 1}]}] | spec.hostnames[0]
            v1alpha3 needs hostnames | gateway.networking.k8s.io/v1alpha3 | TLSRoute | rules: [{backendRefs: [{name: x, port: 1}]}]         | spec.hostnames: hostnames: missing
            filters on a TCP rule    | gateway.networking.k8s.io/v1alpha2 | TCPRoute | rules: [{filters: [], backendRefs: [{name: x, port: 1}]}] | spec.rules[0].filters: filters: unknown field
            a bad weight             | gateway.networking.k8s.io/v1alpha2 | TCPRoute | rules: [{backendRefs: [{name: x, port: 1, weight: -1}]}] | spec.rules[0].backendRefs[0].weight
            v1 TCPRoute: one rule    | gateway.networking.k8s.io/v1       | TCPRoute | rules: [{backendRefs: [{name: x, port: 1}]}, {backendRefs: [{name: y, port: 1}]}] | spec.rules: rules: 2 entries (expected: exactly 1 rule in v1)
            v1 TLSRoute: one rule    | gateway.networking.k8s.io/v1       | TLSRoute | hostnames: [a.b]\\n  rules: [{backendRefs: [{name: x, port: 1}]}, {backendRefs: [{name: y, port: 1}]}] | spec.rules: rules: 2 entries (expected: exactly 1 rule in v1)
            v1 TLSRoute: hostnames   | gateway.networking.k8s.io/v1       | TLSRoute | rules: [{backendRefs: [{name: x, port: 1}]}]         | spec.hostnames: hostnames: missing
            """)
    void badRoutesAreDropped(String name, String apiVersion, String kind, String spec, String expected) throws IOException {
        Result r = translate("apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: r, namespace: apps}\n"
                + "spec:\n  parentRefs: [{group: \"\", kind: Service, name: s}]\n  " + spec.replace("\\n", "\n") + "\n");
        assertThat(r.resources().l4Routes()).isEmpty();
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains(kind + " apps/r").contains(expected));
    }

    @Test
    void aTcpRouteAtAnotherVersionIsNotApplied() throws IOException {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1beta1
                kind: TCPRoute
                metadata: {name: r, namespace: apps}
                spec: {rules: [{backendRefs: [{name: x, port: 1}]}]}
                """);
        assertThat(r.resources().l4Routes()).isEmpty();
        assertThat(r.problems()).singleElement().asString().contains("gateway.networking.k8s.io/v1alpha2 or gateway.networking.k8s.io/v1; the object is not applied");
    }
}
