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
                "default -> Service demo/reviews:9080 (no timeout, 2 retries)", "authz.decision  Allow",
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
                "authz.decision  Allow[policy=demo/egress-get-only, rule=0]");
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
                "result  forwarded to Service apps/web-v2:80 on route web.apps.v2");
        assertThat(run.apply("/nothing")).contains("answered by route: 404 route_not_found");
        assertThat(run.apply("/old")).contains("answers 302", "{location=http://new.example/new}");
        assertThat(run.apply("/delay/1")).contains("timeout 500 ms");
    }
}
