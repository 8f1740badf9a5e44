package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The launcher's defaults: leak detection off unless the command line chose a level (either spelling). */
class JvmDefaultsTest {
    private String saved;
    private String savedOld;

    @BeforeEach
    void save() {
        saved = System.getProperty(JvmDefaults.LEAK_DETECTION);
        savedOld = System.getProperty(JvmDefaults.LEAK_DETECTION_OLD);
    }

    @AfterEach
    void restore() {
        set(JvmDefaults.LEAK_DETECTION, saved);
        set(JvmDefaults.LEAK_DETECTION_OLD, savedOld);
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
