package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MainTest {
    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {}

    /** A directory with Istio's mounted layout of a real certificate, so that {@code --cert-dir} loads. */
    private Path certDir() throws java.io.IOException {
        Path dir = tmp.resolve("certs");
        if (!Files.isDirectory(dir)) {
            dev.waypoint.testing.TestCa.create("cluster.local")
                    .issue(new dev.waypoint.model.mesh.SpiffeId("cluster.local", "istio-system", "waypoint"))
                    .writeIstioLayout(dir);
        }
        return dir;
    }

    private static Run run(String... args) {
        StringWriter err = new StringWriter();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            CommandLine cl = Main.commandLine();
            cl.setErr(new PrintWriter(err, true));
            cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
            int exit = cl.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"run", "validate", "explain"}) {
            Run r = run(cmd, "--help");
            assertThat(r.exit()).isZero();
            assertThat(r.out()).contains("Usage: waypoint " + cmd);
        }
        assertThat(run("run", "--help").out()).contains("--config-dir", "--cert-dir", "--gateway", "--listen", "--health",
                "--stats", "--admin", "--hbone-port", "--trust-domain", "--upstream-idle-timeout", "--jwks-refresh-interval",
                "--root-namespace", "--path-normalization", "--trust-domain-alias", "--debug-headers", "--access-log", "--mesh-config");
        assertThat(run("validate", "--help").out()).contains("--root-namespace", "--mesh-config");
        assertThat(run("explain", "--help").out()).contains("--mesh-config");
    }

    @Test
    void theDemoIsNotACommandOfTheProduct() {
        // the demo mesh is waypoint-demo.jar; this jar carries no test CA or stand-ins
        assertThat(run("--help").out()).contains("run", "validate").doesNotContain("demo");
        Run r = run("demo");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("Unmatched argument at index 0: 'demo'");
    }

    @Test
    void validateExitsZeroOnTheDemoManifests() {
        Run r = run("validate", "../examples/demo", "--gateway", "istio-system/waypoint");
        assertThat(r.exit()).as(r.out()).isZero();
    }

    @Test
    void validatePrintsFileLineKindNameFieldAndExitsOne() throws Exception {
        Files.writeString(tmp.resolve("bad.yaml"), """
                apiVersion: v1
                kind: Service
                metadata:
                  name: web
                  namespace: apps
                spec:
                  clusterIP: 10.0.0.1
                  ports:
                  - port: 0
                """);
        Run r = run("validate", tmp.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("bad.yaml:1: Service apps/web: spec.ports[0].port: port: 0 (expected: 1-65535)");
    }

    @Test
    void validateReadsTheMeshConfigFile() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("manifests"));
        Path mesh = tmp.resolve("mesh.yaml");
        Files.writeString(mesh, "extensionProviders:\n- name: ext\n  envoyExtAuthzGrpc: {service: authz.foo.svc.cluster.local}\n");
        Run r = run("validate", dir.toString(), "--mesh-config", mesh.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains(mesh + ": MeshConfig -: extensionProviders[0].envoyExtAuthzGrpc.port: port: missing "
                + "(expected: 1-65535)");
        Files.writeString(mesh, "trustDomainAliases: [old.org]\n");
        assertThat(run("validate", dir.toString(), "--mesh-config", mesh.toString()).exit()).isZero();
    }

    @Test
    void validateReportsARequestAuthenticationWithoutKeysAndFetchesNothing() throws Exception {
        Files.writeString(tmp.resolve("ra.yaml"), """
                apiVersion: security.istio.io/v1
                kind: RequestAuthentication
                metadata: {name: jwt, namespace: apps}
                spec:
                  targetRefs: [{kind: Service, name: web}]
                  jwtRules:
                  - issuer: issuer.example
                  - issuer: https://other.example
                    jwksUri: http://192.0.2.1/never-fetched
                  - issuer: http://192.0.2.1/by-openid-discovery
                """);
        Run r = run("validate", tmp.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("ra.yaml:1: RequestAuthentication apps/jwt: spec.jwtRules[0].jwksUri: jwksUri: missing "
                + "(expected: jwksUri or jwks, or an issuer that is an http(s) URL for OpenID discovery of its keys)");
        assertThat(r.out()).as("a URL issuer's keys come by OpenID discovery (not fetched by validate)")
                .doesNotContain("spec.jwtRules[2]");
    }

    @Test
    void validateReportsAWasmPluginWhoseModuleCannotBeLoaded() throws Exception {
        Files.writeString(tmp.resolve("wasm.yaml"), """
                apiVersion: extensions.istio.io/v1alpha1
                kind: WasmPlugin
                metadata: {name: add-header, namespace: apps}
                spec:
                  targetRefs: [{kind: Service, group: "", name: web}]
                  url: file:///nonexistent/add-header.wasm
                """);
        Run r = run("validate", tmp.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("wasm.yaml:1: WasmPlugin apps/add-header: spec.url: module "
                + "file:///nonexistent/add-header.wasm cannot be loaded");
    }

    @Test
    void theJwksRefreshIntervalIsASetting() {
        Main.Run cmd = new Main.Run();
        new picocli.CommandLine(cmd).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway",
                "istio-system/waypoint", "--jwks-refresh-interval", "5m");
        assertThat(cmd.settings().jwks().refresh()).isEqualTo(java.time.Duration.ofMinutes(5));
        Main.Run dflt = new Main.Run();
        new picocli.CommandLine(dflt).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway",
                "istio-system/waypoint");
        assertThat(dflt.settings().jwks().refresh()).isEqualTo(java.time.Duration.ofMinutes(20));
    }

    @Test
    void validateNotesPoliciesAWaypointDoesNotEnforceAndFailsOnBrokenOnes() throws Exception {
        Files.writeString(tmp.resolve("policies.yaml"), """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: by-selector, namespace: apps}
                spec:
                  selector: {matchLabels: {app: web}}
                  action: DENY
                  rules: [{}]
                """);
        Run notes = run("validate", tmp.toString());
        assertThat(notes.exit()).as(notes.out()).isZero();
        assertThat(notes.out()).contains("policies.yaml:1: note: AuthorizationPolicy apps/by-selector: spec.selector: "
                + "a waypoint does not enforce selector policies");
        Files.writeString(tmp.resolve("broken.yaml"), """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: broken, namespace: istio-system}
                spec:
                  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
                  action: DENY
                  rules:
                  - when: [{key: destination.namespace, values: [apps]}]
                """);
        Run broken = run("validate", tmp.toString());
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.out()).contains("broken.yaml:1: AuthorizationPolicy istio-system/broken: spec.rules[0].when[0].key: "
                + "key: destination.namespace (expected: a supported attribute; destination.namespace is refused by Istio: "
                + "use the policy's namespace or targetRefs); the policy denies every request it applies to");
    }

    @Test
    void runReadsThePolicyFlags() {
        Main.Run cmd = new Main.Run();
        new CommandLine(cmd).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w",
                "--root-namespace", "mesh-root", "--path-normalization", "MERGE_SLASHES", "--debug-headers",
                "--trust-domain-alias", "old.local", "--trust-domain-alias", "older.local");
        assertThat(cmd.settings().authz()).isEqualTo(new dev.waypoint.authz.AuthzSettings("mesh-root",
                java.util.List.of("old.local", "older.local"), dev.waypoint.authz.PathNormalizer.Mode.MERGE_SLASHES, true));
        Main.Run defaults = new Main.Run();
        new CommandLine(defaults).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w");
        assertThat(defaults.settings().authz()).isEqualTo(dev.waypoint.authz.AuthzSettings.defaults());
    }

    @Test
    void runRefusesAMissingRequiredFlag() {
        Run r = run("run", "--config-dir", tmp.toString());
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("Missing required option");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"500ms, PT0.5S", "60s, PT1M", "5m, PT5M", "1h, PT1H"})
    void durationsAreWrittenAsIstioWritesThem(String text, java.time.Duration expected) {
        assertThat(Main.duration("--upstream-idle-timeout", text)).isEqualTo(expected);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"0s", "60", "-1s", "1d", "fast"})
    void badDurationsNameTheFlagAndTheExpectedForm(String text) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Main.duration("--upstream-idle-timeout", text))
                .hasMessage("--upstream-idle-timeout: " + text + " (expected: a positive duration such as 500ms, 60s, 5m, 1h)");
    }

    @Test
    void validateNotesBoundServiceEntriesAndRefusesBadOnes() throws Exception {
        try (java.io.InputStream in = MainTest.class.getResourceAsStream("/e2e/service-entry-mesh.yaml")) {
            Files.write(tmp.resolve("se.yaml"), in.readAllBytes());
        }
        Run ok = run("validate", tmp.toString());
        assertThat(ok.exit()).as(ok.out()).isZero();
        assertThat(ok.out()).contains("ServiceEntry egress/static-ext: metadata.labels: bound to this waypoint: hosts "
                + "[static.example.test], addresses [127.110.0.1], ports [80/http, 9000/tcp], resolution STATIC, MESH_EXTERNAL");
        Files.writeString(tmp.resolve("bad.yaml"), """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: wild, namespace: egress}
                spec:
                  hosts: ["*.example.com"]
                  ports: [{number: 443, name: tls, protocol: TLS}]
                  resolution: DYNAMIC_DNS
                """);
        Run bad = run("validate", tmp.toString());
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.out()).contains("bad.yaml:1: ServiceEntry egress/wild: spec.resolution: resolution: DYNAMIC_DNS "
                + "(expected: NONE, STATIC, DNS or DNS_ROUND_ROBIN; DYNAMIC_DNS is not supported by this waypoint)");
    }

    @Test
    void theLocalityComesFromTheFlagOrIstiosProxyLabels() {
        Main.Run cmd = new Main.Run();
        new CommandLine(cmd).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w",
                "--locality", "us-west/zone1");
        assertThat(cmd.settings().upstream().locality()).isEqualTo(new dev.waypoint.lb.Locality("us-west", "zone1", ""));
        assertThat(Main.locality(null, "{\"app\": \"w\", \"istio-locality\": \"r1.z1.s1\"}"))
                .isEqualTo(new dev.waypoint.lb.Locality("r1", "z1", "s1"));
        assertThat(Main.locality(null, "{\"topology.istio.io/locality\": \"r2.z2\", \"istio-locality\": \"r1.z1\"}"))
                .isEqualTo(new dev.waypoint.lb.Locality("r2", "z2", ""));
        assertThat(Main.locality(null, "{\"topology.kubernetes.io/region\": \"r3\", \"topology.kubernetes.io/zone\": \"z3\"}"))
                .isEqualTo(new dev.waypoint.lb.Locality("r3", "z3", ""));
        assertThat(Main.locality("", null)).isEqualTo(dev.waypoint.lb.Locality.NONE);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Main.locality("a/b/c/d", null))
                .hasMessageContaining("--locality: locality: a/b/c/d (expected: REGION[/ZONE[/SUBZONE]])");
        assertThat(run("run", "--help").out()).contains("--locality");
    }

    @Test
    void runHelpNamesTheDnsServerFlag() {
        assertThat(run("run", "--help").out()).contains("--dns-server").contains("resolution: DNS");
    }

    @Test
    void theClusterIdNamesTheClusterInTheTelemetryAndWasmMetadataToo() {
        Main.Run cmd = new Main.Run();
        new CommandLine(cmd).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w",
                "--cluster-id", "east-1");
        assertThat(cmd.settings().clusterId()).isEqualTo("east-1");
        Main.Run dflt = new Main.Run();
        new CommandLine(dflt).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w");
        String env = System.getenv("ISTIO_META_CLUSTER_ID");
        assertThat(dflt.settings().clusterId()).isEqualTo(env == null || env.isEmpty() ? "Kubernetes" : env);
        Main.Run blank = new Main.Run();
        new CommandLine(blank).parseArgs("--config-dir", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w",
                "--cluster-id", " ");
        org.assertj.core.api.Assertions.assertThatThrownBy(blank::settings)
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageStartingWith("--cluster-id: ");
        assertThat(run("run", "--help").out()).contains("--cluster-id").contains("destination_cluster")
                .contains("CLUSTER_ID");
        assertThat(run("explain", "--help").out()).contains("--cluster-id");
    }

    @Test
    void everyCommandPrintsItsVersion() {
        // -V is offered by every subcommand's help; it printed an empty line on run, validate, explain
        for (String[] args : new String[][] {{"-V"}, {"run", "-V"}, {"validate", "-V"}, {"explain", "-V"}}) {
            Run r = run(args);
            assertThat(r.exit()).isZero();
            assertThat(r.out().trim()).as(String.join(" ", args)).isEqualTo("waypoint 0.1.0");
        }
    }

    @Test
    void onlyRunWatchesTheMeshConfig() {
        // validate and explain read the files once; --help said "watched like the manifests" for all three
        assertThat(run("run", "--help").out().replaceAll("\\s+", " ")).contains("watched like the manifests");
        for (String cmd : new String[] {"validate", "explain"}) {
            assertThat(run(cmd, "--help").out().replaceAll("\\s+", " ")).as(cmd).doesNotContain("watched")
                    .contains("read once");
        }
        assertThat(run("validate", "--help").out().replaceAll("\\s+", " ")).contains("Exit 0 when there is no error");
        assertThat(run("run", "--help").out().replaceAll("\\s+", " "))
                .contains("route status.parents entries this waypoint writes (HTTPRoute, GRPCRoute, TCPRoute, TLSRoute)");
    }

    /**
     * A wrong value of a {@code run} flag is a usage error (exit 2) naming the flag, with the usage of
     * {@code waypoint run}, before anything starts: no stack trace, no listener bound. The base flags
     * bind 127.51.x.x only, in case a row did not stop the start.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', textBlock = """
            --gateway               | waypoint        | --gateway: name: waypoint (expected: namespace/name)
            --stream-window         | 100             | --stream-window, --connection-window: windows: stream 100, connection 16777216 (expected: 65535 <= stream <= connection)
            --connection-window     | 65535           | --stream-window, --connection-window: windows: stream 4194304, connection 65535
            --hbone-port            | 70000           | --hbone-port: hbonePort: 70000 (expected: 1-65535)
            --workers               | -1              | --workers: -1 (expected: 0 for one per core, or more)
            --listen                | nope            | --listen: address: nope (expected: host:port)
            --health                | 127.51.0.1:99999 | --health: port: 99999 (expected: 0-65535)
            --dns-server            | nope            | --dns-server: address: nope (expected: host:port)
            --upstream-idle-timeout | 1d              | --upstream-idle-timeout: 1d (expected: a positive duration
            --config-dir            | MISSING         | (expected: a directory; it does not exist)
            --cert-dir              | FILE            | (expected: a directory)
            --cert-dir              | EMPTY           | cert-chain.pem: not found in
            --cert-dir              | NOT_PEM         | (expected: Istio's layout, cert-chain.pem, key.pem and root-cert.pem)
            --trust-domain          | ''              | --trust-domain: "" (expected: a SPIFFE trust domain
            --trust-domain          | a/b             | --trust-domain: "a/b" (expected: a SPIFFE trust domain
            --ca-cert-lifetime      | forever         | --ca-cert-lifetime: forever (expected: a positive duration
            --access-log            | NO_DIR          | (expected: a file in a directory that exists;
            --access-log            | DIR             | (expected: a writable file)
            """)
    void aWrongRunFlagIsAUsageErrorNamingIt(String flag, String value, String message) throws Exception {
        java.util.Map<String, String> flags = new java.util.LinkedHashMap<>();
        flags.put("--config-dir", tmp.toString());
        flags.put("--cert-dir", certDir().toString());
        flags.put("--gateway", "istio-system/waypoint");
        flags.put("--listen", "127.51.0.1:0");
        flags.put("--health", "127.51.0.1:0");
        flags.put("--stats", "127.51.0.1:0");
        flags.put("--admin", "127.51.0.1:0");
        Path file = Files.writeString(tmp.resolve("a-file"), "");
        flags.put(flag, switch (value) {
            case "MISSING" -> tmp.resolve("missing").toString();
            case "FILE" -> file.toString();
            case "NO_DIR" -> tmp.resolve("missing").resolve("access.log").toString();
            case "DIR" -> tmp.toString();
            case "EMPTY" -> Files.createDirectory(tmp.resolve("empty")).toString();
            case "NOT_PEM" -> {
                Path dir = Files.createDirectory(tmp.resolve("not-pem"));
                for (String name : java.util.List.of("cert-chain.pem", "key.pem", "root-cert.pem")) {
                    Files.writeString(dir.resolve(name), "not a certificate\n");
                }
                yield dir.toString();
            }
            default -> value;
        });
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("run"));
        flags.forEach((k, v) -> args.addAll(java.util.List.of(k, v)));
        Run r = run(args.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains(message).doesNotContain("Exception");
        assertShortUsageError(r, "waypoint run");
        if (java.util.Set.of("MISSING", "FILE", "EMPTY", "NOT_PEM", "NO_DIR", "DIR").contains(value)) {
            assertThat(r.err()).startsWith(flag + ": ");
        }
    }

    @Test
    void aKubeconfigThatIsNotThereIsAUsageErrorBeforeAnythingStarts() {
        Run r = run("run", "--kube", "--kubeconfig", tmp.resolve("missing").toString(), "--cert-dir", tmp.toString(),
                "--gateway", "istio-system/waypoint", "--listen", "127.51.0.1:0", "--health", "127.51.0.1:0",
                "--stats", "127.51.0.1:0", "--admin", "127.51.0.1:0");
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).startsWith("--kubeconfig: " + tmp.resolve("missing") + " (expected: a readable file; it does not exist)")
                .doesNotContain("Exception");
        assertShortUsageError(r, "waypoint run");
    }

    @Test
    void aWrongGatewayOfValidateOrExplainIsAUsageError() {
        Run v = run("validate", "../examples/demo", "--gateway", "waypoint");
        assertThat(v.exit()).isEqualTo(2);
        assertThat(v.err()).contains("--gateway: name: waypoint (expected: namespace/name)");
        assertShortUsageError(v, "waypoint validate");
        Run e = run("explain", "--config-dir", "../examples/demo", "--gateway", "waypoint", "GET", "http://reviews.demo:9080/");
        assertThat(e.exit()).isEqualTo(2);
        assertThat(e.err()).contains("--gateway: name: waypoint (expected: namespace/name)");
        assertShortUsageError(e, "waypoint explain");
    }

    /**
     * A usage error is its message and one line pointing at the help of the command that refused it,
     * not the whole usage (126 lines for run), which scrolled the message away.
     */
    private static void assertShortUsageError(Run r, String command) {
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).doesNotContain("Usage:")
                .endsWith(System.lineSeparator() + "Try '" + command + " --help' for more information." + System.lineSeparator());
        assertThat(r.err().lines().count()).as(r.err()).isEqualTo(2);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', textBlock = """
            waypoint run      | run --gateway istio-system/waypoint --no-such-flag
            waypoint run      | run --config-dir .
            waypoint validate | validate
            waypoint explain  | explain --config-dir ../examples/demo GET
            waypoint          | --no-such-flag
            """)
    void everyUsageErrorIsOneLineAndAPointerToTheHelp(String command, String args) {
        Run r = run(args.split(" "));
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).doesNotContain("Usage:")
                .endsWith("Try '" + command + " --help' for more information." + System.lineSeparator());
    }

    /**
     * A listen address that is taken (--listen, --health, --stats, --admin) is one line naming the
     * address and the flag, exit 1, before anything starts: it was Netty's bare
     * "bind(..) failed with error(-98): Address already in use" stack trace.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"--listen", "--health", "--stats", "--admin"})
    void aTakenListenAddressIsOneLineNamingTheFlag(String flag) throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            java.util.Map<String, String> flags = new java.util.LinkedHashMap<>();
            flags.put("--config-dir", tmp.toString());
            flags.put("--cert-dir", certDir().toString());
            flags.put("--gateway", "istio-system/waypoint");
            for (String f : new String[] {"--listen", "--health", "--stats", "--admin"}) {
                flags.put(f, "127.51.0.1:0");
            }
            flags.put(flag, "127.0.0.1:" + taken.getLocalPort());
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("run"));
            flags.forEach((k, v) -> args.addAll(java.util.List.of(k, v)));
            Run r = run(args.toArray(String[]::new));
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("waypoint: cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (" + flag
                    + "): Address already in use" + System.lineSeparator());
        }
    }

    @Test
    void twoFlagsOnOnePortAreFoundAsTheServerWouldBindThem() throws Exception {
        java.net.InetSocketAddress any = new java.net.InetSocketAddress("127.51.0.2", 0);
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.51.0.2"))) {
            java.net.InetSocketAddress port = new java.net.InetSocketAddress("127.51.0.2", taken.getLocalPort());
            assertThat(Main.cannotListen(java.util.List.of(new Main.Listen("--stats", any), new Main.Listen("--admin", port))))
                    .isEqualTo("waypoint: cannot listen on 127.51.0.2:" + taken.getLocalPort()
                            + " (--admin): Address already in use");
        }
        assertThat(Main.cannotListen(java.util.List.of(new Main.Listen("--stats", any), new Main.Listen("--admin", any))))
                .as("port 0 twice is two ports").isNull();
        assertThat(Main.cannotListen(java.util.List.of(new Main.Listen("--listen",
                java.net.InetSocketAddress.createUnresolved("no-such-host.invalid", 15008)))))
                .isEqualTo("waypoint: cannot listen on no-such-host.invalid:15008 (--listen): unknown host");
    }

    /** What the server's own bind throws (Netty's native transport or the JDK's) is recognized, with its reason. */
    @Test
    void aBindFailureOfTheServerIsRecognizedWithItsReason() throws Exception {
        io.netty.channel.EventLoopGroup group = dev.waypoint.transport.EventLoops.newGroup(1, "test-admin");
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            Exception thrown = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                    () -> dev.waypoint.server.admin.AdminServer.start(group,
                            new java.net.InetSocketAddress("127.0.0.1", taken.getLocalPort()), java.util.Map.of()));
            assertThat(Main.bindFailure(new IllegalStateException("start failed", thrown))).isEqualTo("Address already in use");
        } finally {
            group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        }
        assertThat(Main.bindFailure(new java.io.IOException("bind(..) failed with error(-99): Cannot assign requested address")))
                .isEqualTo("Cannot assign requested address");
        assertThat(Main.bindFailure(new java.io.IOException("certificate unreadable"))).isNull();
    }

    /**
     * run --help says what the README's flags table says: the CA default with --kube, every path the
     * admin and stats servers answer (WaypointServer.startAdmin), and that --mesh-config is refused with --kube.
     */
    @Test
    void runHelpSaysWhatEachAddressServesAndTheDefaultsWithKube() {
        String help = run("run", "--help").out().replaceAll("\\s+", " ");
        // (picocli may wrap inside the host name)
        assertThat(help.replace(" ", "")).contains("givethisor--cert-dir.Defaultwith--kubeandneither:istiod,"
                + "istiod.istio-system.svc:15012.");
        assertThat(help).contains(
                "--admin=HOST:PORT Admin: GET /config_dump, and the readiness answer on GET /ready (Envoy's admin path) "
                        + "and /healthz/ready (default: 127.0.0.1:15000)",
                "--stats=HOST:PORT Prometheus: GET /stats/prometheus; GET /healthz/ready answers here too",
                "--health=HOST:PORT Readiness: GET /healthz/ready",
                "Only with --config-dir: refused with --kube, whose mesh config is that ConfigMap (watched)");
        // the help's claim, enforced: --mesh-config with --kube is a usage error
        Run r = run("run", "--kube", "--mesh-config", tmp.toString(), "--cert-dir", tmp.toString(), "--gateway", "ns/w");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).startsWith("--mesh-config: only with --config-dir");
    }

    /** A DIR that is not a directory is a usage error (2), as explain's --config-dir; 1 stays "the config has errors". */
    @Test
    void validateOfWhatIsNotADirectoryIsAUsageError() throws Exception {
        Run missing = run("validate", tmp.resolve("nope").toString());
        assertThat(missing.err()).startsWith("DIR: " + tmp.resolve("nope") + " (expected: a directory; it does not exist)");
        assertShortUsageError(missing, "waypoint validate");
        Path file = Files.writeString(tmp.resolve("a.yaml"), "");
        Run notADir = run("validate", file.toString());
        assertThat(notADir.err()).startsWith("DIR: " + file + " (expected: a directory)");
        assertShortUsageError(notADir, "waypoint validate");
        Run explain = run("explain", "--config-dir", tmp.resolve("nope").toString(), "GET", "http://reviews.demo/");
        assertThat(explain.err()).startsWith("--config-dir: " + tmp.resolve("nope") + " (expected: a directory; it does not exist)");
        assertShortUsageError(explain, "waypoint explain");
    }

    @Test
    void validateTakesTheDirectoryAsDirOrAsConfigDir() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("manifests-either-way"));
        Files.writeString(dir.resolve("m.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
        Run positional = run("validate", dir.toString());
        Run flag = run("validate", "--config-dir", dir.toString());
        assertThat(flag.exit()).isEqualTo(positional.exit()).isZero();
        assertThat(flag.out()).isEqualTo(positional.out());
        Run neither = run("validate");
        assertThat(neither.err()).startsWith("DIR: missing (expected: a directory of manifests, as DIR or --config-dir DIR)");
        assertShortUsageError(neither, "waypoint validate");
        Run both = run("validate", dir.toString(), "--config-dir", dir.toString());
        assertThat(both.err()).startsWith("DIR and --config-dir " + dir + ": both given");
        assertShortUsageError(both, "waypoint validate");
    }

    @Test
    void validateFetchesNoWasmModuleFromTheNetwork() throws Exception {
        // Istio's extend-waypoint-wasm page: an oci:// module; an offline CI lint of it must pass
        Path dir = Files.createDirectories(tmp.resolve("wasm-offline"));
        Files.writeString(dir.resolve("m.yaml"), """
                apiVersion: extensions.istio.io/v1alpha1
                kind: WasmPlugin
                metadata: {name: basic-auth-at-waypoint, namespace: default}
                spec:
                  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
                  url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0
                  phase: AUTHN
                """);
        Run r = run("validate", dir.toString(), "--gateway", "default/waypoint");
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).contains("note: WasmPlugin default/basic-auth-at-waypoint: spec.url: module "
                + "oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0 not fetched: validate and explain use no network");
        // a file:// module is still read and checked
        Files.writeString(dir.resolve("m.yaml"), Files.readString(dir.resolve("m.yaml"))
                .replace("oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0", dir.resolve("none.wasm").toUri().toString()));
        Run file = run("validate", dir.toString(), "--gateway", "default/waypoint");
        assertThat(file.exit()).isEqualTo(1);
        assertThat(file.out()).contains("cannot be loaded");
    }
}
