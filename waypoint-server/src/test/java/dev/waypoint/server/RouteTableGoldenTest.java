package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.routing.HttpRouteCompiler;
import dev.waypoint.routing.RouteTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden pairs (STYLE rule 13): {@code golden/httproute-<name>-in.yaml}, through the translator
 * and {@link HttpRouteCompiler}, must render as {@code golden/httproute-<name>-out.txt}: the
 * table's {@link RouteTable#toDebugString()} then every diagnostic. {@code -Dgolden.update=true}
 * rewrites the expected files.
 */
class RouteTableGoldenTest {
    private static final Path DIR = Path.of("src/test/resources/golden");

    @TempDir
    Path tmp;

    static Stream<String> names() throws IOException {
        try (Stream<Path> files = Files.list(DIR)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("httproute-") && n.endsWith("-in.yaml"))
                    .map(n -> n.substring("httproute-".length(), n.length() - "-in.yaml".length())).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void compilesToItsGolden(String name) throws IOException {
        Files.copy(DIR.resolve("httproute-" + name + "-in.yaml"), tmp.resolve("in.yaml"));
        List<WireObject> wire = ConfigSources.yamlDirectory(tmp).read().files().stream().flatMap(f -> f.objects().stream()).toList();
        Diagnostics diagnostics = new Diagnostics();
        ResourceSet rs = ResourceTranslator.resourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local",
                ResourceTranslator.translate(wire, diagnostics));
        RouteTable table = new HttpRouteCompiler().compile(rs, diagnostics);
        StringBuilder actual = new StringBuilder(table.toDebugString()).append("--- diagnostics\n");
        diagnostics.problems().forEach(p -> actual.append(p).append('\n'));

        Path golden = DIR.resolve("httproute-" + name + "-out.txt");
        if (Boolean.getBoolean("golden.update")) {
            Files.writeString(golden, actual);
        }
        assertThat(golden).as("golden file (refresh with -Dgolden.update=true)").exists();
        assertThat(actual.toString()).isEqualTo(Files.readString(golden));
    }
}
