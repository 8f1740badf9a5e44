package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.request.AuthzDecision;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The ALLOW tier's path index decides exactly as the linear scan does: random policies of every
 * path form (exact, prefix, suffix, presence, templates, none) against random requests.
 */
class PathIndexTest {
    private static final String[] PATHS = {"/a", "/a/*", "/a/b", "/ab*", "/b", "*b", "*", "/a/{*}", "/c/{**}", "/", "/a*",
            "/a/b/c", "/x*", "/*"};
    private static final String[] REQUESTS = {"/a", "/a/", "/a/b", "/a/b?q=1", "/ab", "/abc", "/b", "/cb", "/c/d/e", "/",
            "/x", "/xyz#f", "/a/b/c", "/a/bc", "/zz", "?only"};

    @Test
    void indexedDecisionsEqualTheLinearScan() {
        Random rnd = new Random(42);
        for (int round = 0; round < 200; round++) {
            int n = AuthzEngine.INDEX_THRESHOLD + rnd.nextInt(40);
            List<CompiledPolicy> compiled = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                StringBuilder y = new StringBuilder("metadata: {name: p" + i + ", namespace: ns1}\nspec:\n"
                        + "  targetRefs: [{kind: Service, group: '', name: b}]\n  rules:\n");
                int rules = 1 + rnd.nextInt(2);
                for (int r = 0; r < rules; r++) {
                    if (rnd.nextInt(8) == 0) {
                        y.append("  - from: [{source: {principals: ['*']}}]\n");
                        continue;
                    }
                    y.append("  - to:\n");
                    int ops = 1 + rnd.nextInt(2);
                    for (int o = 0; o < ops; o++) {
                        y.append("    - operation: {");
                        if (rnd.nextInt(6) != 0) {
                            y.append("paths: ['").append(PATHS[rnd.nextInt(PATHS.length)]).append("'");
                            if (rnd.nextBoolean()) {
                                y.append(", '").append(PATHS[rnd.nextInt(PATHS.length)]).append("'");
                            }
                            y.append("]");
                            if (rnd.nextInt(4) == 0) {
                                y.append(", methods: [POST]");
                            }
                        } else {
                            y.append("methods: [GET]");
                        }
                        y.append("}\n");
                    }
                }
                compiled.add(AuthzPolicyCompiler.compile(Specs.parse(y.toString()), Set.of("cluster.local"), new Diagnostics()));
            }
            AuthzEngine engine = new AuthzEngine(compiled, null);
            for (String path : REQUESTS) {
                for (String method : new String[] {"GET", "POST"}) {
                    TestRequest req = TestRequest.of(method, path);
                    AuthzDecision linear = AuthzEngine.DEFAULT_DENY;
                    AuthzInput in = new AuthzInput(req, null);
                    for (CompiledPolicy p : compiled) {
                        AuthzDecision d = p.match(in, false);
                        if (d != null) {
                            linear = d;
                            break;
                        }
                    }
                    assertThat(engine.decide(req, null)).as("round %d, %s %s", round, method, path).isEqualTo(linear);
                }
            }
        }
    }

    @Test
    void keysFollowTheStringForms() {
        assertThat(PathIndex.keys(Specs.parse("metadata: {name: p, namespace: n}\nspec:\n  rules: [{to: [{operation: "
                + "{paths: [/a, '/b*', /c]}}, {operation: {paths: [/d]}}]}]\n")))
                .isEqualTo(new PathIndex.Keys(List.of("/a", "/c", "/d"), List.of("/b")));
        for (String paths : new String[] {"['*']", "['*b']", "['/a/{*}']"}) {
            assertThat(PathIndex.keys(Specs.parse("metadata: {name: p, namespace: n}\nspec:\n  rules: [{to: [{operation: "
                    + "{paths: " + paths + "}}]}]\n"))).as(paths).isNull();
        }
        assertThat(PathIndex.keys(Specs.parse("metadata: {name: p, namespace: n}\nspec:\n  rules: [{}]\n"))).isNull();
        assertThat(PathIndex.keys(Specs.parse("metadata: {name: p, namespace: n}\nspec:\n  rules: [{to: [{operation: "
                + "{paths: [/a]}}, {operation: {methods: [GET]}}]}]\n"))).isNull();
    }
}
