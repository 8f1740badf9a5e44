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

    /**
     * The no-allocation fast path: a path it calls already normal is returned as the same instance,
     * and the full steps (decode, base, merge) would indeed leave it unchanged; the others go the
     * full way.
     */
    @ParameterizedTest(name = "{0} {1} -> already normal: {2}")
    @CsvSource(delimiter = '|', value = {
            "BASE | /api/v1/items?id=42 | true",
            "BASE | / | true",
            "BASE | /a.b/c..d/...e/.f/g. | true",
            "BASE | /a/.../b | true",
            "BASE | /a//b | true",
            "MERGE_SLASHES | /a//b | false",
            "DECODE_AND_MERGE_SLASHES | /a/b/ | true",
            "BASE | /a/./b | false",
            "BASE | /a/. | false",
            "BASE | /a/.. | false",
            "BASE | /../a | false",
            "BASE | /. | false",
            "BASE | /a%41 | false",
            "BASE | /a\\b | false",
            "BASE | /a/..?x | false",
            "BASE | /a?x=/../y | true",
            "BASE | /a#/../y | true",
    })
    void alreadyNormalPathsComeBackAsTheSameInstance(Mode mode, String target, boolean normal) {
        int q = target.length();
        for (int i = 0; i < target.length(); i++) {
            if (target.charAt(i) == '?' || target.charAt(i) == '#') {
                q = i;
                break;
            }
        }
        assertThat(PathNormalizer.alreadyNormal(target, q, mode != Mode.BASE)).isEqualTo(normal);
        if (normal) {
            assertThat(PathNormalizer.normalize(target, mode)).isSameAs(target);
            String path = target.substring(0, q);
            String full = PathNormalizer.base(mode == Mode.DECODE_AND_MERGE_SLASHES ? PathNormalizer.decodeSlashes(path) : path);
            assertThat(mode == Mode.BASE ? full : PathNormalizer.mergeSlashes(full)).isEqualTo(path);
        }
    }
}
