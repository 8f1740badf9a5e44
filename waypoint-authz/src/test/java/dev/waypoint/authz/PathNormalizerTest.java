package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.authz.PathNormalizer.Mode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PathNormalizerTest {
    /** shared/spec/authz.md §5 examples (BASE), then the other modes. */
    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            "BASE | /app/../admin | /admin",
            "BASE | /app/%2E./admin | /admin",
            "BASE | /app/%2e%2E/admin | /admin",
            "BASE | /app//../admin | /app/admin",
            "BASE | /app//../../admin | /admin",
            "BASE | /xyz%30..//abc | /xyz0..//abc",
            "BASE | /app\\admin | /app/admin",
            "BASE | /app/%2f | /app/%2f",
            "BASE | /app/%5C | /app/%5C",
            "BASE | /app/./x | /app/x",
            "BASE | /a/b/.. | /a/",
            "BASE | /.. | /",
            "BASE | / | /",
            "BASE | /public/%2E%2E/%2E/private | /private",
            "BASE | /%7Euser/%41 | /~user/A",
            "BASE | /a%20b | /a%20b",
            "BASE | /a/../b?x=/../y | /b?x=/../y",
            "BASE | /a//b | /a//b",
            "BASE | * | *",
            "NONE | /app/../admin | /app/../admin",
            "MERGE_SLASHES | /a//b///c | /a/b/c",
            "MERGE_SLASHES | /app//../admin | /app/admin",
            "MERGE_SLASHES | /a/%2f/b | /a/%2f/b",
            "DECODE_AND_MERGE_SLASHES | /a%2fb | /a/b",
            "DECODE_AND_MERGE_SLASHES | /a%2F%2Fb | /a/b",
            "DECODE_AND_MERGE_SLASHES | /a%5Cb | /a/b",
            "DECODE_AND_MERGE_SLASHES | /a/%2e%2e%2fb | /b",
    })
    void normalizes(Mode mode, String in, String out) {
        assertThat(PathNormalizer.normalize(in, mode)).isEqualTo(out);
    }

    @org.junit.jupiter.api.Test
    void returnsTheSameInstanceWhenNothingChanges() {
        String p = "/a/b?c=d";
        assertThat(PathNormalizer.normalize(p, Mode.BASE)).isSameAs(p);
    }
}
