package dev.waypoint.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.ManifestFile;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.OtherResource;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Real Istio-format YAML as users write it (src/test/resources/real-yaml/: Istio's samples, its
 * validation dataset and testdata, Gateway API's mesh conformance manifests, istio.io examples,
 * and hand-written kubectl / Helm shapes; each file names its source at the top), each file read
 * alone through the real reader and translators. The table says, per file, what became of every
 * object (its domain record, "not read" for kinds no stage reads, REJECTED) and every problem.
 * A file in the folder without a row fails the test, so nothing there goes unchecked.
 */
class RealYamlTest {
    private static final NamespacedName WAYPOINT = new NamespacedName("default", "waypoint");

    @TempDir
    Path dir;

    record Case(String file, List<String> expected) {
        @Override
        public String toString() {
            return file;
        }
    }

    private static Case file(String file, String... expected) {
        return new Case(file, List.of(expected));
    }

    private static final String SUBSETS = ": spec.subsets: subsets are not applied by this waypoint yet: Gateway API "
            + "routes reach a subset through a Service of its own (selecting the subset's labels)";
    private static final String CIDR = " (expected: an IP address; CIDR ranges are not matched by this waypoint yet, "
            + "so the range is dropped and connections to it are not resolved to this entry)";
    private static final String SELECTOR_AP = ": spec.selector: a waypoint does not enforce selector policies (ztunnel "
            + "or sidecars do); use targetRefs (Service, Gateway or GatewayClass istio-waypoint) to apply it here";
    private static final String SELECTOR_RA = ": spec.selector: a waypoint applies RequestAuthentication through "
            + "targetRefs only; this selector-based object is enforced by ztunnel or sidecars, not here";

    static Stream<Case> cases() {
        return Stream.of(
                file("anchors-and-merge-keys.yaml",
                        "Service bookinfo/ratings -> ServiceSpec",
                        "AuthorizationPolicy bookinfo/ratings -> AuthorizationPolicySpec"),
                file("api-versions.yaml",
                        "HTTPRoute bookinfo/productpage-v1beta1 -> HttpRouteSpec",
                        "GRPCRoute bookinfo/grpc-echo-v1alpha2 -> HttpRouteSpec",
                        "ReferenceGrant bookinfo/allow-routes-from-frontend -> ReferenceGrantSpec",
                        "TCPRoute bookinfo/tcp-echo-v1 -> L4RouteSpec",
                        "DestinationRule bookinfo/reviews-v1alpha3 -> DestinationRuleSpec",
                        "ServiceEntry bookinfo/httpbin-ext-v1beta1 -> ServiceEntrySpec",
                        "AuthorizationPolicy bookinfo/deny-admin-v1beta1 -> AuthorizationPolicySpec",
                        "Telemetry bookinfo/logs-v1alpha1 -> TelemetrySpec"),
                file("gateway-api-conformance-mesh-grpcroute-weight.yaml",
                        "GRPCRoute gateway-conformance-mesh/mesh-grpc-weighted-backends -> HttpRouteSpec"),
                file("gateway-api-conformance-mesh-httproute-matching.yaml",
                        "HTTPRoute gateway-conformance-mesh/mesh-matching -> HttpRouteSpec"),
                file("gateway-api-conformance-mesh-httproute-request-header-modifier.yaml",
                        "HTTPRoute gateway-conformance-mesh/mesh-request-header-modifier -> HttpRouteSpec"),
                file("gateway-api-conformance-mesh-manifests.yaml",
                        "Namespace /gateway-conformance-mesh -> NamespaceSpec",
                        "Deployment gateway-conformance-mesh/echo-v1 -> not read",
                        "Service gateway-conformance-mesh/echo-v1 -> ServiceSpec",
                        "Deployment gateway-conformance-mesh/echo-v2 -> not read",
                        "Service gateway-conformance-mesh/echo-v2 -> ServiceSpec",
                        "Service gateway-conformance-mesh/echo -> ServiceSpec",
                        "Namespace /gateway-conformance-mesh-consumer -> NamespaceSpec",
                        "Deployment gateway-conformance-mesh-consumer/echo-v1 -> not read"),
                file("helm-rendered.yaml",
                        "ServiceAccount default/bookinfo-reviews -> not read",
                        "Service bookinfo/reviews -> ServiceSpec",
                        "Gateway bookinfo/waypoint -> GatewaySpec",
                        "AuthorizationPolicy bookinfo/reviews -> AuthorizationPolicySpec"),
                file("istio-docs-ambient-l7-authz.yaml",
                        "Gateway default/waypoint -> GatewaySpec",
                        "AuthorizationPolicy default/productpage-waypoint-policy -> AuthorizationPolicySpec",
                        "AuthorizationPolicy default/productpage-ztunnel-policy -> AuthorizationPolicySpec",
                        "istio-docs-ambient-l7-authz.yaml:38: note: AuthorizationPolicy default/productpage-ztunnel-policy"
                                + SELECTOR_AP),
                file("istio-docs-telemetry-and-wasm.yaml",
                        "Telemetry default/waypoint-telemetry -> TelemetrySpec",
                        "WasmPlugin default/basic-auth-at-waypoint -> WasmPluginSpec"),
                file("istio-gateway-testdata-mesh.yaml",
                        "GatewayClass /istio -> not read",
                        "Gateway istio-system/gateway -> GatewaySpec",
                        "HTTPRoute default/echo -> HttpRouteSpec",
                        "HTTPRoute default/dual -> HttpRouteSpec",
                        "HTTPRoute default/header -> HttpRouteSpec",
                        "HTTPRoute default/echo-port -> HttpRouteSpec",
                        "HTTPRoute default/multi-service -> HttpRouteSpec",
                        "HTTPRoute default/consumer-override -> HttpRouteSpec",
                        "TCPRoute default/tcp -> L4RouteSpec",
                        "TLSRoute default/tls -> L4RouteSpec"),
                file("istio-integration-waypoint-jwt.yaml",
                        "RequestAuthentication default/default-b -> RequestAuthenticationSpec",
                        "RequestAuthentication default/ignored-b -> RequestAuthenticationSpec",
                        "AuthorizationPolicy default/authz-gateway-b -> AuthorizationPolicySpec",
                        "istio-integration-waypoint-jwt.yaml:19: warning: RequestAuthentication default/ignored-b" + SELECTOR_RA),
                file("istio-samples-bookinfo.yaml",
                        "Service default/details -> ServiceSpec",
                        "ServiceAccount default/bookinfo-details -> not read",
                        "Deployment default/details-v1 -> not read",
                        "Service default/ratings -> ServiceSpec",
                        "ServiceAccount default/bookinfo-ratings -> not read",
                        "Deployment default/ratings-v1 -> not read",
                        "Service default/reviews -> ServiceSpec",
                        "ServiceAccount default/bookinfo-reviews -> not read",
                        "Deployment default/reviews-v1 -> not read",
                        "Deployment default/reviews-v2 -> not read",
                        "Deployment default/reviews-v3 -> not read",
                        "Service default/productpage -> ServiceSpec",
                        "ServiceAccount default/bookinfo-productpage -> not read",
                        "Deployment default/productpage-v1 -> not read"),
                file("istio-samples-destination-rule-all.yaml",
                        "DestinationRule default/productpage -> DestinationRuleSpec",
                        "DestinationRule default/reviews -> DestinationRuleSpec",
                        "DestinationRule default/ratings -> DestinationRuleSpec",
                        "DestinationRule default/details -> DestinationRuleSpec",
                        "istio-samples-destination-rule-all.yaml:2: warning: DestinationRule default/productpage" + SUBSETS,
                        "istio-samples-destination-rule-all.yaml:13: warning: DestinationRule default/reviews" + SUBSETS,
                        "istio-samples-destination-rule-all.yaml:30: warning: DestinationRule default/ratings" + SUBSETS,
                        "istio-samples-destination-rule-all.yaml:50: warning: DestinationRule default/details" + SUBSETS),
                file("istio-samples-external-github.yaml",
                        "ServiceEntry default/github-https -> ServiceEntrySpec",
                        "ServiceEntry default/github-tcp -> ServiceEntrySpec",
                        "istio-samples-external-github.yaml:24: warning: ServiceEntry default/github-tcp: spec.addresses[2]: "
                                + "addresses[2]: 140.82.112.0/20" + CIDR,
                        "istio-samples-external-github.yaml:24: warning: ServiceEntry default/github-tcp: spec.addresses[5]: "
                                + "addresses[5]: 185.199.108.0/22" + CIDR,
                        "istio-samples-external-github.yaml:24: warning: ServiceEntry default/github-tcp: spec.addresses[10]: "
                                + "addresses[10]: 192.30.252.0/22" + CIDR),
                file("istio-samples-otel-loki-telemetry.yaml",
                        "Telemetry istio-system/mesh-logging -> TelemetrySpec"),
                file("istio-samples-route-reviews-90-10.yaml",
                        "HTTPRoute default/reviews -> HttpRouteSpec"),
                file("istio-samples-tcp-echo-20-v2.yaml",
                        "TCPRoute default/tcp-echo -> L4RouteSpec"),
                file("istio-validation-networking-v1alpha3-DestinationRule.yaml",
                        "DestinationRule default/valid-destination-rule -> DestinationRuleSpec",
                        "istio-validation-networking-v1alpha3-DestinationRule.yaml:2: warning: DestinationRule "
                                + "default/valid-destination-rule" + SUBSETS),
                file("istio-validation-networking-v1alpha3-ServiceEntry.yaml",
                        "ServiceEntry default/valid-service-entry -> ServiceEntrySpec"),
                file("istio-validation-networking-v1alpha3-WorkloadEntry.yaml",
                        "WorkloadEntry default/valid-workload-entry -> WorkloadEntrySpec"),
                file("istio-validation-security-v1-AuthorizationPolicy.yaml",
                        "AuthorizationPolicy default/authorization-policy -> AuthorizationPolicySpec",
                        "istio-validation-security-v1-AuthorizationPolicy.yaml:2: note: AuthorizationPolicy "
                                + "default/authorization-policy" + SELECTOR_AP),
                file("istio-validation-security-v1beta1-RequestAuthentication.yaml",
                        "RequestAuthentication default/valid-request-authentication -> RequestAuthenticationSpec",
                        "istio-validation-security-v1beta1-RequestAuthentication.yaml:2: warning: RequestAuthentication "
                                + "default/valid-request-authentication" + SELECTOR_RA),
                file("istio-validation-telemetry-v1alpha1-Telemetry.yaml",
                        "Telemetry default/valid -> TelemetrySpec"),
                file("kubectl-get-list.yaml",
                        "Service default/reviews -> ServiceSpec",
                        "Pod default/reviews-v1-5b9f7c6d8-abcde -> PodSpec",
                        "EndpointSlice default/reviews-x7k2p -> EndpointSliceSpec"),
                // JSON has no comments: hand-written after 'kubectl get svc details -o json' output (kubectl 1.30)
                file("kubectl-get-o-json.json",
                        "Service default/details -> ServiceSpec"),
                file("kubectl-get-objects.yaml",
                        "Gateway default/waypoint -> GatewaySpec",
                        "HTTPRoute default/reviews -> HttpRouteSpec",
                        "AuthorizationPolicy default/reviews-viewer -> AuthorizationPolicySpec"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachFileIsReadAsIstioReadsIt(Case c) {
        assertThat(read(c.file()).lines()).containsExactlyElementsOf(c.expected());
    }

    @Test
    void everyFileOfTheFolderHasARow() throws IOException {
        try (Stream<Path> files = Files.list(folder())) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactlyElementsOf(cases().map(Case::file).sorted().toList());
        }
    }

    @Test
    void theWholeFolderReadsAsOneDirectoryWithNoFileLevelError() throws IOException {
        DirectoryContent content = ConfigSources.yamlDirectory(folder()).read();

        assertThat(content.files()).hasSize((int) cases().count())
                .allSatisfy(f -> assertThat(f.isParsed()).as("%s: %s", f.path(), f.error()).isTrue());
    }

    // ---- what the objects mean, where the reading is the point

    @Test
    void anchorsAliasesAndMergeKeysAreResolved() {
        ResourceSet rs = read("anchors-and-merge-keys.yaml").resources();

        ServiceSpec ratings = rs.services().get(0);
        assertThat(ratings.selector()).isEqualTo(Map.of("app", "ratings", "service", "ratings"));
        assertThat(ratings.ports()).containsExactly(new ServicePortSpec("http", 9080, 9080, null, null),
                new ServicePortSpec("http-alt", 8080, 9080, null, null));
        AuthorizationPolicySpec policy = rs.authorizationPolicies().get(0);
        assertThat(policy.rules()).hasSize(2).allSatisfy(r -> assertThat(r.from().get(0).principals())
                .containsExactly("cluster.local/ns/bookinfo/sa/bookinfo-productpage"));
        assertThat(policy.targetRefs()).singleElement().satisfies(t -> assertThat(t.name()).isEqualTo("ratings"));
    }

    @Test
    void aKubectlDumpMeansWhatTheClusterServes() {
        ResourceSet rs = read("kubectl-get-list.yaml").resources();

        ServiceSpec reviews = rs.services().get(0);
        assertThat(reviews.clusterIps()).containsExactly(HostPort.parseIp("10.96.12.34"));
        assertThat(reviews.labels()).containsEntry("istio.io/use-waypoint", "waypoint");
        assertThat(reviews.ports()).containsExactly(new ServicePortSpec("http", 9080, 9080, null, null),
                new ServicePortSpec("http-alt", 8080, 0, "http-alt", "http"));
        assertThat(rs.pods()).singleElement().satisfies(p -> {
            assertThat(p.ip()).isEqualTo(HostPort.parseIp("10.244.1.7"));
            assertThat(p.serviceAccount()).isEqualTo("bookinfo-reviews");
            assertThat(p.namedPorts()).containsEntry("http-alt", 8080);
        });
        assertThat(rs.endpointSlices()).singleElement().satisfies(s ->
                assertThat(s.service()).isEqualTo(new NamespacedName("default", "reviews")));
    }

    @Test
    void helmsQuotedValuesAndEmptyDocumentsReadAsWritten() {
        ResourceSet rs = read("helm-rendered.yaml").resources();

        assertThat(rs.services()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo(new NamespacedName("bookinfo", "reviews"));
            assertThat(s.ports()).containsExactly(new ServicePortSpec("http", 9080, 0, "http", null));
        });
        assertThat(rs.authorizationPolicies()).singleElement().satisfies(p ->
                assertThat(p.rules().get(0).to().get(0).ports()).containsExactly("9080"));
    }

    @Test
    void githubsServiceEntryKeepsItsAddressesAndDropsItsRanges() {
        ResourceSet rs = read("istio-samples-external-github.yaml").resources();

        assertThat(rs.serviceEntries().get(1).addresses()).hasSize(15)
                .contains(HostPort.parseIp("13.229.188.59"), HostPort.parseIp("54.87.5.173"));
    }

    // ---- reading

    private static Path folder() {
        try {
            return Path.of(RealYamlTest.class.getResource("/real-yaml").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private record Read(List<String> lines, ResourceSet resources) {}

    /** {@code file} alone in a directory: each object's fate, then each problem, one line each. */
    private Read read(String file) {
        try {
            Path one = Files.createDirectories(dir.resolve(file.replace('.', '_')));
            Files.copy(folder().resolve(file), one.resolve(file));
            List<String> lines = new ArrayList<>();
            List<WireObject> wire = new ArrayList<>();
            for (ManifestFile f : ConfigSources.yamlDirectory(one).read().files()) {
                if (!f.isParsed()) {
                    lines.add("file error: " + f.error());
                }
                wire.addAll(f.objects());
            }
            Diagnostics diagnostics = new Diagnostics();
            List<TranslatedObject> objects = ResourceTranslator.translate(wire, diagnostics);
            objects.forEach(t -> lines.add(render(t)));
            diagnostics.problems().forEach(p -> lines.add(p.toString()));
            return new Read(lines, ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", objects));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String render(TranslatedObject t) {
        String id = t.key() == null ? "-" : t.key().kind() + " " + t.key().namespace() + "/" + t.key().name();
        String fate = t.rejected() ? "REJECTED" : t.spec() == null ? "skipped"
                : t.spec() instanceof OtherResource ? "not read" : t.spec().getClass().getSimpleName();
        return id + " -> " + fate;
    }
}
