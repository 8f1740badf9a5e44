package dev.waypoint.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpFilterSpec.PathModifier;
import dev.waypoint.model.gateway.HttpFilterSpec.PathModifierType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RouteActionsTest {
    /** The ReplacePrefixMatch table of the Gateway API docs (HTTPPathModifier). */
    @ParameterizedTest(name = "{0} prefix {1} -> {2} = {3}")
    @CsvSource({
            "/foo/bar, /foo, /xyz, /xyz/bar",
            "/foo/bar, /foo, /xyz/, /xyz/bar",
            "/foo/bar, /foo/, /xyz, /xyz/bar",
            "/foo/bar, /foo/, /xyz/, /xyz/bar",
            "/foo, /foo, /xyz, /xyz",
            "/foo/, /foo, /xyz, /xyz/",
            "/foo/bar, /foo, '', /bar",
            "/foo/, /foo, '', /",
            "/foo, /foo, '', /",
            "/foo/, /foo, /, /",
            "/foo, /foo, /, /",
            "/foo/bar?x=1, /foo, /xyz, /xyz/bar?x=1",
    })
    void replacePrefixMatch(String path, String prefix, String replacement, String expected) {
        String p = prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
        assertThat(RouteActions.rewritePath(new PathModifier(PathModifierType.REPLACE_PREFIX_MATCH, replacement), p, path))
                .isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "defaults: same scheme and host, service port 80 left out | | | 0 | 302 | echo:80 | 80 | http://echo/p",
            "hostname | | example.org | 0 | 301 | echo | 80 | http://example.org/p",
            "port of the Service | | | 0 | 302 | echo:8080 | 8080 | http://echo:8080/p",
            "explicit port | | | 8443 | 302 | echo | 80 | http://echo:8443/p",
            "scheme https: 443 left out | https | | 0 | 302 | echo | 8080 | https://echo/p",
            "scheme https with port 443 | https | | 443 | 302 | echo | 80 | https://echo/p",
            "scheme http with port 8080 | http | | 8080 | 302 | echo | 80 | http://echo:8080/p",
    })
    void location(String name, String scheme, String hostname, int port, int status, String host, int servicePort,
                  String expected) {
        var r = new HttpFilterSpec.RequestRedirect(scheme, hostname, port, null, status);
        var request = new TestRequests.Request("GET", "/p", host, TestRequests.Headers.of(), null);
        assertThat(RouteActions.location(r, null, request, servicePort)).isEqualTo(expected);
    }
}
