package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.request.JwtAuthn;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Truth tables for the leaves (STYLE rule 13). */
class MatchersTest {
    @ParameterizedTest(name = "{0} ~ {1}: {2}")
    @CsvSource(delimiter = '|', nullValues = "NULL", value = {
            "abc | abc | true",
            "abc | abcd | false",
            "abc* | abcd | true",
            "abc* | ab | false",
            "*bcd | abcd | true",
            "*bcd | bcd | true",
            "*bcd | bc | false",
            "* | x | true",
            "* | '' | false",
            "* | NULL | false",
            "/deny* | /denyfoo | true",
            "a*b | a*b | true",
            "a*b | axb | false",
    })
    void stringForms(String pattern, String value, boolean expected) {
        assertThat(StringMatch.of(pattern, false).test(value)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} ~ {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "b.ns1 | B.NS1 | true",
            "b.ns1 | b.ns1:8080 | false",
            "b.ns1:* | b.ns1:8080 | true",
            "*.cluster.local | b.ns1.svc.CLUSTER.local | true",
    })
    void hostsIgnoreCase(String pattern, String host, boolean expected) {
        assertThat(Matchers.string(Matchers.Attr.HOST, StringMatch.of(pattern, true))
                .matches(in(TestRequest.of("GET", "/").withHost(host)))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} ~ {1}: {2}")
    @CsvSource(delimiter = '|', nullValues = "NULL", value = {
            "cluster.local/ns/ns1/sa/a | spiffe://cluster.local/ns/ns1/sa/a | true",
            "cluster.local/ns/ns1/sa/a | spiffe://cluster.local/ns/ns1/sa/ab | false",
            "* | spiffe://cluster.local/ns/ns1/sa/a | true",
            "* | NULL | false",
            "cluster.local/ns/ns1/* | spiffe://cluster.local/ns/ns1/sa/x | true",
            "*/sa/a | spiffe://cluster.local/ns/ns2/sa/a | true",
            "*/sa/a | spiffe://cluster.local/ns/ns2/sa/b | false",
            "principals2 | spiffe://cluster.local/ns/ns1/sa/a | false",
    })
    void principalsHaveSpiffePrepended(String pattern, String peer, boolean expected) {
        Matcher m = Matchers.string(Matchers.Attr.PRINCIPAL, StringMatch.prefixed("spiffe://", pattern));
        assertThat(m.matches(in(TestRequest.of("GET", "/").withPrincipal(peer)))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} ~ {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "/allow/admin/{**} | /allow/admin/ | true",
            "/allow/admin/{**} | /allow/admin | false",
            "/allow/admin/{**} | /allow/admin/a/b | true",
            "/store/{**}/cart | /store//cart | true",
            "/store/{**}/cart | /store/cart | false",
            "/store/{**}/cart | /store/a/b/cart | true",
            "/foo/{*}/bar | /foo/x/bar | true",
            "/foo/{*}/bar | /foo//bar | false",
            "/foo/{*}/bar | /foo/x/y/bar | false",
            "/foo/{*}/bar | /foo/x/bar?q=1 | true",
            "/a/{*} | /a/ | false",
            "/a/{*} | /a/b | true",
            "/a/{*} | /a/b/ | false",
            "/{**} | / | true",
            "/{*}/{*}/{**} | /a/b/ | true",
            "/{*}/{*}/{**} | /a//x | false",
            "/a/{**}/a | /a/a | false",
            "/x | /x?q | true",
            "/x | /x#f | true",
            "/x* | /xy?q | true",
            "*/y | /a/y?q=1 | true",
    })
    void pathsAndTemplates(String pattern, String path, boolean expected) throws RuleCompiler.Invalid {
        Matcher m = Matchers.path(RuleCompiler.pathMatch(pattern, "spec.rules[0].to[0].operation.paths[0]"));
        assertThat(m.matches(in(TestRequest.of("GET", path)))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"/a/{**}/b/{*}", "/a/{x}", "/a{*}", "a/{*}", "/a/*/{*}", "/{**}/{**}"})
    void badTemplatesFailToCompile(String pattern) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RuleCompiler.pathMatch(pattern, "f.paths[0]"))
                .isInstanceOf(RuleCompiler.Invalid.class);
    }

    @ParameterizedTest(name = "{0} contains {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "10.0.0.0/8 | 10.1.2.3 | true",
            "10.0.0.0/8 | 11.0.0.1 | false",
            "10.0.1.10 | 10.0.1.10 | true",
            "10.0.1.10 | 10.0.1.11 | false",
            "10.0.1.10/24 | 10.0.1.200 | true",
            "0.0.0.0/0 | 192.168.1.1 | true",
            "2001:db8::/32 | 2001:db8:1::1 | true",
            "2001:db8::/32 | 2001:db9::1 | false",
            "2001:db8::/33 | 2001:db8:8000::1 | false",
            "2001:db8::1 | 2001:db8::1 | true",
            "10.0.0.0/8 | 2001:db8::1 | false",
            "2001:db8::/32 | 10.0.0.1 | false",
    })
    void cidrs(String block, String ip, boolean expected) {
        Matchers.Cidr c = Matchers.Cidr.parse(block);
        assertThat(c.contains(HostPort.parseIp(ip))).isEqualTo(expected);
        assertThat(Matchers.cidr(Matchers.Address.SOURCE, c).matches(in(TestRequest.of("GET", "/").withSource(ip))))
                .isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"10.0.0.0/33", "10.0.0/8", "x", "10.0.0.0/", "2001:db8::/129"})
    void badCidrs(String block) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Matchers.Cidr.parse(block))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest(name = "{0}={1} ~ {2}: {3}")
    @CsvSource(delimiter = '|', nullValues = "NULL", value = {
            "x-foo | bar | bar | true",
            "X-FOO | bar | bar | true",
            "x-foo | Bar | bar | false",
            "x-foo | bar | * | true",
            "x-bar | bar | * | false",
            "x-foo | barbaz | bar* | true",
    })
    void headers(String name, String value, String pattern, boolean expected) {
        Matcher m = Matchers.header(name, StringMatch.of(pattern, false));
        assertThat(m.matches(in(TestRequest.of("GET", "/").withHeaders(Map.of("x-foo", value))))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "claims{0} ~ {1}: {2}")
    @CsvSource(delimiter = '|', value = {
            "groups | group-1 | true",
            "groups | group-2 | false",
            "nested.key1 | valueA | true",
            "nested.nested-2.key1 | valueB | true",
            "nested.non-exist | valueA | false",
            "nested.key2 | valueC | true",
            "scope | read | true",
            "scope | write | true",
            "scope | read write | false",
            "permission | write | true",
            "custom_scope | admin | false",
            "custom_scope | admin user | true",
            "sub | sub-* | true",
            "n | 3 | true",
    })
    void claims(String path, String value, boolean expected) {
        JwtAuthn jwt = new JwtAuthn("iss/sub-1", "iss", "sub-1", List.of("foo"), "bar", Map.of(
                "sub", "sub-1", "groups", List.of("group-1"), "scope", "write read", "permission", List.of("read write"),
                "custom_scope", "admin user", "n", 3,
                "nested", Map.of("key1", List.of("valueA", "valueB"), "key2", "valueC",
                        "nested-2", Map.of("key1", List.of("valueA", "valueB")))));
        Matcher m = Matchers.claim(List.of(path.split("\\.")), StringMatch.of(value, false));
        assertThat(m.matches(new AuthzInput(TestRequest.of("GET", "/"), jwt))).isEqualTo(expected);
        assertThat(m.matches(new AuthzInput(TestRequest.of("GET", "/"), null))).isFalse();
    }

    @ParameterizedTest(name = "port {0} vs {1}: {2}")
    @CsvSource({"8080, 8080, true", "8080, 80, false"})
    void ports(int port, int dest, boolean expected) {
        assertThat(Matchers.port(port).matches(in(TestRequest.of("GET", "/").withDestination("10.96.0.20", dest))))
                .isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void compositesShortCircuitAndFold() {
        Matcher yes = in -> true;
        Matcher no = in -> false;
        Matcher boom = in -> {
            throw new AssertionError("not short-circuited");
        };
        AuthzInput in = in(TestRequest.of("GET", "/"));
        assertThat(Matchers.and(List.of(no, boom)).matches(in)).isFalse();
        assertThat(Matchers.or(List.of(yes, boom)).matches(in)).isTrue();
        assertThat(Matchers.not(no).matches(in)).isTrue();
        assertThat(Matchers.and(List.of())).isSameAs(Matcher.ANY);
        assertThat(Matchers.or(List.of())).isSameAs(Matcher.NONE);
        assertThat(Matchers.and(List.of(yes, Matcher.NONE))).isSameAs(Matcher.NONE);
        assertThat(Matchers.not(Matcher.ANY)).isSameAs(Matcher.NONE);
    }

    private static AuthzInput in(TestRequest r) {
        return new AuthzInput(r, null);
    }
}
