package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The launcher's defaults: leak detection off unless the command line chose a level (either
 * spelling); the pooled allocator with an arena per core and 2 MiB chunks unless the command line
 * chose an allocator; Netty's Flight Recorder events off unless asked for.
 */
class JvmDefaultsTest {
    private static final String[] KEYS = {JvmDefaults.LEAK_DETECTION, JvmDefaults.LEAK_DETECTION_OLD,
            JvmDefaults.ALLOCATOR, JvmDefaults.DIRECT_ARENAS, JvmDefaults.HEAP_ARENAS, JvmDefaults.MAX_ORDER,
            JvmDefaults.JFR};
    private final String[] saved = new String[KEYS.length];

    @BeforeEach
    void save() {
        for (int i = 0; i < KEYS.length; i++) {
            saved[i] = System.getProperty(KEYS[i]);
        }
    }

    @AfterEach
    void restore() {
        for (int i = 0; i < KEYS.length; i++) {
            set(KEYS[i], saved[i]);
        }
    }

    @ParameterizedTest(name = "type={0} direct={1} heap={2} -> type={3} direct={4} heap={5}")
    @CsvSource(nullValues = "-", value = {
            "-,        -, -, pooled,   CORES, CORES",
            "-,        8, -, pooled,   8,     CORES",
            "adaptive, -, -, adaptive, -,     -",
            "pooled,   -, -, pooled,   -,     -",
            "unpooled, 2, 2, unpooled, 2,     2",
    })
    void pooledAllocatorWithAnArenaPerCoreUnlessChosen(String type, String direct, String heap, String expType,
                                                       String expDirect, String expHeap) {
        set(JvmDefaults.ALLOCATOR, type);
        set(JvmDefaults.DIRECT_ARENAS, direct);
        set(JvmDefaults.HEAP_ARENAS, heap);
        JvmDefaults.apply();
        String cores = Integer.toString(Runtime.getRuntime().availableProcessors());
        assertThat(System.getProperty(JvmDefaults.ALLOCATOR)).isEqualTo(expType);
        assertThat(System.getProperty(JvmDefaults.DIRECT_ARENAS)).isEqualTo("CORES".equals(expDirect) ? cores : expDirect);
        assertThat(System.getProperty(JvmDefaults.HEAP_ARENAS)).isEqualTo("CORES".equals(expHeap) ? cores : expHeap);
    }

    @ParameterizedTest(name = "type={0} maxOrder={1} -> maxOrder={2}")
    @CsvSource(nullValues = "-", value = {
            "-,        -,  8",
            "-,        11, 11",
            "-,        9,  9",
            "pooled,   -,  -",
            "adaptive, -,  -",
    })
    void twoMebibyteChunksWithThePooledDefault(String type, String maxOrder, String expected) {
        set(JvmDefaults.ALLOCATOR, type);
        set(JvmDefaults.MAX_ORDER, maxOrder);
        JvmDefaults.apply();
        assertThat(System.getProperty(JvmDefaults.MAX_ORDER)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "jfr={0} -> jfr={1}")
    @CsvSource(nullValues = "-", value = {
            "-,     false",
            "true,  true",
            "false, false",
    })
    void nettyFlightRecorderEventsOffUnlessChosen(String jfr, String expected) {
        set(JvmDefaults.JFR, jfr);
        JvmDefaults.apply();
        assertThat(System.getProperty(JvmDefaults.JFR)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "level={0} old={1} -> level={2}")
    @CsvSource(nullValues = "-", value = {
            "-,        -,        disabled",
            "paranoid, -,        paranoid",
            "simple,   -,        simple",
            "-,        advanced, -",
            "disabled, -,        disabled",
    })
    void leakDetectionOffUnlessChosen(String level, String old, String expected) {
        set(JvmDefaults.LEAK_DETECTION, level);
        set(JvmDefaults.LEAK_DETECTION_OLD, old);
        JvmDefaults.apply();
        assertThat(System.getProperty(JvmDefaults.LEAK_DETECTION)).isEqualTo(expected);
        assertThat(System.getProperty(JvmDefaults.LEAK_DETECTION_OLD)).isEqualTo(old);
    }

    private static void set(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
