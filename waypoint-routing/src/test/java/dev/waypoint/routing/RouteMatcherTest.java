package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteMatchSpec.PathType;
import dev.waypoint.model.gateway.RouteMatchSpec.ValueMatch;
import dev.waypoint.model.gateway.RouteMatchSpec.ValueType;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RouteMatcherTest {
    private static RouteMatcher path(PathType type, String value) {
        return new RouteMatcher(new RouteMatchSpec(new RouteMatchSpec.PathMatch(type, value), List.of(), List.of(), null));
    }

    @ParameterizedTest(name = "{0} {1} vs {2} -> {3}")
    @CsvSource({
            // PathPrefix is element-wise, a trailing '/' of the value ignored
            "PATH_PREFIX, /foo, /foo, true",
            "PATH_PREFIX, /foo, /foo/, true",
            "PATH_PREFIX, /foo, /foo/bar, true",
            "PATH_PREFIX, /foo, /foobar, false",
            "PATH_PREFIX, /foo/, /foo, true",
            "PATH_PREFIX, /foo/, /foo/bar, true",
            "PATH_PREFIX, /foo/, /foobar, false",
            "PATH_PREFIX, /, /anything, true",
            "PATH_PREFIX, /, /, true",
            "PATH_PREFIX, /Foo, /foo, false",
            "PATH_PREFIX, /foo, /foo?x=1, true",
            // Exact is exact and case-sensitive; the query is not part of the path
            "EXACT, /foo, /foo, true",
            "EXACT, /foo, /foo/, false",
            "EXACT, /foo, /FOO, false",
            "EXACT, /foo, /foo?a=b, true",
            // RegularExpression: the whole path, RE2
            "REGULAR_EXPRESSION, /foo/[0-9]+, /foo/123, true",
            "REGULAR_EXPRESSION, /foo/[0-9]+, /foo/123/x, false",
            "REGULAR_EXPRESSION, .*bar, /foo/bar, true",
    })
    void paths(PathType type, String value, String requestPath, boolean matches) {
        assertThat(path(type, value).matches(TestRequests.get(requestPath))).isEqualTo(matches);
    }

    @ParameterizedTest(name = "{0}={1} vs {2}:{3} -> {4}")
    @CsvSource({
            "version, one, version, one, true",
            "Version, one, vErSiOn, one, true",   // names case-insensitive
            "version, one, version, One, false",  // values case-sensitive
            "version, one, other, one, false",
            "x-r, ^a.*z$, x-r, abcz, true",
    })
    void headers(String name, String value, String requestName, String requestValue, boolean matches) {
        ValueType type = value.startsWith("^") ? ValueType.REGULAR_EXPRESSION : ValueType.EXACT;
        RouteMatcher m = new RouteMatcher(new RouteMatchSpec(new RouteMatchSpec.PathMatch(PathType.PATH_PREFIX, "/"),
                List.of(new ValueMatch(type, name, value)), List.of(), null));
        assertThat(m.matches(TestRequests.get("/", requestName, requestValue))).isEqualTo(matches);
    }

    @ParameterizedTest(name = "{0}={1} vs {2} -> {3}")
    @CsvSource({
            "animal, whale, /?animal=whale, true",
            "animal, whale, /?animal=Whale, false",
            "animal, whale, /?Animal=whale, false",
            "animal, whale, /?color=blue&animal=whale, true",
            "animal, whale, /?animal=whale&animal=dolphin, true",   // the first value counts
            "animal, whale, /?animal=dolphin&animal=whale, false",
            "animal, whale, /?animalx=whale, false",
            "animal, whale, /, false",
    })
    void queryParams(String name, String value, String path, boolean matches) {
        RouteMatcher m = new RouteMatcher(new RouteMatchSpec(new RouteMatchSpec.PathMatch(PathType.PATH_PREFIX, "/"),
                List.of(), List.of(new ValueMatch(ValueType.EXACT, name, value)), null));
        assertThat(m.matches(TestRequests.get(path))).isEqualTo(matches);
    }

    @ParameterizedTest(name = "{0} vs {1} -> {2}")
    @CsvSource({"GET, GET, true", "GET, HEAD, false", "POST, POST, true"})
    void methods(String method, String requestMethod, boolean matches) {
        RouteMatcher m = new RouteMatcher(new RouteMatchSpec(new RouteMatchSpec.PathMatch(PathType.PATH_PREFIX, "/"),
                List.of(), List.of(), method));
        assertThat(m.matches(new TestRequests.Request(requestMethod, "/", "h", TestRequests.Headers.of(), null))).isEqualTo(matches);
    }
}
