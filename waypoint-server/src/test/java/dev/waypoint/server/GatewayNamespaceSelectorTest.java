package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.Target;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code allowedRoutes.namespaces.from: Selector} from manifest to binding: the Gateway is translated
 * as written and the Services of the namespaces its selector matches are served, the others not.
 * Three namespaces use the waypoint through their label: {@code team-a} (team=a, env=prod),
 * {@code team-b} (team=b, env=dev) and {@code plain} (no other label); the Service of {@code loose},
 * a namespace without its Namespace object, uses it through its own label.
 */
class GatewayNamespaceSelectorTest {
    static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            matchLabels                       | {matchLabels: {team: a}}                                                              | team-a
            matchExpressions In               | {matchExpressions: [{key: team, operator: In, values: [a, b]}]}                       | team-a,team-b
            matchExpressions NotIn            | {matchExpressions: [{key: env, operator: NotIn, values: [dev]}]}                      | team-a,plain,loose
            matchExpressions Exists           | {matchExpressions: [{key: team, operator: Exists}]}                                   | team-a,team-b
            matchExpressions DoesNotExist     | {matchExpressions: [{key: team, operator: DoesNotExist}]}                             | plain,loose
            matchLabels AND matchExpressions  | {matchLabels: {env: dev}, matchExpressions: [{key: team, operator: In, values: [a, b]}]} | team-b
            empty selector                    | {}                                                                                    | team-a,team-b,plain,loose
            by name (the API server's label)  | {matchLabels: {kubernetes.io/metadata.name: team-a}}                                  | team-a
            by names, one without its object  | {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [plain, loose]}]} | plain,loose
            """)
    void theServicesOfTheSelectedNamespacesAreBound(String name, String selector, String bound) throws IOException {
        Files.writeString(dir.resolve("mesh.yaml"), """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint, namespace: istio-system}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners:
                  - name: mesh
                    port: 15008
                    protocol: HBONE
                    allowedRoutes: {namespaces: {from: Selector, selector: %s}}
                %s%s%s""".formatted(selector, namespace("team-a", "team: a, env: prod", "10.96.0.1"),
                namespace("team-b", "team: b, env: dev", "10.96.0.2"), namespace("plain", null, "10.96.0.3")) + """
                ---
                # namespace loose has no Namespace object: its Service uses the waypoint itself
                apiVersion: v1
                kind: Service
                metadata:
                  name: web
                  namespace: loose
                  labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-system}
                spec:
                  clusterIP: 10.96.0.4
                  ports: [{name: http, port: 80}]
                """);
        List<WireObject> wire = ConfigSources.yamlDirectory(dir).read().files().stream()
                .flatMap(f -> f.objects().stream()).toList();
        Diagnostics diagnostics = new Diagnostics();
        ResourceSet rs = ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", ResourceTranslator.translate(wire, diagnostics));
        TargetTable table = new TargetTableCompiler().compile(rs, diagnostics);

        assertThat(diagnostics.problems()).as("problems").isEmpty();
        Map<String, Boolean> served = new LinkedHashMap<>();
        served.put("team-a", TargetResolver.resolve("10.96.0.1:80", table) instanceof Target);
        served.put("team-b", TargetResolver.resolve("10.96.0.2:80", table) instanceof Target);
        served.put("plain", TargetResolver.resolve("10.96.0.3:80", table) instanceof Target);
        served.put("loose", TargetResolver.resolve("10.96.0.4:80", table) instanceof Target);
        List<String> expected = List.of(bound.split(","));
        served.forEach((ns, isServed) -> assertThat(isServed).as("%s served", ns).isEqualTo(expected.contains(ns)));
    }

    private static String namespace(String name, String labels, String vip) {
        return """
                ---
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: %1$s
                  labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-system%2$s}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: %1$s}
                spec:
                  clusterIP: %3$s
                  ports: [{name: http, port: 80}]
                """.formatted(name, labels == null ? "" : ", " + labels, vip);
    }
}
