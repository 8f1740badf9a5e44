package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RejectedException;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.ServiceCalls;
import dev.waypoint.model.request.TunnelContext;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.DeniedHttpResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CUSTOM through the {@link AuthzFilter} with a scripted provider answer: what is asked, and what
 * each answer does to the request. The real HTTP and gRPC servers are in the server module's
 * {@code ExtAuthzEndToEndTest}.
 */
class ExtAuthzFilterTest {
    static final ServiceSpec AUTHZ = new ServiceSpec(new NamespacedName("ext", "authz"), Map.of(),
            List.of(HostPort.parseIp("10.96.9.1")), List.of(new ServicePortSpec("http", 8000, 8000, null, null),
            new ServicePortSpec("grpc", 9000, 9000, null, null)), Map.of(), SourceRef.NONE);
    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);

    static ExtensionProviderSpec.EnvoyExtAuthzHttp http(String name, boolean failOpen, List<String> include,
                                                         List<String> toUpstream, List<String> onDeny) {
        return new ExtensionProviderSpec.EnvoyExtAuthzHttp(name, "authz.ext.svc.cluster.local", 8000, Duration.ofSeconds(2),
                "/check", failOpen, 503, include, Map.of("x-ext-authz-additional-header-override", "fixed"), null,
                toUpstream, List.of("set-cookie"), onDeny);
    }

    static final ExtensionProviderSpec HTTP = http("ext-http", false, List.of("x-ext-authz*", "cookie"),
            List.of("x-user", "x-ext-authz-check-*"), List.of());
    static final ExtensionProviderSpec HTTP_OPEN = http("ext-open", true, List.of(), List.of(), List.of("x-reason"));
    static final ExtensionProviderSpec GRPC = new ExtensionProviderSpec.EnvoyExtAuthzGrpc("ext-grpc", "ext/authz", 9000,
            Duration.ofSeconds(1), false, 403, null);

    static MeshConfigSpec mesh(ExtensionProviderSpec... ps) {
        return new MeshConfigSpec(SourceRef.NONE, null, List.of(), null, List.of(ps), MeshConfigSpec.DefaultProviders.NONE,
                null, null, MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null, null, null);
    }

    static String custom(String name, String provider, String paths) {
        return "metadata: {name: " + name + ", namespace: ns1}\nspec:\n  targetRefs: [{kind: Service, group: '', name: b}]\n"
                + "  action: CUSTOM\n  provider: {name: " + provider + "}\n  rules: [{to: [{operation: {paths: " + paths + "}}]}]\n";
    }

    /** A scripted provider: records each call, answers with {@link #answer}. */
    static final class Provider implements ServiceCalls {
        final List<Call> calls = new ArrayList<>();
        CompletionStage<Response> answer;

        @Override
        public CompletionStage<Response> call(RequestContext request, Call call) {
            calls.add(call);
            return answer;
        }
    }

    /** Mutable, case-insensitive: the request headers the filter rewrites. */
    static final class Headers implements HeadersView {
        final Map<String, List<String>> map = new LinkedHashMap<>();

        Headers(Map<String, String> h) {
            h.forEach((k, v) -> add(k, v));
        }

        @Override
        public String get(CharSequence n) {
            List<String> v = map.get(n.toString().toLowerCase(Locale.ROOT));
            return v == null ? null : v.get(0);
        }

        @Override
        public List<String> getAll(CharSequence n) {
            return map.getOrDefault(n.toString().toLowerCase(Locale.ROOT), List.of());
        }

        @Override
        public boolean contains(CharSequence n) {
            return map.containsKey(n.toString().toLowerCase(Locale.ROOT));
        }

        @Override
        public void set(CharSequence n, String v) {
            map.put(n.toString().toLowerCase(Locale.ROOT), new ArrayList<>(List.of(v)));
        }

        @Override
        public void add(CharSequence n, String v) {
            map.computeIfAbsent(n.toString().toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(v);
        }

        @Override
        public void remove(CharSequence n) {
            map.remove(n.toString().toLowerCase(Locale.ROOT));
        }

        @Override
        public List<String> names() {
            return List.copyOf(map.keySet());
        }
    }

    record Run(FilterResult result, RequestContext request, Headers headers, Provider provider, List<String> problems) {}

    static Run run(MeshConfigSpec mesh, String path, Map<String, String> headers, CompletionStage<ServiceCalls.Response> answer,
                   String... policies) {
        ResourceSet rs = ResourceSet.builder(AuthzPolicyCompilerTest.WAYPOINT, "cluster.local")
                .services(List.of(AuthzPolicyCompilerTest.B, AUTHZ))
                .authorizationPolicies(Stream.of(policies).map(Specs::parse).toList()).meshConfig(mesh).build();
        Diagnostics d = new Diagnostics();
        ConfigSnapshot snap = ConfigSnapshot.compile(0, rs, List.of(new AuthzPolicyCompiler()), d);
        Headers h = new Headers(headers);
        TestRequest r = new TestRequest("GET", path, "b.ns1.svc.cluster.local:8080", h,
                TestRequest.of("GET", path).sourcePrincipal(), TestRequest.addr("10.0.1.10", 40000),
                TestRequest.addr("10.96.0.20", 8080));
        TunnelContext tunnel = new TunnelContext(AuthzPolicyCompilerTest.TO_B, r.sourcePrincipal(), null, r.sourceAddress(),
                null, null, null);
        RequestContext rc = new RequestContext(tunnel, snap, AuthzPolicyCompilerTest.TO_B, r, h, new RequestOutcome(0));
        Provider p = new Provider();
        p.answer = answer;
        FilterResult fr = new AuthzFilter(false, p, CLOCK).onRequest(rc);
        return new Run(fr, rc, h, p, d.problems().stream().map(Object::toString).toList());
    }

    static CompletionStage<ServiceCalls.Response> http(int status, String body, String... headers) {
        List<Map.Entry<String, String>> hs = new ArrayList<>();
        for (int i = 0; i < headers.length; i += 2) {
            hs.add(new AbstractMap.SimpleImmutableEntry<>(headers[i], headers[i + 1]));
        }
        return CompletableFuture.completedFuture(new ServiceCalls.Response(status, hs,
                body.getBytes(StandardCharsets.UTF_8), List.of()));
    }

    static CompletionStage<ServiceCalls.Response> grpc(CheckResponse r) {
        byte[] m = r.toByteArray();
        byte[] framed = new byte[m.length + 5];
        framed[4] = (byte) m.length;
        framed[3] = (byte) (m.length >> 8);
        System.arraycopy(m, 0, framed, 5, m.length);
        return CompletableFuture.completedFuture(new ServiceCalls.Response(200,
                List.of(new AbstractMap.SimpleImmutableEntry<>("content-type", "application/grpc")), framed,
                List.of(new AbstractMap.SimpleImmutableEntry<>("grpc-status", "0"))));
    }

    static CompletionStage<ServiceCalls.Response> unreachable() {
        return CompletableFuture.failedFuture(new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED,
                "10.96.9.1:8000: connection refused")));
    }

    static String reply(FilterResult r) {
        if (r == FilterResult.CONTINUE) {
            return "continue";
        }
        FilterResult.Reply reply = (FilterResult.Reply) r;
        return reply.rejection().status() + " " + reply.rejection().reason().code() + " [" + reply.rejection().body() + "] "
                + new java.util.TreeMap<>(reply.headers());
    }

    @Test
    void theHttpCheckCarriesWhatIstioSends() {
        Run r = run(mesh(HTTP), "/custom?q=1", Map.of("x-ext-authz", "allow", "x-ext-authz-additional-header-override",
                "client", "cookie", "c=1", "authorization", "Bearer t", "other", "no"), http(200, ""),
                custom("c", "ext-http", "[/custom]"));

        assertThat(r.problems()).isEmpty();
        assertThat(r.provider().calls).hasSize(1);
        ServiceCalls.Call c = r.provider().calls.get(0);
        assertThat(c.service()).isEqualTo(new NamespacedName("ext", "authz"));
        assertThat(c.port()).isEqualTo(8000);
        assertThat(c.h2()).isFalse();
        assertThat(c.method()).isEqualTo("GET");
        assertThat(c.path()).as("pathPrefix + the original path").isEqualTo("/check/custom?q=1");
        assertThat(c.authority()).isEqualTo("b.ns1.svc.cluster.local:8080");
        assertThat(c.body()).isEmpty();
        assertThat(c.timeout()).isEqualTo(Duration.ofSeconds(2));
        // included by pattern; the additional header overrides the client's; authorization is not implicit
        assertThat(c.headers()).extracting(Map.Entry::getKey, Map.Entry::getValue).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("x-ext-authz", "allow"),
                org.assertj.core.groups.Tuple.tuple("cookie", "c=1"),
                org.assertj.core.groups.Tuple.tuple("x-ext-authz-additional-header-override", "fixed"));
    }

    @Test
    void theGrpcCheckIsACheckRequest() throws Exception {
        Run r = run(mesh(GRPC), "/custom", Map.of("x-ext-authz", "allow", "x-request-id", "id-1"),
                grpc(CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(0)).build()),
                custom("c", "ext-grpc", "[/custom]"));

        ServiceCalls.Call c = r.provider().calls.get(0);
        assertThat(c.h2()).isTrue();
        assertThat(c.method()).isEqualTo("POST");
        assertThat(c.path()).isEqualTo("/envoy.service.auth.v3.Authorization/Check");
        assertThat(c.authority()).isEqualTo("authz:9000");
        assertThat(c.headers()).extracting(Map.Entry::getKey).containsExactly("content-type", "te", "grpc-timeout");
        assertThat(c.body()[0]).as("uncompressed").isZero();
        CheckRequest check = CheckRequest.parseFrom(java.util.Arrays.copyOfRange(c.body(), 5, c.body().length));
        assertThat(check.getAttributes().getSource().getPrincipal()).isEqualTo("spiffe://cluster.local/ns/ns1/sa/a");
        assertThat(check.getAttributes().getSource().getAddress().getSocketAddress().getAddress()).isEqualTo("10.0.1.10");
        assertThat(check.getAttributes().getRequest().getTime().getSeconds()).isEqualTo(CLOCK.instant().getEpochSecond());
        assertThat(check.getAttributes().getRequest().getHttp().getHeadersMap()).containsEntry("x-ext-authz", "allow")
                .containsEntry(":path", "/custom").containsEntry(":method", "GET");
        assertThat(check.getAttributes().getRequest().getHttp().getId()).isEqualTo("id-1");
        assertThat(r.result()).isSameAs(FilterResult.CONTINUE);
    }

    record Case(String name, MeshConfigSpec mesh, String path, CompletionStage<ServiceCalls.Response> answer,
                String expect, int calls, Map<String, String> upstream) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> answers() {
        CheckResponse grpcDeny = CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(7))
                .setDeniedResponse(DeniedHttpResponse.newBuilder()
                        .setStatus(io.envoyproxy.envoy.type.v3.HttpStatus.newBuilder()
                                .setCode(io.envoyproxy.envoy.type.v3.StatusCode.Unauthorized))
                        .addHeaders(HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey("x-reason")
                                .setValue("grpc says no")))
                        .setBody("denied by grpc")).build();
        CheckResponse grpcAllow = CheckResponse.newBuilder().setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                .setOkResponse(OkHttpResponse.newBuilder()
                        .addHeaders(HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey("x-user")
                                .setValue("alice")))
                        .addHeadersToRemove("cookie")).build();
        return Stream.of(
                new Case("http allow: listed headers to the upstream", mesh(HTTP), "/custom",
                        http(200, "ok", "x-user", "alice", "x-ext-authz-check-result", "allowed", "x-not-listed", "no"),
                        "continue", 1, Map.of("x-user", "alice", "x-ext-authz-check-result", "allowed", "cookie", "c=1")),
                new Case("http deny: its status, body and every header", mesh(HTTP), "/custom",
                        http(401, "denied by ext_authz", "www-authenticate", "Bearer", "x-ext-authz-check-result", "denied",
                                "content-length", "19", "transfer-encoding", "chunked"),
                        "401 ext_authz_denied [denied by ext_authz] {www-authenticate=Bearer, x-ext-authz-check-result=denied}",
                        1, Map.of()),
                new Case("http deny with headersToDownstreamOnDeny: listed and location", mesh(HTTP_OPEN), "/custom",
                        http(302, "", "location", "https://login", "x-reason", "login", "x-other", "dropped"),
                        "302 ext_authz_denied [] {location=https://login, x-reason=login}", 1, Map.of()),
                new Case("http 5xx is an error: statusOnError", mesh(HTTP), "/custom", http(500, "boom"),
                        "503 ext_authz_error [] {}", 1, Map.of()),
                new Case("unreachable: statusOnError", mesh(HTTP), "/custom", unreachable(), "503 ext_authz_error [] {}", 1, Map.of()),
                new Case("unreachable with failOpen: continue", mesh(HTTP_OPEN), "/custom", unreachable(), "continue", 1, Map.of()),
                new Case("5xx with failOpen: continue", mesh(HTTP_OPEN), "/custom", http(503, ""), "continue", 1, Map.of()),
                new Case("rule does not match: nobody is asked", mesh(HTTP), "/other", unreachable(), "continue", 0, Map.of()),
                new Case("grpc allow: headers set, cookie removed", mesh(GRPC), "/custom", grpc(grpcAllow), "continue", 1,
                        Map.of("x-user", "alice")),
                new Case("grpc deny: the denied response", mesh(GRPC), "/custom", grpc(grpcDeny),
                        "401 ext_authz_denied [denied by grpc] {x-reason=grpc says no}", 1, Map.of()),
                new Case("grpc-status not OK is an error", mesh(GRPC), "/custom",
                        CompletableFuture.completedFuture(new ServiceCalls.Response(200, List.of(), new byte[0],
                                List.of(new AbstractMap.SimpleImmutableEntry<>("grpc-status", "14")))),
                        "403 ext_authz_error [] {}", 1, Map.of()),
                new Case("grpc garbage is an error", mesh(GRPC), "/custom",
                        CompletableFuture.completedFuture(new ServiceCalls.Response(200, List.of(),
                                new byte[] {0, 0, 0, 0, 3, (byte) 0x0A, 5, 1},
                                List.of(new AbstractMap.SimpleImmutableEntry<>("grpc-status", "0")))),
                        "403 ext_authz_error [] {}", 1, Map.of()),
                new Case("provider missing from the mesh config: deny what the rules match", mesh(), "/custom",
                        http(200, ""), "403 rbac_access_denied_matched_policy [RBAC: access denied] {}", 0, Map.of()));
    }

    @ParameterizedTest
    @MethodSource("answers")
    void eachAnswer(Case c) {
        String provider = c.mesh().extensionProviders().isEmpty() ? "ext-http" : c.mesh().extensionProviders().get(0).name();
        Run r = run(c.mesh(), c.path(), Map.of("cookie", "c=1"), c.answer(), custom("c", provider, "[/custom]"));
        assertThat(reply(r.result())).isEqualTo(c.expect());
        assertThat(r.provider().calls).hasSize(c.calls());
        c.upstream().forEach((k, v) -> assertThat(r.headers().get(k)).as(k).isEqualTo(v));
        if (c.name().contains("cookie removed")) {
            assertThat(r.headers().contains("cookie")).isFalse();
        }
        if (!c.expect().equals("continue")) {
            AuthzDecision d = r.request().get(AuthzDecision.KEY);
            assertThat(d.allowed()).isFalse();
            assertThat(d.detail()).startsWith("rbac_access_denied_matched_policy[ns1/c");
        }
    }

    @Test
    void aCustomAllowStillMeetsDenyAndAllow() {
        String deny = "metadata: {name: d, namespace: ns1}\nspec:\n  targetRefs: [{kind: Service, group: '', name: b}]\n"
                + "  action: DENY\n  rules: [{to: [{operation: {paths: [/custom]}}]}]\n";
        Run r = run(mesh(HTTP), "/custom", Map.of(), http(200, ""), custom("c", "ext-http", "[/custom]"), deny);
        assertThat(r.provider().calls).as("CUSTOM runs first").hasSize(1);
        assertThat(reply(r.result())).isEqualTo("403 rbac_access_denied_matched_policy [RBAC: access denied] {}");
        assertThat(r.request().get(AuthzDecision.KEY).detail()).isEqualTo("rbac_access_denied_matched_policy[ns1/d, rule 0]");
    }

    @Test
    void aPendingAnswerPausesAndTheSameFilterResumes() {
        CompletableFuture<ServiceCalls.Response> later = new CompletableFuture<>();
        Run r = run(mesh(HTTP), "/custom", Map.of(), later, custom("c", "ext-http", "[/custom]"));
        assertThat(r.result()).isInstanceOf(FilterResult.Retry.class);
        later.complete(new ServiceCalls.Response(403, List.of(), "no".getBytes(StandardCharsets.UTF_8), List.of()));
        FilterResult again = new AuthzFilter(false, r.provider(), CLOCK).onRequest(r.request());
        assertThat(reply(again)).isEqualTo("403 ext_authz_denied [no] {}");
        assertThat(r.provider().calls).as("asked once").hasSize(1);
    }

    @Test
    void headersToDownstreamOnAllowReachTheResponse() {
        Run r = run(mesh(HTTP), "/custom", Map.of(), http(200, "", "set-cookie", "s=2"), custom("c", "ext-http", "[/custom]"));
        Headers response = new Headers(Map.of("set-cookie", "s=1", "content-type", "text/plain"));
        new AuthzFilter(false, r.provider(), CLOCK).onResponse(r.request(), 200, response);
        assertThat(response.getAll("set-cookie")).containsExactly("s=2");
    }

    @Test
    void twoProvidersOnOneTargetDenyWhatTheyMatch() {
        Run r = run(mesh(HTTP, GRPC), "/custom", Map.of(), http(200, ""), custom("c1", "ext-http", "[/custom]"),
                custom("c2", "ext-grpc", "[/other]"));
        assertThat(r.provider().calls).isEmpty();
        assertThat(reply(r.result())).isEqualTo("403 rbac_access_denied_matched_policy [RBAC: access denied] {}");
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains("one ext_authz provider per target"));
    }

    @Test
    void aProviderWhoseServiceIsNotInTheConfigIsReported() {
        ExtensionProviderSpec lost = new ExtensionProviderSpec.EnvoyExtAuthzHttp("lost", "nope.ext.svc.cluster.local", 8000,
                Duration.ofSeconds(1), "", false, 403, List.of(), Map.of(), null, List.of(), List.of(), List.of());
        ExtensionProviderSpec wrongPort = new ExtensionProviderSpec.EnvoyExtAuthzGrpc("port", "ext/authz", 1234,
                Duration.ofSeconds(1), false, 403, null);
        Run r = run(mesh(lost, wrongPort), "/custom", Map.of(), http(200, ""), custom("c", "lost", "[/custom]"));
        assertThat(reply(r.result())).startsWith("403 rbac_access_denied_matched_policy");
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains("extensionProviders[0].envoyExtAuthzHttp.service: "
                + "service: nope.ext.svc.cluster.local (expected: a Service of the config"));
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains("extensionProviders[1].envoyExtAuthzGrpc.port: "
                + "port: 1234 (expected: a port of Service ext/authz)"));
        assertThat(r.problems()).anySatisfy(p -> assertThat(p).contains("AuthorizationPolicy ns1/c: spec.provider.name: "
                + "provider: lost (expected: an envoyExtAuthzHttp or envoyExtAuthzGrpc provider"));
    }
}
