package dev.waypoint.config;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceSpec;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A stand-in stage compiler: lists service names; throws on a Service named {@code boom}, and
 * fails to link on one named {@code unlinked} (as a compiler whose library is missing from the jar).
 */
final class TestCompilers {
    static final NamespacedName WAYPOINT = new NamespacedName("default", "waypoint");
    static final String TRUST_DOMAIN = "cluster.local";
    static final SnapshotPart<String> SERVICE_NAMES = SnapshotPart.of("service-names", String.class);

    private TestCompilers() {}

    static final PartCompiler<String> SERVICE_NAMES_COMPILER = new PartCompiler<>() {
        @Override
        public SnapshotPart<String> part() {
            return SERVICE_NAMES;
        }

        @Override
        public String compile(ResourceSet resources, Diagnostics diagnostics) {
            for (ServiceSpec s : resources.services()) {
                if (s.name().name().equals("boom")) {
                    throw new IllegalStateException("cannot compile " + s.name());
                }
                if (s.name().name().equals("unlinked")) {
                    throw new NoClassDefFoundError("com/example/Missing");
                }
                if (s.labels().containsKey("compiler-warning")) {
                    diagnostics.warning(s.source(), "Service", s.name(), "metadata.labels", "flagged by the compiler");
                }
            }
            return resources.services().stream().map(s -> s.name().toString()).collect(Collectors.joining(","));
        }
    };

    static List<PartCompiler<?>> compilers() {
        return List.of(SERVICE_NAMES_COMPILER);
    }

    static String service(String name, int port) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %s}
                spec: {clusterIP: 10.0.0.1, ports: [{name: http, port: %d}]}
                """.formatted(name, port);
    }
}
