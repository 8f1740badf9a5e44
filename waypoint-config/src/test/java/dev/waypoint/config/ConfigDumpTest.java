package dev.waypoint.config;

import static dev.waypoint.config.TestCompilers.TRUST_DOMAIN;
import static dev.waypoint.config.TestCompilers.WAYPOINT;
import static dev.waypoint.config.TestCompilers.compilers;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.ConfigSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigDumpTest {
    @TempDir
    Path dir;

    private ConfigSnapshot snapshot(String yaml) throws IOException {
        Files.writeString(dir.resolve("m.yaml"), yaml);
        DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
        return new GenerationBuilder(WAYPOINT, TRUST_DOMAIN, compilers()).build(7, content.files(), LastGood.NONE)
                .snapshot();
    }

    @Test
    void dumpsEverySectionAndTheExtraOnes() throws IOException {
        ConfigSnapshot s = snapshot("""
                apiVersion: v1
                kind: Service
                metadata: {name: reviews, namespace: bookinfo, labels: {b: "2", a: "1"}}
                spec:
                  clusterIP: 10.96.0.10
                  selector: {app: reviews}
                  ports:
                  - {name: http, port: 9080, targetPort: http-alt}
                  - {port: 9090, appProtocol: grpc}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: reviews-1, namespace: bookinfo, labels: {app: reviews}}
                spec: {serviceAccountName: reviews}
                status: {podIP: 10.244.0.5}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: ext-1, labels: {kubernetes.io/service-name: ext}}
                addressType: IPv4
                endpoints: [{addresses: [10.1.0.1], targetRef: {kind: Pod, name: x}}]
                ports: [{port: 80}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: bad}
                status: {podIP: nope}
                """);
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("bindings", Map.of("bookinfo/reviews", List.of("default/waypoint", 1, true)));

        String json = ConfigDump.toJson(s, extra);

        assertThat(json).isEqualToNormalizingNewlines("""
                {
                  "generation" : 7,
                  "services" : [ {
                    "name" : "bookinfo/reviews",
                    "vips" : [ "10.96.0.10" ],
                    "ports" : [ {
                      "name" : "http",
                      "port" : 9080,
                      "protocol" : "HTTP",
                      "targetPort" : "http-alt"
                    }, {
                      "name" : "",
                      "port" : 9090,
                      "protocol" : "GRPC",
                      "targetPort" : 9090,
                      "appProtocol" : "grpc"
                    } ],
                    "selector" : {
                      "app" : "reviews"
                    },
                    "labels" : {
                      "a" : "1",
                      "b" : "2"
                    },
                    "source" : "m.yaml:1"
                  } ],
                  "workloads" : [ {
                    "name" : "bookinfo/reviews-1",
                    "ip" : "10.244.0.5",
                    "serviceAccount" : "reviews",
                    "ready" : true,
                    "terminating" : false,
                    "labels" : {
                      "app" : "reviews"
                    },
                    "source" : "m.yaml:11"
                  } ],
                  "endpointSlices" : [ {
                    "name" : "default/ext-1",
                    "service" : "default/ext",
                    "endpoints" : [ {
                      "addresses" : [ "10.1.0.1" ],
                      "ready" : true,
                      "pod" : "default/x"
                    } ],
                    "ports" : [ {
                      "name" : "",
                      "port" : 80
                    } ],
                    "source" : "m.yaml:17"
                  } ],
                  "gateways" : [ {
                    "name" : "default/waypoint",
                    "className" : "istio-waypoint",
                    "listeners" : [ {
                      "name" : "mesh",
                      "port" : 15008,
                      "protocol" : "HBONE"
                    } ],
                    "allowedNamespaces" : "Same",
                    "namespaceSelector" : { },
                    "source" : "m.yaml:24"
                  } ],
                  "diagnostics" : [ "m.yaml:31: Pod default/bad: status.podIP: podIP: nope (expected: an IPv4 or IPv6 literal)" ],
                  "bindings" : {
                    "bookinfo/reviews" : [ "default/waypoint", 1, true ]
                  }
                }""");
    }

    @Test
    void aServiceWithoutSelectorDumpsNull() throws IOException {
        ConfigSnapshot s = snapshot("""
                apiVersion: v1
                kind: Service
                metadata: {name: ext}
                """);

        assertThat(ConfigDump.toJson(s, Map.of())).contains("\"selector\" : null").contains("\"vips\" : [ ]");
    }

    @Test
    void aGatewayNamespaceSelectorDumpsAsWritten() throws IOException {
        ConfigSnapshot s = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners:
                  - name: mesh
                    port: 15008
                    protocol: HBONE
                    allowedRoutes:
                      namespaces:
                        from: Selector
                        selector:
                          matchLabels: {mesh: shared}
                          matchExpressions:
                          - {key: team, operator: In, values: [a, b]}
                          - {key: legacy, operator: DoesNotExist}
                """);

        assertThat(ConfigDump.toJson(s, Map.of())).contains("""
                    "allowedNamespaces" : "Selector",
                    "namespaceSelector" : {
                      "matchLabels" : {
                        "mesh" : "shared"
                      },
                      "matchExpressions" : [ {
                        "key" : "team",
                        "operator" : "In",
                        "values" : [ "a", "b" ]
                      }, {
                        "key" : "legacy",
                        "operator" : "DoesNotExist"
                      } ]
                    },
                """);
    }

    @Test
    void anExtraSectionCannotReplaceABuiltInOne() throws IOException {
        ConfigSnapshot s = snapshot("");

        assertThatThrownBy(() -> ConfigDump.toJson(s, Map.of("services", List.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("extraSections: services (expected: not one of");
    }
}
