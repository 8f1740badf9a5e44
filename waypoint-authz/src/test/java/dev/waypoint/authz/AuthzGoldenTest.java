package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.yaml.snakeyaml.Yaml;

/**
 * Golden pairs (STYLE rule 13): {@code golden/<name>-in.yaml} (AuthorizationPolicies for the
 * Services {@code ns1/b} and {@code ns1/c} behind the waypoint {@code ns1/waypoint}) →
 * {@code golden/<name>-out.txt}, the compiled table's {@link AuthzTable#toDebugString()} followed by
 * the problems. {@code -Dgolden.update=true} rewrites the expected files.
 */
class AuthzGoldenTest {
    private static final Path DIR = Path.of("src/test/resources/golden");

    static Stream<String> names() throws IOException {
        try (Stream<Path> files = Files.list(DIR)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("-in.yaml"))
                    .map(n -> n.substring(0, n.length() - "-in.yaml".length())).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    @SuppressWarnings("unchecked")
    void compiles(String name) throws IOException {
        List<AuthorizationPolicySpec> specs = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(Files.readString(DIR.resolve(name + "-in.yaml")))) {
            if (doc != null) {
                specs.add(Specs.of((Map<String, Object>) doc));
            }
        }
        List<ServiceSpec> services = List.of(AuthzPolicyCompilerTest.B, new ServiceSpec(new NamespacedName("ns1", "c"),
                Map.of(), List.of(HostPort.parseIp("10.96.0.30")), List.of(new ServicePortSpec("http", 8080, 8080, null, null)),
                Map.of(), SourceRef.NONE));
        ResourceSet rs = ResourceSet.builder(AuthzPolicyCompilerTest.WAYPOINT, "cluster.local").services(services).authorizationPolicies(specs).build();
        Diagnostics d = new Diagnostics();
        StringBuilder actual = new StringBuilder(new AuthzPolicyCompiler().compile(rs, d).toDebugString());
        for (Diagnostics.Problem p : d.problems()) {
            actual.append("problem: ").append(p).append('\n');
        }
        Path expected = DIR.resolve(name + "-out.txt");
        if (Boolean.getBoolean("golden.update") || !Files.exists(expected)) {
            Files.writeString(expected, actual);
        }
        assertThat(actual.toString()).isEqualTo(Files.readString(expected));
    }
}
