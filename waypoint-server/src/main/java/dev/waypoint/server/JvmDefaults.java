package dev.waypoint.server;

/**
 * System properties the product sets for itself at launch, before any Netty class is loaded, so
 * that {@code java -jar waypoint.jar} runs well without flags. Each one is left alone when the
 * command line (or {@code JAVA_TOOL_OPTIONS}) already set it.
 *
 * <ul>
 *   <li>{@code io.netty.leakDetection.level=disabled}: Netty's default ({@code simple}) tracks one
 *       buffer in 128 with a stack trace, about 290 {@code TraceRecord} exceptions per second at
 *       1000 req/s (benchmarks/RESULTS.md). The tests run it at {@code paranoid} (root pom,
 *       waypoint-test-support), which is where leaks are caught.</li>
 * </ul>
 */
final class JvmDefaults {
    static final String LEAK_DETECTION = "io.netty.leakDetection.level";
    /** Netty's older spelling of the same setting, still read when the new one is absent. */
    static final String LEAK_DETECTION_OLD = "io.netty.leakDetectionLevel";

    private JvmDefaults() {
    }

    /** Sets the defaults that are not set yet. */
    static void apply() {
        if (System.getProperty(LEAK_DETECTION) == null && System.getProperty(LEAK_DETECTION_OLD) == null) {
            System.setProperty(LEAK_DETECTION, "disabled");
        }
    }
}
