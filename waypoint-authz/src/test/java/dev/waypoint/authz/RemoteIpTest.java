package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code remote.ip} with trusted proxy hops (mesh config {@code numTrustedProxies}), as Envoy's
 * {@code xff_num_trusted_hops}: the hops-th X-Forwarded-For entry from the right, else the source.
 */
class RemoteIpTest {
    @ParameterizedTest(name = "{0} | {1} hops -> {2}")
    @CsvSource(delimiter = '|', value = {
            "1.1.1.1                     | 1 | 1.1.1.1",
            "1.1.1.1, 2.2.2.2            | 1 | 2.2.2.2",
            "1.1.1.1, 2.2.2.2            | 2 | 1.1.1.1",
            "1.1.1.1, 2.2.2.2            | 3 | 10.0.1.10",
            "1.1.1.1,2.2.2.2;3.3.3.3     | 1 | 3.3.3.3",
            "1.1.1.1,2.2.2.2;3.3.3.3     | 2 | 2.2.2.2",
            "1.1.1.1,2.2.2.2;3.3.3.3     | 3 | 1.1.1.1",
            "unknown                     | 1 | 10.0.1.10",
            "' , '                       | 1 | 10.0.1.10",
            "2001:db8::1                 | 1 | 2001:db8::1",
            "''                          | 1 | 10.0.1.10",
            "1.1.1.1                     | 0 | 10.0.1.10"})
    void theTrustedHopIsRead(String xff, int hops, String expected) {
        List<String> lines = xff.isEmpty() ? List.of() : List.of(xff.split(";"));
        TestRequest r = new TestRequest("GET", "/", "b", new TestRequest.Headers(lines.isEmpty() ? Map.of()
                : Map.of("x-forwarded-for", lines)), null, TestRequest.addr("10.0.1.10", 40000), TestRequest.addr("10.96.0.20", 80));
        AuthzInput in = new AuthzInput(r, null);
        String got = hops == 0 ? r.sourceAddress().getAddress().getHostAddress() : in.remote(hops).getHostAddress();
        assertThat(got).isEqualTo(dev.waypoint.model.mesh.HostPort.parseIp(expected).getHostAddress());
        Matchers.Cidr block = Matchers.Cidr.parse(expected);
        assertThat(Matchers.cidr(Matchers.Address.REMOTE, block, hops).matches(new AuthzInput(r, null))).isTrue();
    }
}
