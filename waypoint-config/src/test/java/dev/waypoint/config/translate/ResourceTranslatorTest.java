package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.OtherResource;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class ResourceTranslatorTest {
    private static final NamespacedName WAYPOINT = new NamespacedName("default", "waypoint");

    @TempDir
    Path dir;

    private record Result(List<TranslatedObject> objects, ResourceSet resources, List<String> problems) {}

    private Result translate(Map<String, String> files) {
        try {
            for (var e : files.entrySet()) {
                Files.writeString(dir.resolve(e.getKey()), e.getValue());
            }
            DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
            List<WireObject> wire = content.files().stream().flatMap(f -> f.objects().stream()).toList();
            Diagnostics diagnostics = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(wire, diagnostics);
            return new Result(objects, ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", objects),
                    diagnostics.problems().stream().map(Object::toString).toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Result translate(String yaml) {
        return translate(Map.of("m.yaml", yaml));
    }

    private static InetAddress ip(String s) {
        return HostPort.parseIp(s);
    }

    // ---- the error table: one object per case, its fate and every problem, rendered

    record Case(String name, String yaml, boolean kept, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final String SVC = """
            apiVersion: v1
            kind: Service
            metadata:
              name: a
            """;
    static final String DNS = "a DNS-1123 name: lowercase alphanumerics, '-' or '.'";
    static final String SEL = "m.yaml:1: Gateway default/w: spec.listeners[0].allowedRoutes.namespaces.selector.";
    static final String LABEL_KEY = "a label key: an optional DNS subdomain prefix and /, then 1-63 characters "
            + "[A-Za-z0-9_.-] starting and ending alphanumeric";
    static final String LABEL_VALUE = "a label value: at most 63 characters [A-Za-z0-9_.-] starting and ending "
            + "alphanumeric, or empty";

    static Stream<Case> invalidObjects() {
        return Stream.of(
                new Case("no kind", """
                        apiVersion: v1
                        metadata: {name: a}
                        """, false, List.of("m.yaml:1: - default/a: kind: kind: missing (expected: a kind such as Service)")),
                new Case("no apiVersion", """
                        kind: Service
                        metadata: {name: a, namespace: ns}
                        """, false, List.of("m.yaml:1: Service ns/a: apiVersion: apiVersion: missing (expected: a group/version such as v1)")),
                new Case("no metadata.name", """
                        apiVersion: v1
                        kind: Service
                        metadata: {namespace: ns}
                        """, false, List.of("m.yaml:1: Service -: metadata.name: name: missing (expected: " + DNS + ")")),
                new Case("name not DNS-1123", """
                        apiVersion: v1
                        kind: Pod
                        metadata: {name: My_Pod}
                        """, false, List.of("m.yaml:1: Pod default/My_Pod: metadata.name: name: My_Pod (expected: " + DNS + ")")),
                new Case("namespace not a DNS-1123 label", """
                        apiVersion: v1
                        kind: Pod
                        metadata: {name: p, namespace: a.b}
                        """, false, List.of("m.yaml:1: Pod a.b/p: metadata.namespace: namespace: a.b (expected: a DNS-1123 label: lowercase alphanumerics or '-')")),
                new Case("label values must be strings", """
                        apiVersion: v1
                        kind: Namespace
                        metadata:
                          name: n
                          labels:
                            version: 1
                            app.kubernetes.io/part-of: true
                            ok: "1"
                        """, false, List.of(
                        "m.yaml:1: Namespace /n: metadata.labels.version: version: 1 (expected: a string; 1 unquoted is a number in YAML: quote it)",
                        "m.yaml:1: Namespace /n: metadata.labels['app.kubernetes.io/part-of']: app.kubernetes.io/part-of: true (expected: a string; true unquoted is a boolean in YAML (as are yes, no, on and off): quote it)")),
                new Case("List whose items are not a list", """
                        apiVersion: v1
                        kind: List
                        items: {a: b}
                        """, false, List.of("m.yaml:1: List -: items: items: {\"a\":\"b\"} (expected: a list of objects)")),
                new Case("spec not an object", SVC + "spec: [1]\n", false,
                        List.of("m.yaml:1: Service default/a: spec: spec: [1] (expected: an object)")),
                new Case("port 0 in the second entry", SVC + """
                        spec:
                          ports:
                          - port: 80
                          - port: 0
                        """, false, List.of("m.yaml:1: Service default/a: spec.ports[1].port: port: 0 (expected: 1-65535)")),
                new Case("port missing, port a string, port too big", SVC + """
                        spec:
                          ports:
                          - name: http
                          - port: "80"
                          - port: 65536
                        """, false, List.of(
                        "m.yaml:1: Service default/a: spec.ports[0].port: port: missing (expected: 1-65535)",
                        "m.yaml:1: Service default/a: spec.ports[1].port: port: \"80\" (expected: 1-65535)",
                        "m.yaml:1: Service default/a: spec.ports[2].port: port: 65536 (expected: 1-65535)")),
                new Case("duplicate port", SVC + """
                        spec:
                          ports:
                          - {name: http, port: 80}
                          - {name: web, port: 80}
                        """, false, List.of("m.yaml:1: Service default/a: spec.ports[1].port: port: 80 (expected: unique; spec.ports[0] has it)")),
                new Case("same number over UDP is no duplicate, and is dropped", SVC + """
                        spec:
                          ports:
                          - {name: dns-tcp, port: 53}
                          - {name: dns, port: 53, protocol: UDP}
                        """, true, List.of("m.yaml:1: warning: Service default/a: spec.ports[1].protocol: protocol: UDP (expected: TCP; the port is dropped)")),
                new Case("unknown protocol", SVC + """
                        spec:
                          ports:
                          - {port: 80, protocol: QUIC}
                        """, false, List.of("m.yaml:1: Service default/a: spec.ports[0].protocol: protocol: QUIC (expected: TCP, UDP or SCTP)")),
                new Case("bad targetPorts", SVC + """
                        spec:
                          ports:
                          - {port: 80, targetPort: 70000}
                          - {port: 81, targetPort: "8080"}
                          - {port: 82, targetPort: Http}
                        """, false, List.of(
                        "m.yaml:1: Service default/a: spec.ports[0].targetPort: targetPort: 70000 (expected: 1-65535 or a port name)",
                        "m.yaml:1: Service default/a: spec.ports[1].targetPort: targetPort: \"8080\" (expected: 1-65535 or a port name)",
                        "m.yaml:1: Service default/a: spec.ports[2].targetPort: targetPort: \"Http\" (expected: 1-65535 or a port name)")),
                new Case("port name not a DNS-1123 label", SVC + """
                        spec:
                          ports:
                          - {name: HTTP, port: 80}
                        """, false, List.of("m.yaml:1: Service default/a: spec.ports[0].name: name: HTTP (expected: a DNS-1123 label: lowercase alphanumerics or '-')")),
                new Case("clusterIP not an IP", SVC + """
                        spec:
                          clusterIP: 10.0.0.300
                        """, false, List.of("m.yaml:1: Service default/a: spec.clusterIP: clusterIP: 10.0.0.300 (expected: an IPv4 or IPv6 literal)")),
                new Case("clusterIPs[1] not an IP", SVC + """
                        spec:
                          clusterIP: 10.0.0.1
                          clusterIPs: [10.0.0.1, "fd00::zz"]
                        """, false, List.of("m.yaml:1: Service default/a: spec.clusterIPs[1]: clusterIPs: fd00::zz (expected: an IPv4 or IPv6 literal)")),
                new Case("selector value not a string", SVC + """
                        spec:
                          selector: {app: 7}
                        """, false, List.of("m.yaml:1: Service default/a: spec.selector.app: app: 7 (expected: a string; 7 unquoted is a number in YAML: quote it)")),
                new Case("pod IP malformed", """
                        apiVersion: v1
                        kind: Pod
                        metadata: {name: p}
                        status: {podIP: 10.0.0}
                        """, false, List.of("m.yaml:1: Pod default/p: status.podIP: podIP: 10.0.0 (expected: an IPv4 or IPv6 literal)")),
                new Case("container port 0", """
                        apiVersion: v1
                        kind: Pod
                        metadata: {name: p}
                        spec:
                          containers:
                          - name: app
                            ports:
                            - {name: http, containerPort: 8080}
                            - {name: admin, containerPort: 0}
                        """, false, List.of("m.yaml:1: Pod default/p: spec.containers[0].ports[1].containerPort: containerPort: 0 (expected: 1-65535)")),
                new Case("duplicate container port name: first wins", """
                        apiVersion: v1
                        kind: Pod
                        metadata: {name: p}
                        spec:
                          containers:
                          - ports: [{name: http, containerPort: 8080}]
                          - ports: [{name: http, containerPort: 9090}]
                        """, true, List.of("m.yaml:1: warning: Pod default/p: spec.containers[1].ports[0].name: name: http (expected: unique in the pod; the first one is used)")),
                new Case("slice without service-name label", """
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {name: s}
                        addressType: IPv4
                        """, false, List.of("m.yaml:1: EndpointSlice default/s: metadata.labels['kubernetes.io/service-name']: kubernetes.io/service-name: missing (expected: the name of the Service this slice belongs to)")),
                new Case("FQDN slice is skipped", """
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {name: s, labels: {kubernetes.io/service-name: svc}}
                        addressType: FQDN
                        endpoints: [{addresses: [example.com]}]
                        """, false, List.of("m.yaml:1: warning: EndpointSlice default/s: addressType: addressType: FQDN (expected: IPv4 or IPv6; the slice is skipped)")),
                new Case("slice addresses", """
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {name: s, labels: {kubernetes.io/service-name: svc}}
                        addressType: IPv4
                        endpoints:
                        - addresses: [10.0.0.1, 10.0.1]
                        - addresses: ["fd00::1"]
                          conditions: {ready: "yes"}
                        - {}
                        ports:
                        - {port: 0}
                        """, false, List.of(
                        "m.yaml:1: EndpointSlice default/s: endpoints[0].addresses[1]: addresses: 10.0.1 (expected: an IPv4 or IPv6 literal)",
                        "m.yaml:1: EndpointSlice default/s: endpoints[1].addresses[0]: addresses: fd00::1 (expected: an IPv4 literal (addressType: IPv4))",
                        "m.yaml:1: EndpointSlice default/s: endpoints[1].conditions.ready: ready: \"yes\" (expected: true or false)",
                        "m.yaml:1: EndpointSlice default/s: endpoints[2].addresses: addresses: missing (expected: 1 or more IP literals)",
                        "m.yaml:1: EndpointSlice default/s: ports[0].port: port: 0 (expected: 1-65535)")),
                new Case("unknown addressType", """
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {name: s, labels: {kubernetes.io/service-name: svc}}
                        addressType: IPv5
                        """, false, List.of("m.yaml:1: EndpointSlice default/s: addressType: addressType: IPv5 (expected: IPv4, IPv6 or FQDN)")),
                new Case("gateway without class, bad listener and from", """
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: Gateway
                        metadata: {name: w}
                        spec:
                          listeners:
                          - name: mesh
                            port: 15008
                            protocol: HBONE
                            allowedRoutes: {namespaces: {from: Everyone}}
                          - {name: other, port: -1, protocol: HTTP}
                        """, false, List.of(
                        "m.yaml:1: Gateway default/w: spec.gatewayClassName: gatewayClassName: missing (expected: a GatewayClass name such as istio-waypoint)",
                        "m.yaml:1: Gateway default/w: spec.listeners[1].port: port: -1 (expected: 1-65535)",
                        "m.yaml:1: Gateway default/w: spec.listeners[0].allowedRoutes.namespaces.from: from: Everyone (expected: All, Same or Selector)")),
                new Case("gateway selector with an unknown operator", """
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: Gateway
                        metadata: {name: w}
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
                                  matchExpressions:
                                  - {key: team, operator: In, values: [a]}
                                  - {key: env, operator: Equals, values: [prod]}
                                  - {key: tier, operator: exists}
                        """, false, List.of(
                        SEL + "matchExpressions[1].operator: operator: Equals (expected: In, NotIn, Exists or DoesNotExist)",
                        SEL + "matchExpressions[2].operator: operator: exists (expected: In, NotIn, Exists or DoesNotExist)")),
                new Case("gateway selector values that do not fit the operator", """
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: Gateway
                        metadata: {name: w}
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
                                  matchExpressions:
                                  - {key: env, operator: In}
                                  - {key: env, operator: NotIn, values: []}
                                  - {key: env, operator: Exists, values: [prod]}
                                  - {key: env, operator: DoesNotExist, values: [x, y]}
                                  - {key: env, operator: DoesNotExist, values: []}
                        """, false, List.of(
                        SEL + "matchExpressions[0].values: values: missing (expected: one or more label values for In)",
                        SEL + "matchExpressions[1].values: values: [] (expected: one or more label values for NotIn)",
                        SEL + "matchExpressions[2].values: values: [\"prod\"] (expected: no values for Exists)",
                        SEL + "matchExpressions[3].values: values: [\"x\",\"y\"] (expected: no values for DoesNotExist)")),
                new Case("gateway selector keys, values and fields", """
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: Gateway
                        metadata: {name: w}
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
                                  matchLabel: {team: a}
                                  matchLabels: {Team A: a, env: not ok!, example.com/team: a}
                                  matchExpressions:
                                  - {operator: Exists}
                                  - {key: -bad, operator: Exists}
                                  - {key: env, operator: In, values: [1, ""]}
                                  - {key: env, operator: In, values: [a], value: b}
                                  - env
                        """, false, List.of(
                        SEL + "matchLabel: matchLabel: unknown field (expected: one of matchExpressions, matchLabels)",
                        SEL + "matchLabels['Team A']: matchLabels: Team A (expected: " + LABEL_KEY + ")",
                        SEL + "matchLabels.env: env: not ok! (expected: " + LABEL_VALUE + ")",
                        SEL + "matchExpressions[0].key: key: missing (expected: " + LABEL_KEY + ")",
                        SEL + "matchExpressions[1].key: key: -bad (expected: " + LABEL_KEY + ")",
                        SEL + "matchExpressions[2].values[0]: values[0]: 1 (expected: " + LABEL_VALUE
                                + "; 1 unquoted is a number in YAML: quote it)",
                        SEL + "matchExpressions[3].value: value: unknown field (expected: one of key, operator, values)",
                        SEL + "matchExpressions[4]: matchExpressions[4]: env (expected: an object)")),
                new Case("gateway selector missing", """
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: Gateway
                        metadata: {name: w}
                        spec:
                          gatewayClassName: istio-waypoint
                          listeners:
                          - {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: Selector}}}
                        """, false, List.of("m.yaml:1: Gateway default/w: spec.listeners[0].allowedRoutes.namespaces.selector: selector: missing (expected: a label selector when from is Selector)")),
                new Case("unknown kind of a group read here (a typo)", """
                        apiVersion: gateway.networking.k8s.io/v1
                        kind: HTTPRoutes
                        metadata: {name: r}
                        """, true, List.of("m.yaml:1: warning: HTTPRoutes default/r: kind: kind: HTTPRoutes (expected: a kind of gateway.networking.k8s.io such as Gateway, HTTPRoute, GRPCRoute, TCPRoute, TLSRoute, ReferenceGrant; the object is not applied)")),
                new Case("a kind of the API not read here: no warning", """
                        apiVersion: security.istio.io/v1
                        kind: PeerAuthentication
                        metadata: {name: v}
                        spec: {mtls: {mode: STRICT}}
                        """, true, List.of()),
                new Case("a VirtualService: warned, not applied", """
                        apiVersion: networking.istio.io/v1
                        kind: VirtualService
                        metadata: {name: v}
                        spec: {hosts: [a]}
                        """, true, List.of("m.yaml:1: warning: VirtualService default/v: kind: VirtualService is not applied by this waypoint: route with an HTTPRoute (or GRPCRoute) whose parentRef is the Service (Gateway API's mesh profile)")),
                new Case("a kind of a group not read: no warning", """
                        apiVersion: apps/v1
                        kind: Deploymnt
                        metadata: {name: d}
                        """, true, List.of()),
                new Case("unknown top-level field of a kind read here", """
                        apiVersion: v1
                        kind: Service
                        metadata: {name: s}
                        sepc: {clusterIP: 10.0.0.1}
                        spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
                        """, true, List.of("m.yaml:1: warning: Service default/s: sepc: sepc: unknown field, ignored (expected: one of apiVersion, kind, metadata, spec, status)")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidObjects")
    void reportsEveryProblemWithItsFieldPath(Case c) {
        Result r = translate(c.yaml());

        assertThat(r.problems()).containsExactlyElementsOf(c.problems());
        assertThat(r.objects()).singleElement().satisfies(t -> {
            assertThat(t.kept()).as("kept").isEqualTo(c.kept());
            assertThat(t.rejected()).as("rejected").isEqualTo(c.problems().stream().anyMatch(p -> !p.contains(" warning: ")));
        });
    }

    @Test
    void problemsPointAtTheLineOfTheirDocumentOrListItem() {
        Result r = translate("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: ok}
                ---
                # the broken one
                apiVersion: v1
                kind: Service
                metadata: {name: a}
                spec: {ports: [{port: 0}]}
                ---
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Pod
                  metadata: {name: p1}
                - apiVersion: v1
                  kind: Pod
                  metadata: {name: p2}
                  status: {podIP: nope}
                """);

        assertThat(r.problems()).containsExactly(
                "m.yaml:6: Service default/a: spec.ports[0].port: port: 0 (expected: 1-65535)",
                "m.yaml:17: Pod default/p2: status.podIP: podIP: nope (expected: an IPv4 or IPv6 literal)");
        assertThat(r.resources().namespaces()).extracting(NamespaceSpec::name).containsExactly("ok");
        assertThat(r.resources().services()).isEmpty();
        assertThat(r.resources().pods()).extracting(p -> p.name().name()).containsExactly("p1");
        assertThat(r.resources().pods().get(0).source()).isEqualTo(new SourceRef("m.yaml", 14));
    }

    @Test
    void aDuplicateIsAnErrorOnTheSecondAndTheFirstWins() {
        Result r = translate(Map.of(
                "a.yaml", SVC + "spec: {clusterIP: 10.0.0.1}\n",
                "b.yaml", """
                        apiVersion: v1
                        kind: Pod
                        metadata: {name: a}
                        ---
                        apiVersion: v1
                        kind: Service
                        metadata: {name: a, namespace: default}
                        spec: {clusterIP: 10.0.0.2}
                        """));

        assertThat(r.problems()).containsExactly(
                "b.yaml:5: Service default/a: metadata.name: name: default/a (expected: unique per kind; first defined at a.yaml:1)");
        assertThat(r.resources().services()).singleElement()
                .satisfies(s -> assertThat(s.clusterIps()).containsExactly(ip("10.0.0.1")));
        assertThat(r.resources().pods()).hasSize(1); // another kind: no clash
    }

    // ---- what valid objects become

    @Test
    void service() {
        Result r = translate("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: reviews
                  namespace: bookinfo
                  labels: {app: reviews}
                spec:
                  clusterIP: 10.96.0.10
                  clusterIPs: [10.96.0.10, "fd00::10"]
                  selector: {app: reviews}
                  ports:
                  - {name: http, port: 9080}
                  - {name: grpc-api, port: 9090, targetPort: grpc, appProtocol: kubernetes.io/h2c}
                  - {port: 3306, targetPort: 13306, protocol: TCP}
                """);

        assertThat(r.problems()).isEmpty();
        ServiceSpec s = r.resources().services().get(0);
        assertThat(s.name()).isEqualTo(new NamespacedName("bookinfo", "reviews"));
        assertThat(s.labels()).isEqualTo(Map.of("app", "reviews"));
        assertThat(s.clusterIps()).containsExactly(ip("10.96.0.10"), ip("fd00::10"));
        assertThat(s.selector()).isEqualTo(Map.of("app", "reviews"));
        assertThat(s.ports()).containsExactly(
                new ServicePortSpec("http", 9080, 9080, null, null),
                new ServicePortSpec("grpc-api", 9090, 0, "grpc", "kubernetes.io/h2c"),
                new ServicePortSpec("", 3306, 13306, null, null));
        assertThat(s.source()).isEqualTo(new SourceRef("m.yaml", 1));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            clusterIP None                | {clusterIP: None, selector: {app: a}}         | 0 | true
            clusterIPs None               | {clusterIPs: [None], selector: {}}            | 0 | false
            empty clusterIP               | {clusterIP: '', selector: null}               | 0 | false
            no clusterIP, no selector     | {type: ClusterIP}                             | 0 | false
            clusterIPs win over clusterIP | {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.2]} | 1 | false
            """)
    void headlessServicesAndSelectors(String name, String spec, int vips, boolean hasSelector) {
        Result r = translate(SVC + "spec: " + spec + "\n");

        assertThat(r.problems()).isEmpty();
        ServiceSpec s = r.resources().services().get(0);
        assertThat(s.clusterIps()).hasSize(vips);
        assertThat(s.selector() != null).as("selector present").isEqualTo(hasSelector);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            serviceAccountName wins   | {serviceAccountName: reviews, serviceAccount: old} | {phase: Running}                                   | reviews | true
            deprecated serviceAccount | {serviceAccount: old}                              | {phase: Running, conditions: [{type: Ready, status: 'True'}]} | old | true
            neither                   | {}                                                 | {}                                                 | default | true
            phase Succeeded           | {}                                                 | {phase: Succeeded}                                 | default | false
            phase Failed              | {}                                                 | {phase: Failed}                                    | default | false
            Ready False               | {}                                                 | {conditions: [{type: PodScheduled, status: 'False'}, {type: Ready, status: 'False'}]} | default | false
            Ready Unknown             | {}                                                 | {conditions: [{type: Ready, status: Unknown}]}     | default | true
            """)
    void podServiceAccountAndReadiness(String name, String spec, String status, String serviceAccount, boolean ready) {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata: {name: p, namespace: ns}
                spec: %s
                status: %s
                """.formatted(spec, status));

        assertThat(r.problems()).isEmpty();
        PodSpec p = r.resources().pods().get(0);
        assertThat(p.serviceAccount()).isEqualTo(serviceAccount);
        assertThat(p.ready()).isEqualTo(ready);
        assertThat(p.ip()).isNull();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            ordinary pod           | {}                                                         | {}                 | false | false | false | false
            deletionTimestamp      | {deletionTimestamp: '2026-01-02T03:04:05Z', deletionGracePeriodSeconds: 30} | {} | true | false | false | false
            hostNetwork            | {}                                                         | {hostNetwork: true} | false | true | false | false
            hostNetwork false      | {}                                                         | {hostNetwork: false} | false | false | false | false
            sidecar injected       | {annotations: {sidecar.istio.io/status: '{"containers":["istio-proxy"]}'}} | {} | false | false | true | false
            CNI redirected         | {annotations: {ambient.istio.io/redirection: enabled}}     | {}                 | false | false | false | true
            CNI pending            | {annotations: {ambient.istio.io/redirection: pending}}     | {}                 | false | false | false | false
            """)
    void podTerminationNetworkAndEnrollment(String name, String metadata, String spec, boolean terminating,
                                            boolean hostNetwork, boolean sidecar, boolean redirected) {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata: {name: p, namespace: ns%s}
                spec: %s
                status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: 'True'}]}
                """.formatted(metadata.equals("{}") ? "" : ", " + metadata.substring(1, metadata.length() - 1), spec));

        assertThat(r.problems()).isEmpty();
        PodSpec p = r.resources().pods().get(0);
        assertThat(p.terminating()).as("terminating").isEqualTo(terminating);
        assertThat(p.hostNetwork()).as("hostNetwork").isEqualTo(hostNetwork);
        assertThat(p.sidecar()).as("sidecar").isEqualTo(sidecar);
        assertThat(p.ambientRedirected()).as("ambientRedirected").isEqualTo(redirected);
        assertThat(p.ready()).as("Ready condition").isTrue();
        assertThat(p.healthy()).as("healthy").isEqualTo(!terminating);
    }

    @Test
    void aNonBooleanHostNetworkIsReported() {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata: {name: p, namespace: ns}
                spec: {hostNetwork: "yes"}
                """);
        assertThat(r.problems()).containsExactly(
                "m.yaml:1: Pod ns/p: spec.hostNetwork: hostNetwork: \"yes\" (expected: true or false)");
    }

    @Test
    void aPodsWorkloadComesFromItsControllingOwnerReference() {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: reviews-v1-7d9f8c6b5d-x2k4q
                  generateName: reviews-v1-7d9f8c6b5d-
                  namespace: bookinfo
                  labels: {app: reviews, pod-template-hash: 7d9f8c6b5d}
                  ownerReferences:
                  - {apiVersion: apps/v1, kind: ReplicaSet, name: reviews-v1-7d9f8c6b5d, uid: 1, controller: true, blockOwnerDeletion: true}
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().pods().get(0).workload())
                .isEqualTo(new dev.waypoint.model.mesh.WorkloadRef("Deployment", "reviews-v1"));
    }

    @Test
    void aPodWithoutOwnersIsItsOwnWorkload() {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata: {name: reviews-v1-7d9f8c6b5d-x2k4q, namespace: bookinfo}
                """);
        assertThat(r.resources().pods().get(0).workload())
                .isEqualTo(new dev.waypoint.model.mesh.WorkloadRef("Pod", "reviews-v1-7d9f8c6b5d-x2k4q"));
    }

    @Test
    void anOwnerReferenceWithoutKindIsAnError() {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: p
                  generateName: p-
                  ownerReferences: [{name: rs, controller: true}]
                """);
        assertThat(r.problems()).containsExactly(
                "m.yaml:1: Pod default/p: metadata.ownerReferences[0].kind: kind: missing (expected: a kind (ReplicaSet, Job, StatefulSet, ...))");
    }

    @Test
    void pod() {
        Result r = translate("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: reviews-v1-abc
                  namespace: bookinfo
                  labels: {app: reviews, version: v1}
                spec:
                  serviceAccountName: bookinfo-reviews
                  containers:
                  - name: app
                    ports:
                    - {name: http, containerPort: 9080}
                    - {containerPort: 15000}
                    - {name: metrics, containerPort: 9125, protocol: UDP}
                  - name: sidecar
                    ports: [{name: admin, containerPort: 15001}]
                status:
                  phase: Running
                  podIP: 10.244.1.7
                """);

        assertThat(r.problems()).isEmpty();
        PodSpec p = r.resources().pods().get(0);
        assertThat(p.name()).isEqualTo(new NamespacedName("bookinfo", "reviews-v1-abc"));
        assertThat(p.labels()).isEqualTo(Map.of("app", "reviews", "version", "v1"));
        assertThat(p.serviceAccount()).isEqualTo("bookinfo-reviews");
        assertThat(p.ip()).isEqualTo(ip("10.244.1.7"));
        assertThat(p.ready()).isTrue();
        assertThat(p.namedPorts()).isEqualTo(Map.of("http", 9080, "admin", 15001));
    }

    @Test
    void endpointSlice() {
        Result r = translate("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: ext-abc
                  namespace: bookinfo
                  labels: {kubernetes.io/service-name: ext}
                addressType: IPv6
                endpoints:
                - addresses: ["fd00::1"]
                  targetRef: {kind: Pod, name: ext-1}
                - addresses: ["fd00::2", "fd00::3"]
                  conditions: {ready: false}
                  targetRef: {kind: Pod, name: ext-2, namespace: other}
                - addresses: ["fd00::4"]
                  targetRef: {kind: Node, name: n1}
                ports:
                - {port: 8080}
                - {name: grpc, port: 9090, appProtocol: grpc}
                - {name: dns, port: 53, protocol: UDP}
                """);

        assertThat(r.problems()).isEmpty();
        EndpointSliceSpec s = r.resources().endpointSlices().get(0);
        assertThat(s.name()).isEqualTo(new NamespacedName("bookinfo", "ext-abc"));
        assertThat(s.service()).isEqualTo(new NamespacedName("bookinfo", "ext"));
        assertThat(s.endpoints()).containsExactly(
                new EndpointSliceSpec.Endpoint(List.of(ip("fd00::1")), true, new NamespacedName("bookinfo", "ext-1")),
                new EndpointSliceSpec.Endpoint(List.of(ip("fd00::2"), ip("fd00::3")), false, new NamespacedName("other", "ext-2")),
                new EndpointSliceSpec.Endpoint(List.of(ip("fd00::4")), true, null));
        assertThat(s.ports()).containsExactly(
                new EndpointSliceSpec.Port("", 8080, null), new EndpointSliceSpec.Port("grpc", 9090, "grpc"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            HBONE listener is read, not the first | v1      | [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}, {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}}}}}] | Selector | team=a
            default is Same                       | v1      | [{name: mesh, port: 15008, protocol: HBONE}] | Same | ''
            no HBONE: the first listener          | v1beta1 | [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}] | All | ''
            no listeners                          | v1      | []                                           | Same | ''
            matchLabels ignored unless Selector   | v1      | [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All, selector: {matchLabels: {team: a}}}}}] | All | ''
            matchExpressions, every operator      | v1      | [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: team, operator: In, values: [a, b]}, {key: env, operator: NotIn, values: [dev]}, {key: owner, operator: Exists}, {key: legacy, operator: DoesNotExist, values: []}]}}}}] | Selector | team in (a,b),env notin (dev),owner,!legacy
            matchLabels and matchExpressions      | v1      | [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}, matchExpressions: [{key: env, operator: In, values: [prod]}]}}}}] | Selector | team=a,env in (prod)
            empty selector: every namespace       | v1      | [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: Selector, selector: {}}}}] | Selector | ''
            bad matchExpressions ignored unless Selector | v1 | [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All, selector: {matchExpressions: [{key: team, operator: Bogus}]}}}}] | All | ''
            """)
    void gatewayAllowedNamespaces(String name, String version, String listeners, String from, String selector) {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/%s
                kind: Gateway
                metadata: {name: waypoint, labels: {istio.io/waypoint-for: service}}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners: %s
                """.formatted(version, listeners));

        assertThat(r.problems()).isEmpty();
        GatewaySpec g = r.resources().gateways().get(0);
        assertThat(g.name()).isEqualTo(WAYPOINT);
        assertThat(g.className()).isEqualTo("istio-waypoint");
        assertThat(g.labels()).isEqualTo(Map.of("istio.io/waypoint-for", "service"));
        assertThat(g.allowedNamespaces()).isEqualTo(from);
        assertThat(g.namespaceSelector()).hasToString(selector);
    }

    @Test
    void gatewayMatchExpressionsAreKeptAsWritten() {
        Result r = translate("""
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
                          - {key: example.com/team, operator: In, values: [a, ""]}
                          - {key: env, operator: NotIn, values: [dev]}
                          - {key: owner, operator: Exists}
                          - {key: legacy, operator: DoesNotExist}
                """);

        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().gateways().get(0).namespaceSelector()).isEqualTo(new LabelSelector(
                Map.of("mesh", "shared"), List.of(
                        new LabelSelector.Requirement("example.com/team", LabelSelector.Operator.IN, List.of("a", "")),
                        new LabelSelector.Requirement("env", LabelSelector.Operator.NOT_IN, List.of("dev")),
                        new LabelSelector.Requirement("owner", LabelSelector.Operator.EXISTS, List.of()),
                        new LabelSelector.Requirement("legacy", LabelSelector.Operator.DOES_NOT_EXIST, List.of()))));
    }

    @Test
    void gatewayListeners() {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: waypoint}
                spec:
                  gatewayClassName: istio-waypoint
                  listeners:
                  - {name: mesh, port: 15008, protocol: HBONE}
                """);

        assertThat(r.resources().gateways().get(0).listeners())
                .containsExactly(new GatewaySpec.Listener("mesh", 15008, "HBONE"));
    }

    @Test
    void namespaceIsClusterScoped() {
        Result r = translate("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: bookinfo, namespace: ignored, labels: {istio.io/use-waypoint: waypoint}}
                """);

        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().namespaces()).containsExactly(
                new NamespaceSpec("bookinfo", Map.of("istio.io/use-waypoint", "waypoint", "kubernetes.io/metadata.name", "bookinfo"),
                        new SourceRef("m.yaml", 1)));
        assertThat(r.objects().get(0).key()).isEqualTo(new ResourceKey("", "Namespace", "", "bookinfo"));
    }

    /** The API server sets kubernetes.io/metadata.name to the name on every Namespace, over what the manifest says. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"{}", "{kubernetes.io/metadata.name: bookinfo}",
            "{kubernetes.io/metadata.name: other}"})
    void aNamespaceCarriesItsNameLabelAsTheApiServerSetsIt(String labels) {
        Result r = translate("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: bookinfo, labels: %s}
                """.formatted(labels));

        assertThat(r.resources().namespaces()).singleElement()
                .satisfies(n -> assertThat(n.labels()).containsExactly(Map.entry("kubernetes.io/metadata.name", "bookinfo")));
    }

    @Test
    void otherKindsAreKeptAndIgnored() {
        Result r = translate("""
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: UDPRoute
                metadata: {name: r, namespace: bookinfo}
                spec: {anything: [goes]}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: reader}
                """);

        assertThat(r.problems()).isEmpty();
        assertThat(r.resources().others()).containsExactly(
                new OtherResource("gateway.networking.k8s.io/v1alpha2", "UDPRoute", new NamespacedName("bookinfo", "r"),
                        new SourceRef("m.yaml", 1)),
                new OtherResource("rbac.authorization.k8s.io/v1", "ClusterRole", new NamespacedName("", "reader"),
                        new SourceRef("m.yaml", 6)));
    }

    // ---- apiVersions: every version the CRDs serve (or a Gateway API release since v1.0 served) is read

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            gateway.networking.k8s.io/v1        | HTTPRoute       | HttpRouteSpec         | parentRefs: [{group: "", kind: Service, name: s}]
            gateway.networking.k8s.io/v1beta1   | HTTPRoute       | HttpRouteSpec         | parentRefs: [{group: "", kind: Service, name: s}]
            gateway.networking.k8s.io/v1        | GRPCRoute       | HttpRouteSpec         | parentRefs: [{group: "", kind: Service, name: s}]
            gateway.networking.k8s.io/v1alpha2  | GRPCRoute       | HttpRouteSpec         | parentRefs: [{group: "", kind: Service, name: s}]
            gateway.networking.k8s.io/v1        | Gateway         | GatewaySpec           | {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
            gateway.networking.k8s.io/v1beta1   | Gateway         | GatewaySpec           | {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
            gateway.networking.k8s.io/v1        | ReferenceGrant  | ReferenceGrantSpec    | {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: b}], to: [{group: "", kind: Service}]}
            gateway.networking.k8s.io/v1beta1   | ReferenceGrant  | ReferenceGrantSpec    | {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: b}], to: [{group: "", kind: Service}]}
            gateway.networking.k8s.io/v1alpha2  | ReferenceGrant  | ReferenceGrantSpec    | {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: b}], to: [{group: "", kind: Service}]}
            gateway.networking.k8s.io/v1alpha2  | TCPRoute        | L4RouteSpec           | {rules: [{backendRefs: [{name: s, port: 1}]}]}
            gateway.networking.k8s.io/v1        | TCPRoute        | L4RouteSpec           | {rules: [{backendRefs: [{name: s, port: 1}]}]}
            gateway.networking.k8s.io/v1alpha2  | TLSRoute        | L4RouteSpec           | {rules: [{backendRefs: [{name: s, port: 1}]}]}
            gateway.networking.k8s.io/v1alpha3  | TLSRoute        | L4RouteSpec           | {hostnames: [a.example], rules: [{backendRefs: [{name: s, port: 1}]}]}
            gateway.networking.k8s.io/v1        | TLSRoute        | L4RouteSpec           | {hostnames: [a.example], rules: [{backendRefs: [{name: s, port: 1}]}]}
            security.istio.io/v1                | AuthorizationPolicy | AuthorizationPolicySpec | {targetRefs: [{kind: Service, group: "", name: s}]}
            security.istio.io/v1beta1           | AuthorizationPolicy | AuthorizationPolicySpec | {targetRefs: [{kind: Service, group: "", name: s}]}
            security.istio.io/v1                | RequestAuthentication | RequestAuthenticationSpec | {targetRefs: [{kind: Service, group: "", name: s}]}
            security.istio.io/v1beta1           | RequestAuthentication | RequestAuthenticationSpec | {targetRefs: [{kind: Service, group: "", name: s}]}
            networking.istio.io/v1              | DestinationRule | DestinationRuleSpec   | {host: s}
            networking.istio.io/v1beta1         | DestinationRule | DestinationRuleSpec   | {host: s}
            networking.istio.io/v1alpha3        | DestinationRule | DestinationRuleSpec   | {host: s}
            networking.istio.io/v1              | ServiceEntry    | ServiceEntrySpec      | {hosts: [a.example], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
            networking.istio.io/v1beta1         | ServiceEntry    | ServiceEntrySpec      | {hosts: [a.example], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
            networking.istio.io/v1alpha3        | ServiceEntry    | ServiceEntrySpec      | {hosts: [a.example], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
            networking.istio.io/v1              | WorkloadEntry   | WorkloadEntrySpec     | {address: 10.1.2.3}
            networking.istio.io/v1beta1         | WorkloadEntry   | WorkloadEntrySpec     | {address: 10.1.2.3}
            networking.istio.io/v1alpha3        | WorkloadEntry   | WorkloadEntrySpec     | {address: 10.1.2.3}
            telemetry.istio.io/v1               | Telemetry       | TelemetrySpec         | {accessLogging: [{providers: [{name: envoy}]}]}
            telemetry.istio.io/v1alpha1         | Telemetry       | TelemetrySpec         | {accessLogging: [{providers: [{name: envoy}]}]}
            extensions.istio.io/v1alpha1        | WasmPlugin      | WasmPluginSpec        | {url: oci://ghcr.io/x/y:1, targetRefs: [{kind: Service, group: "", name: s}]}
            """)
    void everyServedApiVersionIsRead(String apiVersion, String kind, String record, String spec) {
        String body = spec.startsWith("{") ? " " + spec : "\n  " + spec + "\n  rules: [{backendRefs: [{name: s, port: 1}]}]";
        Result r = translate("apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: x, namespace: a}\nspec:"
                + body + "\n");

        assertThat(r.problems()).noneSatisfy(p -> assertThat(p).contains("apiVersion"));
        assertThat(r.problems()).noneSatisfy(p -> assertThat(p).doesNotContain("warning").doesNotContain("note"));
        assertThat(r.objects()).singleElement().satisfies(o -> assertThat(o.spec()).isNotNull()
                .extracting(x -> x.getClass().getSimpleName()).isEqualTo(record));
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            gateway.networking.k8s.io/v1alpha2  | HTTPRoute       | gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1
            gateway.networking.k8s.io/v1alpha2  | Gateway         | gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1
            networking.istio.io/v1alpha1        | DestinationRule | networking.istio.io/v1 or networking.istio.io/v1beta1 or networking.istio.io/v1alpha3
            security.istio.io/v1alpha1          | AuthorizationPolicy | security.istio.io/v1 or security.istio.io/v1beta1
            """)
    void anUnservedApiVersionIsWarnedAndNotApplied(String apiVersion, String kind, String expected) {
        Result r = translate("apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: x, namespace: a}\nspec: {}\n");

        assertThat(r.problems()).containsExactly("m.yaml:1: warning: " + kind + " a/x: apiVersion: apiVersion: " + apiVersion
                + " (expected: " + expected + "; the object is not applied)");
        // not applied: rejected without an error, so a version read before keeps serving (GenerationBuilder)
        assertThat(r.objects()).singleElement().satisfies(o -> {
            assertThat(o.spec()).isNull();
            assertThat(o.rejected()).isTrue();
        });
    }
}
