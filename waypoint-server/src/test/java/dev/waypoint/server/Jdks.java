package dev.waypoint.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The JDKs a test can launch the packaged jar with: the one running the tests (Java 17, what the
 * build targets and the image's default base) and, where installed, Temurin 25, which an image
 * built with {@code BASE_IMAGE=eclipse-temurin:25-jre-noble} runs: found under {@code /usr/lib/jvm}
 * by the {@code release} file every JDK carries, or given with
 * {@code -Dwaypoint.test.imageJava=/path/to/bin/java}.
 */
final class Jdks {
    /** The feature release of the JDK of the optional newer image (Dockerfile {@code BASE_IMAGE} build argument). */
    static final int IMAGE_FEATURE = 25;

    private static final Pattern VERSION = Pattern.compile("(?m)^JAVA_VERSION=\"(\\d+)");

    private Jdks() {}

    /** The java command running this test. */
    static String current() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** The java command of a JDK of that feature release, if one is installed here. */
    static Optional<String> image() {
        String given = System.getProperty("waypoint.test.imageJava");
        if (given != null && !given.isBlank()) {
            return Optional.of(given);
        }
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(jvms)) {
            List<Path> homes = dirs.filter(d -> feature(d) == IMAGE_FEATURE)
                    .filter(d -> Files.isExecutable(d.resolve("bin/java")))
                    .sorted(Comparator.comparing(Path::toString)).toList();
            return homes.stream().findFirst().map(d -> d.resolve("bin/java").toString());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The feature release a JDK home's {@code release} file names, or -1. */
    private static int feature(Path home) {
        try {
            Matcher m = VERSION.matcher(Files.readString(home.resolve("release")));
            return m.find() ? Integer.parseInt(m.group(1)) : -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
