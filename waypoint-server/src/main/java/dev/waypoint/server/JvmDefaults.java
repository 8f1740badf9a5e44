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
 *   <li>{@code io.netty.allocator.type=pooled} with one direct and one heap arena per core
 *       ({@code io.netty.allocator.numDirectArenas}, {@code numHeapArenas}; the event loops are one
 *       per core by default): Netty 4.2's default adaptive allocator costs more per request. Measured
 *       side by side on a quiet machine with every stage configured (benchmarks/RESULTS.md, "the
 *       allocator"): at saturation 30.2 vs 34.5 µs of CPU per request and 27.0k vs 24.7k req/s, at
 *       1000 req/s 118 vs 121 µs, RSS +4 MiB (the default arena count, twice the cores, cost +12 MiB).
 *       Each property is left alone when set.</li>
 *   <li>{@code io.netty.allocator.maxOrder=8} with that pooled default: 2 MiB chunks instead of 4 MiB.
 *       Each arena holds at least one chunk, and the JDK zeroes a direct buffer when it is made, so
 *       every chunk is resident whole: 8.2 MiB of direct memory with two arenas of 4 MiB chunks.
 *       Measured in three pairs at 1000 req/s (benchmarks/RESULTS.md, "Issue 17: memory"): RSS −4 to
 *       −8 MiB, CPU per request within the pairs' noise. 1 MiB chunks ({@code maxOrder=7}) saved more
 *       and cost more CPU per request in each of six pairs (+11 % in the medians). Buffers over a
 *       chunk are not pooled; the data path's largest are 16 KiB TLS records and HTTP/2 frames.
 *       Left alone when set.</li>
 *   <li>{@code io.netty.jfr.enabled=false}: Netty 4.2 otherwise registers its allocator events with
 *       the Flight Recorder when the first chunk is allocated, which loads ~90 {@code jdk.jfr} classes
 *       (~1.8 MiB RSS at idle) that only a JFR recording would use (benchmarks/RESULTS.md, "Issue 17:
 *       memory"). Set it to {@code true} to see Netty's allocator events in a recording.</li>
 * </ul>
 */
final class JvmDefaults {
    static final String LEAK_DETECTION = "io.netty.leakDetection.level";
    /** Netty's older spelling of the same setting, still read when the new one is absent. */
    static final String LEAK_DETECTION_OLD = "io.netty.leakDetectionLevel";
    static final String ALLOCATOR = "io.netty.allocator.type";
    static final String DIRECT_ARENAS = "io.netty.allocator.numDirectArenas";
    static final String HEAP_ARENAS = "io.netty.allocator.numHeapArenas";
    static final String MAX_ORDER = "io.netty.allocator.maxOrder";
    static final String JFR = "io.netty.jfr.enabled";

    private JvmDefaults() {
    }

    /** Sets the defaults that are not set yet. */
    static void apply() {
        if (System.getProperty(LEAK_DETECTION) == null && System.getProperty(LEAK_DETECTION_OLD) == null) {
            System.setProperty(LEAK_DETECTION, "disabled");
        }
        if (System.getProperty(ALLOCATOR) == null) {
            System.setProperty(ALLOCATOR, "pooled");
            String perCore = Integer.toString(Runtime.getRuntime().availableProcessors());
            if (System.getProperty(DIRECT_ARENAS) == null) {
                System.setProperty(DIRECT_ARENAS, perCore);
            }
            if (System.getProperty(HEAP_ARENAS) == null) {
                System.setProperty(HEAP_ARENAS, perCore);
            }
            if (System.getProperty(MAX_ORDER) == null) {
                System.setProperty(MAX_ORDER, "8");
            }
        }
        if (System.getProperty(JFR) == null) {
            System.setProperty(JFR, "false");
        }
    }
}
