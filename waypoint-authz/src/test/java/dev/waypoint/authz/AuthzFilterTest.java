package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.TunnelContext;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class AuthzFilterTest {
    private static RequestContext request(TestRequest r, List<String> rewritten, String... policies) {
        ResourceSet rs = ResourceSet.builder(AuthzPolicyCompilerTest.WAYPOINT, "cluster.local").services(List.of(AuthzPolicyCompilerTest.B)).authorizationPolicies(Stream.of(policies).map(Specs::parse).toList()).build();
        ConfigSnapshot snap = ConfigSnapshot.compile(0, rs, List.of(new AuthzPolicyCompiler()), new Diagnostics());
        TunnelContext tunnel = new TunnelContext(AuthzPolicyCompilerTest.TO_B, r.sourcePrincipal(), null, r.sourceAddress(),
                null, null, null);
        return new RequestContext(tunnel, snap, AuthzPolicyCompilerTest.TO_B, r, r.headers(), new RequestOutcome(0),
                rewritten::add);
    }

    @Test
    void deniesWithEnvoysBodyAndRecordsTheDecision() {
        RequestContext rc = request(TestRequest.of("GET", "/admin"), new ArrayList<>(),
                AuthzPolicyCompilerTest.policy("d", "DENY", "[{to: [{operation: {paths: [/admin]}}]}]"));
        FilterResult r = new AuthzFilter(false).onRequest(rc);
        assertThat(r).isInstanceOfSatisfying(FilterResult.Reply.class, reply -> {
            Rejection rej = reply.rejection();
            assertThat(rej.reason()).isEqualTo(Rejection.Reason.RBAC_DENIED);
            assertThat(rej.reason().status()).isEqualTo(403);
            assertThat(rej.reason().flag()).isEqualTo("RBAC");
            assertThat(rej.reason().grpcStatus()).isEqualTo(7);
            assertThat(rej.body()).isEqualTo("RBAC: access denied");
            assertThat(rej.message()).isEqualTo("rbac_access_denied_matched_policy[ns1/d, rule 0]");
        });
        assertThat(rc.get(AuthzDecision.KEY).allowed()).isFalse();
    }

    @Test
    void continuesWithoutPolicies() {
        RequestContext rc = request(TestRequest.of("GET", "/admin"), new ArrayList<>());
        assertThat(new AuthzFilter(false).onRequest(rc)).isSameAs(FilterResult.CONTINUE);
        assertThat(rc.get(AuthzDecision.KEY)).isEqualTo(new AuthzDecision.Allow(AuthzDecision.NO_POLICY, -1));
    }

    @Test
    void dryRunIsShadowOnly() {
        String dry = AuthzPolicyCompilerTest.policy("dry", "DENY", "[{}]")
                .replace("namespace: ns1}", "namespace: ns1, annotations: {istio.io/dry-run: 'true'}}");
        RequestContext rc = request(TestRequest.of("GET", "/"), new ArrayList<>(), dry);
        assertThat(new AuthzFilter(false).onRequest(rc)).isSameAs(FilterResult.CONTINUE);
        assertThat(rc.get(AuthzDecision.SHADOW_KEY).allowed()).isFalse();
    }

    @Test
    void debugHeadersCarryTheDecisionOnlyWhenAskedFor() {
        String allow = AuthzPolicyCompilerTest.policy("a", "ALLOW", "[{to: [{operation: {paths: [/ok]}}]}]");
        for (boolean debug : new boolean[] {false, true}) {
            RequestContext rc = request(TestRequest.of("GET", "/ok"), new ArrayList<>(), allow);
            AuthzFilter f = new AuthzFilter(debug);
            assertThat(f.onRequest(rc)).isSameAs(FilterResult.CONTINUE);
            java.util.Map<String, String> written = new java.util.HashMap<>();
            f.onResponse(rc, 200, new Recording(written));
            assertThat(written).isEqualTo(debug ? java.util.Map.of(AuthzFilter.DEBUG_HEADER, "allowed[ns1/a, rule 0]")
                    : java.util.Map.of());
        }
    }

    /** Response headers that record what is set. */
    private record Recording(java.util.Map<String, String> map) implements dev.waypoint.model.request.HeadersView {
        @Override
        public String get(CharSequence name) {
            return map.get(name.toString());
        }

        @Override
        public List<String> getAll(CharSequence name) {
            String v = map.get(name.toString());
            return v == null ? List.of() : List.of(v);
        }

        @Override
        public boolean contains(CharSequence name) {
            return map.containsKey(name.toString());
        }

        @Override
        public void set(CharSequence name, String value) {
            map.put(name.toString(), value);
        }

        @Override
        public void add(CharSequence name, String value) {
            map.put(name.toString(), value);
        }

        @Override
        public void remove(CharSequence name) {
            map.remove(name.toString());
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', nullValues = "NULL", value = {
            "http://b.ns1/admin | /admin | b.ns1",
            "HTTP://b.ns1:8080/a/../admin?x | /admin?x | b.ns1:8080",
            "http://b.ns1 | / | b.ns1",
            "http://b.ns1?q | /?q | b.ns1",
            "* | NULL | NULL",
    })
    void absoluteFormBecomesOriginForm(String target, String path, String host) {
        List<String> rewritten = new ArrayList<>();
        java.util.Map<String, String> headers = new java.util.HashMap<>();
        TestRequest r = TestRequest.of("GET", target);
        RequestContext rc = request(r, rewritten);
        RequestContext withHeaders = new RequestContext(rc.tunnel(), rc.snapshot(), rc.target(), rc.attributes(),
                new Recording(headers), rc.outcome(), rewritten::add);
        assertThat(new PathNormalizationFilter(PathNormalizer.Mode.BASE).onRequest(withHeaders)).isSameAs(FilterResult.CONTINUE);
        assertThat(rewritten).isEqualTo(path == null ? List.of() : List.of(path));
        assertThat(headers.get("host")).isEqualTo(host);
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"admin", "ftp://x/admin", "http:///admin", "http://u@b/admin", ""})
    void otherTargetsAreRefused(String target) {
        FilterResult r = new PathNormalizationFilter(PathNormalizer.Mode.BASE).onRequest(
                request(TestRequest.of("GET", target), new ArrayList<>()));
        assertThat(r).isInstanceOfSatisfying(FilterResult.Reply.class,
                reply -> assertThat(reply.rejection().reason()).isEqualTo(Rejection.Reason.BAD_REQUEST));
    }

    @Test
    void normalizationRewritesOnlyWhatChanges() {
        List<String> rewritten = new ArrayList<>();
        new PathNormalizationFilter(PathNormalizer.Mode.BASE).onRequest(request(TestRequest.of("GET", "/a/../b"), rewritten));
        new PathNormalizationFilter(PathNormalizer.Mode.BASE).onRequest(request(TestRequest.of("GET", "/b"), rewritten));
        assertThat(rewritten).containsExactly("/b");
    }

    @Test
    void withoutTheFlagTheMeshConfigNamesTheNormalization() {
        MeshConfigSpec merge = new MeshConfigSpec(SourceRef.NONE, null, List.of(), null, List.of(),
                MeshConfigSpec.DefaultProviders.NONE, null, null, MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null,
                null, MeshConfigSpec.PathNormalization.MERGE_SLASHES);
        TestRequest r = TestRequest.of("GET", "/a//b/../c");
        for (Object[] c : new Object[][] {{null, MeshConfigSpec.DEFAULT, "/a//c"}, {null, merge, "/a/c"},
                {PathNormalizer.Mode.NONE, merge, null}}) {
            List<String> rewritten = new ArrayList<>();
            RequestContext rc = request(r, rewritten);
            ResourceSet rs = rc.snapshot().resources().toBuilder().meshConfig((MeshConfigSpec) c[1]).build();
            RequestContext withMesh = new RequestContext(rc.tunnel(), ConfigSnapshot.compile(1, rs, List.of(), new Diagnostics()),
                    rc.target(), rc.attributes(), rc.requestHeaders(), new RequestOutcome(0), rewritten::add);
            PathNormalizationFilter.of((PathNormalizer.Mode) c[0]).onRequest(withMesh);
            assertThat(rewritten).as("flag %s, mesh %s", c[0], ((MeshConfigSpec) c[1]).pathNormalization())
                    .isEqualTo(c[2] == null ? List.of() : List.of(c[2]));
        }
    }
}
