package dev.waypoint.config;

import static dev.waypoint.config.TestCompilers.SERVICE_NAMES;
import static dev.waypoint.config.TestCompilers.TRUST_DOMAIN;
import static dev.waypoint.config.TestCompilers.WAYPOINT;
import static dev.waypoint.config.TestCompilers.compilers;
import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.ManifestFile;
import dev.waypoint.config.yaml.ManifestText;
import dev.waypoint.config.yaml.ReferenceManifestReader;
import dev.waypoint.model.Diagnostics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17 made the generation builder parse and translate one file at a time, with its own tree
 * building and a resolver shortcut in the YAML parser, and keep the last good files as bytes. The
 * result must be what the old path made: the same {@code ResourceSet}, the same problems in the
 * same order, the same fallbacks. The old path is kept in the tests for this
 * ({@link ReferenceGenerationBuilder}, {@link ReferenceManifestReader}).
 */
class StreamedGenerationTest {
    @TempDir
    Path dir;

    @Test
    void aGeneratedScaleSetGivesWhatTheOldPathGave() throws IOException {
        writeScale(dir, 300, 6, 40, 40);
        writeExtras(dir);

        Both first = build(0, LastGood.NONE, ReferenceGenerationBuilder.Previous.NONE);

        assertThat(first.now.resources().services()).hasSize(300 + 1);
        assertThat(first.now.resources().pods()).hasSize(300);
        assertThat(first.now.resources().authorizationPolicies()).hasSize(41);
        assertThat(first.now.resources().httpRoutes()).hasSize(40);
        assertThat(first.now.resources().meshConfig().source().file()).isEqualTo("extras.yaml");
        assertThat(first.now.diagnostics().problems()).isNotEmpty(); // the extras' problems are compared too
    }

    @Test
    void theFallbacksToTheLastGoodGenerationAreTheSame() throws IOException {
        writeScale(dir, 60, 3, 10, 10);
        writeExtras(dir);
        Both first = build(0, LastGood.NONE, ReferenceGenerationBuilder.Previous.NONE);

        // a file that no longer parses, an object now rejected, one removed, one added
        Files.writeString(dir.resolve("ns-1.yaml"), Files.readString(dir.resolve("ns-1.yaml")) + "\n  : [broken\n");
        Files.writeString(dir.resolve("ns-2.yaml"), Files.readString(dir.resolve("ns-2.yaml"))
                .replace("port: 80\n", "port: 0\n").replace("name: svc-45-0", "name: svc-45-zero"));
        Files.writeString(dir.resolve("extras.yaml"), Files.readString(dir.resolve("extras.yaml"))
                .replace("trustDomain: cluster.local", "trustDomain: [not, a, string]"));
        Both second = build(1, first.now.lastGood(), first.old.lastGood());

        assertThat(second.now.diagnostics().problems()).extracting(Diagnostics.Problem::message)
                .anyMatch(m -> m.startsWith("keeping the "))
                .anyMatch(m -> m.startsWith("rejected; the previous version"));

        // and back to good: nothing falls back any more
        writeScale(dir, 60, 3, 10, 10);
        build(2, second.now.lastGood(), second.old.lastGood());
    }

    private record Both(GenerationBuilder.Attempt now, ReferenceGenerationBuilder.Attempt old) {}

    /** Builds the directory both ways and checks that they agree. */
    private Both build(long generation, LastGood lastGood, ReferenceGenerationBuilder.Previous previous)
            throws IOException {
        DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
        GenerationBuilder.Attempt now = new GenerationBuilder(WAYPOINT, TRUST_DOMAIN, compilers())
                .build(generation, content.manifests(), null, lastGood);
        List<ManifestFile> parsedTheOldWay = content.manifests().stream()
                .map(m -> m instanceof ManifestText t ? ReferenceManifestReader.parse(t.path(), t.content())
                        : (ManifestFile) m)
                .toList();
        ReferenceGenerationBuilder.Attempt old = new ReferenceGenerationBuilder(WAYPOINT, TRUST_DOMAIN, compilers())
                .build(generation, parsedTheOldWay, null, previous);

        assertThat(now.resources()).isEqualTo(old.resources());
        assertThat(now.diagnostics().problems()).containsExactlyElementsOf(old.diagnostics().problems());
        assertThat(now.snapshot().part(SERVICE_NAMES)).isEqualTo(old.snapshot().part(SERVICE_NAMES));
        assertThat(now.lastGood().objects()).isEqualTo(old.lastGood().objects());
        assertThat(now.lastGood().files().keySet()).isEqualTo(old.lastGood().files().keySet());
        assertThat(now.lastGood().meshConfig()).isEqualTo(old.lastGood().meshConfig());
        return new Both(now, old);
    }

    /** The shape of {@code benchmarks}' {@code ManifestGen --kind scale}: a file per namespace, Services, Pods, policies, routes. */
    static void writeScale(Path dir, int services, int namespaces, int policies, int routes) throws IOException {
        int perNs = services / namespaces;
        StringBuilder extra = new StringBuilder();
        for (int n = 0; n < namespaces; n++) {
            StringBuilder w = new StringBuilder("""
                    apiVersion: v1
                    kind: Namespace
                    metadata:
                      name: ns-%d
                      labels:
                        istio.io/dataplane-mode: ambient
                        istio.io/use-waypoint: waypoint
                    """.formatted(n));
            for (int i = 0; i < perNs; i++) {
                int s = n * perNs + i;
                w.append("""
                        ---
                        apiVersion: v1
                        kind: Service
                        metadata:
                          name: svc-%1$d
                          namespace: ns-%2$d
                          labels: {app: svc-%1$d}
                        spec:
                          clusterIP: 10.96.%3$d.%4$d
                          selector:
                            app: svc-%1$d
                          ports:
                          - name: http
                            port: 80
                            targetPort: 8080
                          - {name: grpc, port: 9090, targetPort: grpc-port}
                        ---
                        apiVersion: v1
                        kind: Pod
                        metadata:
                          name: svc-%1$d-0
                          namespace: ns-%2$d
                          labels:
                            app: svc-%1$d
                            version: v1
                        spec:
                          serviceAccountName: svc-%1$d
                          containers:
                          - name: app
                            image: example/app:v1
                            ports:
                            - containerPort: 8080
                            - name: grpc-port
                              containerPort: 9090
                        status:
                          podIP: 10.1.%3$d.%4$d
                          conditions:
                          - type: Ready
                            status: "True"
                        """.formatted(s, n, s >> 8, s & 0xff));
            }
            Files.writeString(dir.resolve("ns-" + n + ".yaml"), w);
        }
        extra.append("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: deny-admin, namespace: istio-system}
                spec:
                  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
                  action: DENY
                  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
                """);
        for (int i = 0; i < policies; i++) {
            int s = i % services;
            extra.append("""
                    ---
                    apiVersion: security.istio.io/v1
                    kind: AuthorizationPolicy
                    metadata:
                      name: allow-%3$d
                      namespace: ns-%1$d
                    spec:
                      targetRefs:
                      - {kind: Service, group: "", name: svc-%2$d}
                      action: ALLOW
                      rules:
                      - from:
                        - source:
                            principals: ["cluster.local/ns/ns-%1$d/sa/client-%3$d"]
                        to:
                        - operation:
                            methods: ["GET"]
                            paths: ["/api/%3$d/*"]
                    """.formatted(s / perNs, s, i));
        }
        for (int i = 0; i < routes; i++) {
            int s = i % services;
            extra.append("""
                    ---
                    apiVersion: gateway.networking.k8s.io/v1
                    kind: HTTPRoute
                    metadata:
                      name: route-%3$d
                      namespace: ns-%1$d
                    spec:
                      parentRefs:
                      - {group: "", kind: Service, name: svc-%2$d, port: 80}
                      rules:
                      - matches:
                        - path: {type: PathPrefix, value: /v2/%3$d}
                          headers: [{name: x-canary, value: "true"}]
                        filters:
                        - type: RequestHeaderModifier
                          requestHeaderModifier:
                            set: [{name: x-route, value: route-%3$d}]
                        backendRefs: [{name: svc-%2$d, port: 80}]
                      - backendRefs: [{name: svc-%2$d, port: 80}]
                    """.formatted(s / perNs, s, i));
        }
        Files.writeString(dir.resolve("policies.yaml"), extra);
    }

    /**
     * Everything else that takes its own path: the istio ConfigMap (mesh config), a {@code List},
     * empty documents, a duplicate of an object from another file, a rejected object, a kind no
     * stage reads, a version not read (a document that is not an object breaks its whole file:
     * {@code SnapshotPublisherTest}).
     */
    static void writeExtras(Path dir) throws IOException {
        Files.writeString(dir.resolve("extras.yaml"), """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: istio, namespace: istio-system}
                data:
                  mesh: |
                    trustDomain: cluster.local
                ---
                ---
                # only a comment
                ---
                apiVersion: v1
                kind: List
                items:
                - {apiVersion: v1, kind: Namespace, metadata: {name: listed}}
                - ~
                - apiVersion: v1
                  kind: Service
                  metadata: {name: listed-svc, namespace: listed}
                  spec: {clusterIP: 10.97.0.1, ports: [{name: http, port: 8080}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: svc-1, namespace: ns-0}
                spec: {clusterIP: 10.98.0.1, ports: [{port: 80}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: bad-port, namespace: ns-0, labels: {version: 1}}
                spec: {clusterIP: 10.98.0.2, ports: [{port: 0}]}
                ---
                apiVersion: example.com/v1
                kind: Widget
                metadata: {name: w}
                ---
                apiVersion: security.istio.io/v1alpha9
                kind: AuthorizationPolicy
                metadata: {name: future}
                """);
    }
}
