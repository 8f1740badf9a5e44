package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import dev.waypoint.authn.JwksCache;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.config.ConfigValidator;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The chart in {@code helm/waypoint}, through Helm itself (helm-java bundles the native Helm 3):
 * {@code lint --strict} clean; {@code template} with the defaults, with every documented value
 * ({@code ci/all-values.yaml}) and with mounted certificates, compared with golden files
 * ({@code -Dgolden.update=true} rewrites them); the rendered manifests loaded back through the
 * directory mode's own reader, translator and compilers ({@code waypoint validate}) with no error;
 * and values the schema or the templates refuse.
 */
class HelmChartTest {
    private static final Path CHART = Path.of("../helm/waypoint");
    private static final Path GOLDEN = Path.of("src/test/resources/helm");
    private static final String RELEASE = "waypoint";
    private static final String NAMESPACE = "mesh";
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @TempDir
    Path tmp;

    private static TemplateCommand template() {
        return new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE).withKubeVersion("1.32.0");
    }

    @Test
    void lintIsCleanInStrictMode() {
        LintResult r = new Helm(CHART).lint().strict().call();
        assertThat(r.isFailed()).as(String.join("\n", r.getMessages())).isFalse();
        assertThat(r.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"defaults", "all-values", "mounted-certs-values"})
    void templateMatchesItsGoldenFile(String name) throws IOException {
        String rendered = render(name);
        Path golden = GOLDEN.resolve(name + ".golden.yaml");
        if (Boolean.getBoolean("golden.update")) {
            Files.writeString(golden, rendered);
        }
        assertThat(golden).as("golden file (refresh with -Dgolden.update=true)").exists();
        assertThat(rendered).isEqualTo(Files.readString(golden));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"defaults, waypoint", "all-values, java-waypoint", "mounted-certs-values, waypoint"})
    void renderedManifestsLoadThroughTheDirectoryModesParserWithoutErrors(String name, String gateway)
            throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.writeString(dir.resolve("chart.yaml"), render(name));
        List<Diagnostics.Problem> problems;
        try (JwksCache jwks = JwksCache.offline()) {
            problems = ConfigValidator.validate(dir, new NamespacedName(NAMESPACE, gateway), "cluster.local",
                    WaypointServer.compilers(jwks, AuthzSettings.defaults()));
        }
        assertThat(problems).as("problems").noneMatch(p -> p.severity() == Diagnostics.Severity.ERROR);
    }

    @Test
    void defaultsAreWhatIstioSetsForAWaypointItDeploys() throws IOException {
        Map<String, JsonNode> objects = objects(render("defaults"));
        assertThat(objects.keySet()).containsExactlyInAnyOrder("ServiceAccount/waypoint", "ClusterRole/waypoint-mesh",
                "ClusterRoleBinding/waypoint-mesh", "Role/waypoint-mesh", "RoleBinding/waypoint-mesh",
                "Service/waypoint", "Deployment/waypoint", "PodDisruptionBudget/waypoint", "Gateway/waypoint");

        JsonNode gw = objects.get("Gateway/waypoint");
        assertThat(gw.at("/spec/gatewayClassName").asText()).isEqualTo("istio-waypoint");
        assertThat(gw.at("/metadata/labels/istio.io~1waypoint-for").asText()).isEqualTo("service");
        assertThat(gw.at("/spec/addresses/0/type").asText()).isEqualTo("Hostname");
        assertThat(gw.at("/spec/addresses/0/value").asText()).isEqualTo("waypoint.mesh.svc.cluster.local");
        assertThat(gw.at("/spec/listeners/0").toString())
                .isEqualTo("{\"name\":\"mesh\",\"port\":15008,\"protocol\":\"HBONE\","
                        + "\"allowedRoutes\":{\"namespaces\":{\"from\":\"Same\"}}}");

        JsonNode svc = objects.get("Service/waypoint");
        assertThat(svc.at("/metadata/annotations/networking.istio.io~1traffic-distribution").asText())
                .isEqualTo("PreferClose");
        assertThat(svc.at("/spec/ports/0/port").asInt()).isEqualTo(15008);
        assertThat(svc.at("/spec/selector/gateway.networking.k8s.io~1gateway-name").asText()).isEqualTo("waypoint");

        JsonNode pod = objects.get("Deployment/waypoint").at("/spec/template");
        assertThat(pod.at("/metadata/labels/istio.io~1dataplane-mode").asText()).isEqualTo("none");
        assertThat(pod.at("/metadata/labels/gateway.networking.k8s.io~1gateway-name").asText()).isEqualTo("waypoint");
        JsonNode c = pod.at("/spec/containers/0");
        assertThat(StreamSupport.stream(c.at("/ports").spliterator(), false).map(p -> p.get("containerPort").asInt()))
                .containsExactly(15008, 15020, 15021);
        assertThat(c.at("/securityContext/readOnlyRootFilesystem").asBoolean()).isTrue();
        assertThat(pod.at("/spec/securityContext/runAsNonRoot").asBoolean()).isTrue();
        assertThat(texts(c.at("/args"))).contains("--kube", "--gateway=mesh/waypoint",
                "--ca-address=istiod.istio-system.svc:15012", "--ca-token=/var/run/secrets/tokens/istio-token",
                "--ca-root-cert=/var/run/secrets/istio/root-cert.pem");
        JsonNode token = pod.at("/spec/volumes").findParent("serviceAccountToken").get("serviceAccountToken");
        assertThat(token.get("audience").asText()).isEqualTo("istio-ca");
        assertThat(pod.at("/spec/volumes").findParent("configMap").at("/configMap/name").asText())
                .isEqualTo("istio-ca-root-cert");
        assertThat(pod.at("/spec/affinity/podAntiAffinity").isMissingNode()).isFalse();

        // no Secret is readable by default (rbac.readRegistrySecrets, rbac.readTlsSecrets)
        assertThat(objects.values().toString()).doesNotContain("\"secrets\"");
    }

    @Test
    void readTlsSecretsGrantsTheSecretsOfTheReleasesNamespaceOnly() throws IOException {
        Map<String, JsonNode> objects = objects(render("all-values"));
        JsonNode role = objects.get("Role/java-waypoint-tls-secrets");
        assertThat(role.at("/metadata/namespace").asText()).isEqualTo("mesh");
        assertThat(role.at("/rules").toString()).isEqualTo("[{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],"
                + "\"verbs\":[\"get\",\"list\",\"watch\"]}]");
        JsonNode binding = objects.get("RoleBinding/java-waypoint-tls-secrets");
        assertThat(binding.at("/metadata/namespace").asText()).isEqualTo("mesh");
        assertThat(binding.at("/roleRef/name").asText()).isEqualTo("java-waypoint-tls-secrets");
    }

    @Test
    void everyFlagTheChartPassesIsOneWaypointRunAccepts() throws IOException {
        // --kube comes with the Kubernetes config source (another branch); the rest must parse here
        for (String values : List.of("all-values", "mounted-certs-values")) {
            JsonNode c = objects(render(values)).values().stream().filter(o -> o.path("kind").asText().equals("Deployment"))
                    .findFirst().orElseThrow().at("/spec/template/spec/containers/0");
            List<String> args = new ArrayList<>(texts(c.at("/args")));
            assertThat(args.remove(0)).isEqualTo("run");
            if (args.remove("--kube")) {
                args.add("--config-dir=/etc/waypoint/config");
            }
            // the chart sets these through POD_NAMESPACE and SERVICE_ACCOUNT from the downward API
            args.add("--namespace=mesh");
            args.add("--service-account=waypoint");
            Main.Run run = new Main.Run();
            picocli.CommandLine cmd = new picocli.CommandLine(run);
            cmd.parseArgs(args.toArray(String[]::new));
            assertThat(cmd.getParseResult().unmatched()).as(values).isEmpty();
            // and the values make valid settings (durations, addresses, CA or mounted files)
            WaypointSettings settings = run.settings();
            assertThat(settings.ca() == null).as(values + ": CA or mounted files")
                    .isEqualTo(values.equals("mounted-certs-values"));
        }
    }

    @Test
    void everyValueIsDocumentedInTheChartsReadmeAndEveryDocumentedValueExists() throws IOException {
        JsonNode values = YAML.readTree(CHART.resolve("values.yaml").toFile());
        List<String> paths = new ArrayList<>();
        leafPaths(values, "", paths);
        String readme = Files.readString(CHART.resolve("README.md"));
        String table = readme.substring(readme.indexOf("## Values"));
        List<String> documented = table.lines().filter(l -> l.startsWith("| `"))
                .map(l -> l.substring(3, l.indexOf('`', 3))).toList();
        // a value is documented by its own row or by a row for a whole map above it (resources)
        assertThat(paths).allSatisfy(p -> assertThat(documented)
                .as(p).anyMatch(d -> p.equals(d) || p.startsWith(d + ".")));
        assertThat(documented).allSatisfy(d -> assertThat(values.at("/" + d.replace('.', '/')).isMissingNode())
                .as("README documents " + d + ", which values.yaml lacks").isFalse());
    }

    private static void leafPaths(JsonNode node, String prefix, List<String> out) {
        if (node.isObject() && !node.isEmpty()) {
            node.fields().forEachRemaining(e -> leafPaths(e.getValue(), prefix.isEmpty() ? e.getKey()
                    : prefix + "." + e.getKey(), out));
        } else {
            out.add(prefix);
        }
    }

    @Test
    void theJvmFlagsTheChartPassesStartAJvm() throws Exception {
        JsonNode c = objects(render("all-values")).get("Deployment/java-waypoint").at("/spec/template/spec/containers/0");
        List<String> command = texts(c.at("/command"));
        assertThat(command.get(0)).isEqualTo("java");
        List<String> flags = new ArrayList<>(command.subList(1, command.indexOf("-jar")));
        assertThat(flags).contains("-XX:+UseSerialGC", "-XX:MaxRAMPercentage=35", "-Xlog:gc:stderr",
                "-XX:SharedArchiveFile=/opt/waypoint/custom.jsa", "-XX:TrimNativeHeapInterval=5000")
                .doesNotContain("-XX:+UseTransparentHugePages"); // jvm.transparentHugePages: false
        flags.remove("-XX:+PrintFlagsFinal");
        // the build's JDK, and the JDK an image built on Temurin 25 runs (where one is installed here)
        List<String> javas = new ArrayList<>(List.of(Jdks.current()));
        Jdks.image().ifPresent(javas::add);
        for (String javaCommand : javas) {
            List<String> argv = new ArrayList<>();
            argv.add(javaCommand);
            argv.addAll(flags);
            argv.add("-version");
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as(javaCommand + ": " + out).isZero();
        }
    }

    /**
     * The README's "JVM flags for a pod ... as the Helm chart and the image pass them": the image's
     * ENTRYPOINT (for {@code docker run}) carries every flag the chart passes by default.
     */
    @Test
    void theImagePassesTheJvmFlagsOfTheChartsDefaults() throws Exception {
        JsonNode c = objects(render("defaults")).get("Deployment/waypoint").at("/spec/template/spec/containers/0");
        List<String> command = texts(c.at("/command"));
        List<String> chartFlags = command.subList(1, command.indexOf("-jar"));
        String dockerfile = Files.readString(Path.of("../Dockerfile"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^ENTRYPOINT (\\[[^\\]]*\\])").matcher(
                dockerfile.replace("\\\n", " "));
        assertThat(m.find()).as("ENTRYPOINT [...] in the Dockerfile").isTrue();
        List<String> entrypoint = texts(new ObjectMapper().readTree(m.group(1)));
        assertThat(entrypoint.get(0)).isEqualTo("java");
        assertThat(entrypoint.subList(1, entrypoint.indexOf("-jar"))).containsAll(chartFlags);
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "ca.certLifetime, 1d, certLifetime",
        "antiAffinity, maybe, antiAffinity",
        "gateway.waypointFor, everything, waypointFor",
        "config.source, etcd, source",
        "unknownKey, x, unknownKey",
        "config.source, directory, config.configMap",
    })
    void badValuesAreRefusedNamingTheValue(String key, String value, String named) {
        assertThatThrownBy(() -> template().set(key, value).call()).hasMessageContaining(named);
    }

    private String render(String name) {
        return switch (name) {
            case "defaults" -> template().call();
            default -> template().withValuesFile(CHART.resolve("ci").resolve(name + ".yaml")).call();
        };
    }

    private static Map<String, JsonNode> objects(String yaml) throws IOException {
        Map<String, JsonNode> out = new java.util.LinkedHashMap<>();
        try (YAMLParser p = new YAMLFactory().createParser(yaml)) {
            for (JsonNode n : YAML.readValues(p, JsonNode.class).readAll()) {
                if (n != null && !n.isNull() && !n.isEmpty()) {
                    out.put(n.path("kind").asText() + "/" + n.at("/metadata/name").asText(), n);
                }
            }
        }
        return out;
    }

    private static List<String> texts(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).collect(Collectors.toList());
    }
}
