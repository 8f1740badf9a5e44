package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code waypoint explain} over the demo manifests: a bound Service (stages, route, endpoints),
 * an address nobody serves (refused before any tunnel, with the reason), a name that is not in
 * the config, JSON output, and argument errors.
 */
class ExplainTest {
    record Run(int exit, String out, String err) {}

    static Run explain(String... args) {
        return explainIn("../examples/demo", args);
    }

    static Run explainIn(String dir, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = System.out;
        PrintStream e = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            String[] all = new String[args.length + 3];
            all[0] = "explain";
            all[1] = "--config-dir";
            all[2] = dir;
            System.arraycopy(args, 0, all, 3, args.length);
            int code = Main.commandLine().execute(all);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @Test
    void aBoundServiceShowsItsStagesRouteAndEndpoints() {
        Run r = explain("--from", "spiffe://cluster.local/ns/demo/sa/curl", "--source-ip", "10.0.0.9", "GET",
                "http://reviews.demo:9080/api/v1");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("GET http://reviews.demo:9080/api/v1",
                "from    spiffe://cluster.local/ns/demo/sa/curl at 10.0.0.9",
                "target  Service demo/reviews port 9080 (127.10.0.10:9080, http)",
                "telemetry   continue",
                "normalize   continue",
                "wasm-authn  continue",
                "authn       continue",
                "wasm-authz  continue",
                "authz       continue",
                "wasm-stats  continue",
                "wasm        continue",
                "route       continue",
                "default -> Service demo/reviews:9080 (no timeout, 2 retries)",
                "authz.decision  allow: no AuthorizationPolicy applies",
                "result  forwarded to Service demo/reviews:9080 on route default",
                "endpoints (3, least request unless a DestinationRule says otherwise)",
                "127.10.1.1:9080 (hbone spiffe://cluster.local/ns/demo/sa/bookinfo-reviews)");
    }

    @Test
    void theVipWorksLikeTheName() {
        Run byName = explain("GET", "http://reviews.demo.svc.cluster.local:9080/");
        Run byVip = explain("GET", "http://127.10.0.10:9080/");
        assertThat(byVip.out().lines().skip(1).toList()).isEqualTo(byName.out().lines().skip(1).toList());
    }

    @Test
    void anAddressNobodyServesIsRefusedWithTheReason() {
        Run r = explain("GET", "http://127.10.0.99/");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("result  CONNECT 127.10.0.99:80 refused: 400 target_not_bound",
                "is not a Service VIP or Pod IP bound to this waypoint");
    }

    @Test
    void aServiceWithoutEndpointsWouldGet503() {
        assertThat(explain("GET", "http://nothing-behind.demo/").out())
                .contains("result  503 no_healthy_upstream (Service demo/nothing-behind:80 has no ready endpoint)");
    }

    @Test
    void aNameThatIsNotInTheConfigIsSaidSo() {
        assertThat(explain("GET", "http://empty-svc.demo/").out()).contains("no Service demo/empty-svc in the config");
    }

    @Test
    void jsonOutputCarriesTheSameReport() {
        Run r = explain("--output", "json", "GET", "http://reviews.demo:9080/");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("\"accepted\" : true", "\"outcome\" : \"forwarded to Service demo/reviews:9080 on route default\"",
                "\"route\" : \"default -> Service demo/reviews:9080 (no timeout, 2 retries)\"");
    }

    @Test
    void badArgumentsAreNamed() {
        assertThat(explain("--from", "alice", "GET", "http://reviews.demo/").err()).contains("--from: alice (expected: spiffe://");
        assertThat(explain("--header", "nocolon", "GET", "http://reviews.demo/").err()).contains("--header: nocolon (expected: NAME:VALUE)");
        assertThat(explain("--output", "xml", "GET", "http://reviews.demo/").exit()).isEqualTo(2);
        // each a usage error of explain: exit 2, the message and the pointer to the help
        for (String[] args : new String[][] {{"--from", "alice"}, {"--header", "nocolon"}, {"--output", "xml"},
                {"--source-ip", "nope"}}) {
            Run r = explain(args[0], args[1], "GET", "http://reviews.demo/");
            assertThat(r.exit()).as(r.err()).isEqualTo(2);
            assertThat(r.err()).startsWith(args[0] + ": ")
                    .endsWith("Try 'waypoint explain --help' for more information." + System.lineSeparator());
        }
    }

    @Test
    void aWasmPluginThatAnswersShowsAsTheStageThatAnswered(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        for (String f : new String[] {"mesh.yaml", "services.yaml", "pods.yaml"}) {
            java.nio.file.Files.copy(java.nio.file.Path.of("../examples/demo", f), tmp.resolve(f));
        }
        java.nio.file.Path wasm = WasmEndToEndTest.buildPlugin(java.nio.file.Files.createDirectories(tmp.resolve("bin")));
        java.nio.file.Files.writeString(tmp.resolve("wasm.yaml"), """
                apiVersion: extensions.istio.io/v1alpha1
                kind: WasmPlugin
                metadata: {name: headers, namespace: demo}
                spec:
                  targetRefs: [{kind: Service, group: "", name: reviews}]
                  url: URL
                """.replace("URL", wasm.toUri().toString()));
        Run denied = explainIn(tmp.toString(), "--header", "x-deny:1", "GET", "http://reviews.demo:9080/");
        assertThat(denied.exit()).as(denied.err()).isZero();
        assertThat(denied.out()).contains("wasm        answers 403  wasm_local_reply: denied_by_wasm {x-denied-by=wasm}",
                "result  answered by wasm: 403 wasm_local_reply");
        assertThat(explainIn(tmp.toString(), "GET", "http://reviews.demo:9080/").out())
                .contains("wasm        continue", "result  forwarded to Service demo/reviews:9080");
    }

    @Test
    void aDenyingPolicyShowsWhichStageAnsweredAndWhy(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        for (String f : new String[] {"mesh.yaml", "services.yaml", "pods.yaml"}) {
            java.nio.file.Files.copy(java.nio.file.Path.of("../examples/demo", f), tmp.resolve(f));
        }
        java.nio.file.Files.writeString(tmp.resolve("policy.yaml"), """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: no-admin, namespace: demo}
                spec:
                  targetRefs: [{kind: Service, group: "", name: reviews}]
                  action: DENY
                  rules:
                  - to: [{operation: {paths: ["/admin*"]}}]
                """);
        Run r = explainIn(tmp.toString(), "--from", "spiffe://cluster.local/ns/demo/sa/curl", "GET",
                "http://reviews.demo:9080/app/../admin/users");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("normalize   continue", "authz       answers 403", "demo/no-admin",
                "result  answered by authz: 403 rbac_access_denied_matched_policy").doesNotContain("route       continue");
        // the same request to another path goes through
        assertThat(explainIn(tmp.toString(), "GET", "http://reviews.demo:9080/reviews/1").out())
                .contains("result  forwarded to Service demo/reviews:9080");
    }

    @Test
    void aPolicyOnAServiceEntryDecidesForItsHostAndNothingElse(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        for (String f : new String[] {"mesh.yaml", "services.yaml", "pods.yaml"}) {
            java.nio.file.Files.copy(java.nio.file.Path.of("../examples/demo", f), tmp.resolve(f));
        }
        java.nio.file.Files.writeString(tmp.resolve("egress.yaml"), """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: httpbin-ext, namespace: demo}
                spec:
                  hosts: [httpbin.example.test]
                  addresses: [127.10.0.200]
                  ports: [{number: 80, name: http, protocol: HTTP}]
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  endpoints: [{address: 127.10.9.1}]
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: egress-get-only, namespace: demo}
                spec:
                  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin-ext}]
                  rules:
                  - to: [{operation: {methods: [GET]}}]
                """);
        Run get = explainIn(tmp.toString(), "--from", "spiffe://cluster.local/ns/demo/sa/curl", "GET",
                "http://httpbin.example.test/get");
        assertThat(get.exit()).isZero();
        assertThat(get.out()).contains("target  ServiceEntry demo/httpbin-ext (httpbin.example.test) port 80 (127.10.0.200:80, http)",
                "authz.decision  allow: ALLOW policy demo/egress-get-only, rule 0 matched");
        Run post = explainIn(tmp.toString(), "POST", "http://127.10.0.200/post");
        assertThat(post.out()).contains("authz       answers 403",
                "rbac_access_denied_matched_policy[none]", "result  answered by authz: 403");
        // the Services of the namespace are not reached by it
        assertThat(explainIn(tmp.toString(), "POST", "http://reviews.demo:9080/reviews/1").out())
                .contains("result  forwarded to Service demo/reviews:9080");
    }

    @Test
    void aCustomPolicyShowsItsProviderAndSendsNothing(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        for (String f : new String[] {"mesh.yaml", "services.yaml", "pods.yaml"}) {
            java.nio.file.Files.copy(java.nio.file.Path.of("../examples/demo", f), tmp.resolve(f));
        }
        java.nio.file.Files.writeString(tmp.resolve("policy.yaml"), """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: ext, namespace: demo}
                spec:
                  targetRefs: [{kind: Service, group: "", name: reviews}]
                  action: CUSTOM
                  provider: {name: ext-authz}
                  rules:
                  - to: [{operation: {paths: ["/reviews*"]}}]
                """);
        java.nio.file.Path meshConfig = tmp.resolveSibling(tmp.getFileName() + "-mesh.yaml");
        java.nio.file.Files.writeString(meshConfig, """
                extensionProviders:
                - name: ext-authz
                  envoyExtAuthzHttp: {service: reviews.demo.svc.cluster.local, port: 9080, statusOnError: "503"}
                """);
        Run r = explainIn(tmp.toString(), "--mesh-config", meshConfig.toString(), "GET", "http://reviews.demo:9080/reviews/1");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("authz       answers 503", "ext_authz_error: provider ext-authz (envoyExtAuthzHttp "
                + "demo/reviews:9080)", "explain sends nothing", "result  answered by authz: 503 ext_authz_error");
        java.nio.file.Files.delete(meshConfig);
    }

    @Test
    void httpRoutesDecideTheRouteAndAnswer404AndRedirects(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        try (java.io.InputStream in = ExplainTest.class.getResourceAsStream("/e2e/routes-mesh.yaml")) {
            java.nio.file.Files.write(dir.resolve("mesh.yaml"), in.readAllBytes());
        }
        java.util.function.Function<String, String> run = path -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            PrintStream o = System.out;
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            try {
                Main.commandLine().execute("explain", "--config-dir", dir.toString(), "--from",
                        "spiffe://cluster.local/ns/apps/sa/client", "GET", "http://web.apps" + path);
            } finally {
                System.setOut(o);
            }
            return out.toString(StandardCharsets.UTF_8);
        };
        assertThat(run.apply("/v2/items")).contains("route           web.apps.v2 -> Service apps/web-v2:80 (no timeout, 2 retries)",
                "route-response  add x-routed: yes",
                "result  forwarded to Service apps/web-v2:80 on route web.apps.v2 with request headers ",
                // the RequestHeaderModifier's change to what goes upstream is shown
                "+x-route: v2");
        assertThat(run.apply("/nothing")).contains("answered by route: 404 route_not_found");
        assertThat(run.apply("/old")).contains("answers 302", "{location=http://new.example/new}");
        assertThat(run.apply("/delay/1")).contains("timeout 500 ms");
    }

    @Test
    void headerChangesReadAsAddedChangedAndRemoved() {
        java.util.Map<String, java.util.List<String>> before = new java.util.TreeMap<>(java.util.Map.of(
                "x-debug", java.util.List.of("1"), "x-keep", java.util.List.of("k"), "x-set", java.util.List.of("old")));
        java.util.Map<String, java.util.List<String>> after = new java.util.TreeMap<>(java.util.Map.of(
                "x-keep", java.util.List.of("k"), "x-set", java.util.List.of("new"), "x-route", java.util.List.of("a", "b")));
        assertThat(Explain.headerChanges(before, after)).isEqualTo(" with request headers +x-route: a, b, ~x-set: new, -x-debug");
        assertThat(Explain.headerChanges(after, after)).isEmpty();
    }

    /**
     * A port declared TCP is a TCP tunnel, as ConnectHandler treats it: the L4 authorization once at
     * CONNECT, the TCPRoute or the target's own backend and its endpoints, and no HTTP stage (it printed
     * the HTTP stages and "route default -> ... (no timeout, 2 retries)").
     */
    @Test
    void aTcpTargetIsATunnelAuthorizedAtConnectWithoutHttpStages() {
        Run r = explain("GET", "http://127.10.0.13:9000/");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("target  Service demo/tcp-echo port 9000 (127.10.0.13:9000, tcp)",
                "tunnel  TCP (the port is declared TCP): authorized once, at CONNECT, then relayed as bytes; no HTTP stage runs",
                "l4-authz  continue", "l4-route  continue",
                "authz.decision  allow: no AuthorizationPolicy applies (L4: once per tunnel, at CONNECT)",
                "route           no TCPRoute: the target's own, Service demo/tcp-echo:9000",
                "result  relayed to Service demo/tcp-echo:9000 (connected before the CONNECT is answered 200)",
                "endpoints (1, least request unless a DestinationRule says otherwise)",
                "127.10.1.6:9000 (hbone spiffe://cluster.local/ns/demo/sa/tcp-echo)")
                .doesNotContain("telemetry", "normalize", "wasm", "retries", "forwarded to");
        Run json = explain("--output", "json", "GET", "http://127.10.0.13:9000/");
        assertThat(json.out()).contains("\"tunnel\" : \"tcp\"", "\"authz.decision\" : \"Allow[policy=no policy, rule=-1]\"",
                "\"backend\" : \"Service demo/tcp-echo:9000\"").doesNotContain("decisionText");
        assertThat(explain("--output", "json", "GET", "http://reviews.demo:9080/").out()).contains("\"tunnel\" : \"http\"");
    }

    @Test
    void aTcpRouteChoosesTheTunnelsBackend(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        try (java.io.InputStream in = ExplainTest.class.getResourceAsStream("/e2e/l4-routes-mesh.yaml")) {
            java.nio.file.Files.write(dir.resolve("mesh.yaml"), in.readAllBytes());
        }
        Run r = explainIn(dir.toString(), "GET", "http://tcp-front.l4:9000/");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("tunnel  TCP", "route           TCPRoute tcp-front.l4.0 -> Service l4/tcp-",
                "(a backend drawn by weight, once per connection)", "result  relayed to Service l4/tcp-")
                .doesNotContain("telemetry");
        // TLSRoutes: by the ClientHello's SNI, after the 200; an address names no SNI, and no TCPRoute attaches
        assertThat(explainIn(dir.toString(), "GET", "https://127.110.40.2/").out()).contains(
                "route           TLSRoute by SNI (none: the URL's host is an address), after the 200: no TLSRoute hostname "
                        + "matches, and no TCPRoute attaches: closed", "result  closed: 404 route_not_found");
    }

    /** TCP tunnels are authorized once, at CONNECT, with the L4 subset of the rules (HTTP-only fields never match in ALLOW). */
    @Test
    void anL4DenyRefusesTheConnectAndSaysWhy(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        for (String f : new String[] {"mesh.yaml", "services.yaml", "pods.yaml"}) {
            java.nio.file.Files.copy(java.nio.file.Path.of("../examples/demo", f), tmp.resolve(f));
        }
        java.nio.file.Files.writeString(tmp.resolve("policy.yaml"), """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: only-curl, namespace: demo}
                spec:
                  targetRefs: [{kind: Service, group: "", name: tcp-echo}]
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/demo/sa/curl]}}]
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: get-only, namespace: demo}
                spec:
                  targetRefs: [{kind: Service, group: "", name: tcp-echo}]
                  rules:
                  - to: [{operation: {methods: [GET]}}]
                """);
        Run denied = explainIn(tmp.toString(), "--from", "spiffe://cluster.local/ns/demo/sa/other", "GET",
                "http://127.10.0.13:9000/");
        assertThat(denied.exit()).as(denied.err()).isZero();
        assertThat(denied.out()).contains("l4-authz  refuses the CONNECT 401  rbac_access_denied_matched_policy",
                "authz.decision  deny: no ALLOW policy matched (2 ALLOW policies apply) (L4: once per tunnel, at CONNECT)",
                "result  CONNECT refused: 401 rbac_access_denied_matched_policy")
                .doesNotContain("Deny[", "l4-route", "endpoints");
        assertThat(explainIn(tmp.toString(), "--from", "spiffe://cluster.local/ns/demo/sa/curl", "GET",
                "http://127.10.0.13:9000/").out())
                .contains("authz.decision  allow: ALLOW policy demo/only-curl, rule 0 matched", "result  relayed to");
    }

    /** The default deny and each other decision, for a person; the JSON keeps the record's fields. */
    @Test
    void theDefaultDenySaysNoAllowPolicyMatched(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        for (String f : new String[] {"mesh.yaml", "services.yaml", "pods.yaml"}) {
            java.nio.file.Files.copy(java.nio.file.Path.of("../examples/demo", f), tmp.resolve(f));
        }
        java.nio.file.Files.writeString(tmp.resolve("policy.yaml"), """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: get-only, namespace: demo}
                spec:
                  targetRefs: [{kind: Service, group: "", name: reviews}]
                  rules:
                  - to: [{operation: {methods: [GET]}}]
                """);
        Run r = explainIn(tmp.toString(), "POST", "http://reviews.demo:9080/");
        assertThat(r.out()).contains("authz.decision  deny: no ALLOW policy matched (1 ALLOW policy applies)",
                "result  answered by authz: 403 rbac_access_denied_matched_policy").doesNotContain("Deny[");
        assertThat(explainIn(tmp.toString(), "--output", "json", "POST", "http://reviews.demo:9080/").out())
                .contains("\"authz.decision\" : \"Deny[policy=null, action=ALLOW, rule=-1]\"");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("decisions")
    void everyDecisionReadsAsWhatItMeans(dev.waypoint.model.request.AuthzDecision d, int allowPolicies, boolean noPolicy,
                                         String text) {
        assertThat(Explain.text(d, allowPolicies, noPolicy)).isEqualTo(text);
    }

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> decisions() {
        var allow = dev.waypoint.model.security.AuthorizationPolicySpec.Action.ALLOW;
        var deny = dev.waypoint.model.security.AuthorizationPolicySpec.Action.DENY;
        var custom = dev.waypoint.model.security.AuthorizationPolicySpec.Action.CUSTOM;
        return java.util.stream.Stream.of(
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Allow("no policy", -1),
                        0, true, "allow: no AuthorizationPolicy applies"),
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Allow("no policy", -1),
                        0, false, "allow: no ALLOW policy applies, and no DENY or CUSTOM rule matched"),
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Allow("apps/web", 2),
                        1, false, "allow: ALLOW policy apps/web, rule 2 matched"),
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Deny(null, allow, -1),
                        3, false, "deny: no ALLOW policy matched (3 ALLOW policies apply)"),
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Deny("apps/no", deny, 0),
                        0, false, "deny: DENY policy apps/no, rule 0 matched"),
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Deny("apps/ext", custom, 1),
                        0, false, "deny: CUSTOM policy apps/ext, rule 1 matched"),
                org.junit.jupiter.params.provider.Arguments.of(new dev.waypoint.model.request.AuthzDecision.Deny("apps/bad", deny, -1),
                        0, false, "deny: DENY policy apps/bad could not be compiled and denies every request it applies to"));
    }

    @Test
    void aBareNameIsAServiceOfTheCallersNamespace() {
        Run r = explain("--from", "spiffe://cluster.local/ns/demo/sa/curl", "GET", "http://reviews:9080/");
        assertThat(r.out()).contains("target  Service demo/reviews port 9080 (127.10.0.10:9080, http)");
        // without --from there is no namespace to look in
        assertThat(explain("GET", "http://reviews:9080/").out()).contains("or NAME with --from");
    }
}
