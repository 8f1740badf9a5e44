package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * "No allocation on the evaluation path beyond what is unavoidable", measured: bytes allocated by
 * this thread per {@link AuthzEngine#decide} over a warmed engine of realistic policies. What is
 * left is the input object and the principal's URI string (SpiffeId builds it per call).
 */
class AllocationTest {
    @Test
    void decidingAllocatesOnlyTheInputAndThePrincipal() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        AuthzEngine engine = AuthzPolicyCompilerTest.compile(
                AuthzPolicyCompilerTest.policy("deny", "DENY", "[{to: [{operation: {paths: [/admin*, '/x/{*}/y']}}]}, "
                        + "{from: [{source: {notNamespaces: [ns1, ns2]}}]}]"),
                AuthzPolicyCompilerTest.policy("allow", "ALLOW", "[{from: [{source: {principals: [cluster.local/ns/ns1/sa/a]}}], "
                        + "to: [{operation: {methods: [GET], ports: ['8080'], hosts: ['b.ns1*']}}], "
                        + "when: [{key: source.ip, values: [10.0.0.0/8]}, {key: 'request.headers[x-foo]', notValues: [bad]}]}]"))
                .table().engineFor(AuthzPolicyCompilerTest.TO_B);
        TestRequest request = TestRequest.of("GET", "/ok?q=1");
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            engine.decide(request, null); // warm up: let the JIT compile (and maybe scalar-replace) the path
        }
        long before = mx.getCurrentThreadAllocatedBytes();
        boolean allowed = true;
        for (int i = 0; i < n; i++) {
            allowed &= engine.decide(request, null).allowed();
        }
        long perCall = (mx.getCurrentThreadAllocatedBytes() - before) / n;
        System.out.println("AuthzEngine.decide allocates " + perCall + " bytes per call");
        assertThat(allowed).isTrue();
        // measured 112: the input (~32 bytes) + "spiffe://cluster.local/ns/ns1/sa/a" (String + byte[], ~80
        // bytes); namespaces and path templates match without regexes. Anything more is a regression.
        assertThat(perCall).isLessThan(200);
    }
}
