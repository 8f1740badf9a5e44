package dev.waypoint.server;

import dev.waypoint.authz.AuthzPolicyCompiler;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.authz.PathNormalizer;
import dev.waypoint.config.ConfigValidator;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The product's command line, {@code waypoint run | validate}. (The local demo mesh is the
 * separate {@code waypoint-demo} jar: it needs the test CA and stand-ins, which this jar leaves out.)
 */
@Command(name = "waypoint", mixinStandardHelpOptions = true, version = "waypoint 0.1.0",
        description = "An Istio ambient-mesh waypoint (HBONE L7 proxy) in Java on Netty.",
        subcommands = {Main.Run.class, Main.Validate.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Runs one command and exits with its status. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /**
     * Parses an address flag the way {@code run} does: {@code host:port}, {@code [v6]:port}, or
     * {@code :port} for the wildcard address. Public for other command lines over the server (the
     * demo's {@code --listen}).
     *
     * @throws CommandLine.TypeConversionException if {@code text} is not one of those forms or the
     *     port is outside 0-65535
     */
    public static InetSocketAddress address(String text) {
        Objects.requireNonNull(text, "text");
        int colon = text.lastIndexOf(':');
        if (colon < 0) {
            throw new CommandLine.TypeConversionException("address: " + text + " (expected: host:port)");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("address: " + text + " (expected: host:port)");
        }
        if (port < 0 || port > 65535) {
            throw new CommandLine.TypeConversionException("port: " + port + " (expected: 0-65535)");
        }
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Serve HBONE for one waypoint Gateway, configured from a directory of Kubernetes manifests.")
    static final class Run implements Callable<Integer> {
        @Option(names = "--config-dir", required = true, paramLabel = "DIR",
                description = "Directory of Kubernetes YAML manifests (*.yaml, *.yml, recursive); watched for changes.")
        Path configDir;

        @Option(names = "--cert-dir", required = true, paramLabel = "DIR",
                description = "Istio's mounted certificate layout: cert-chain.pem, key.pem, root-cert.pem; reloaded on change.")
        Path certDir;

        @Option(names = "--gateway", required = true, paramLabel = "NAMESPACE/NAME",
                description = "The Gateway (class istio-waypoint) this process is.")
        String gateway;

        @Option(names = "--listen", defaultValue = "0.0.0.0:15008", paramLabel = "HOST:PORT",
                description = "HBONE listener (default: ${DEFAULT-VALUE}).")
        String listen;

        @Option(names = "--health", defaultValue = "0.0.0.0:15021", paramLabel = "HOST:PORT",
                description = "Readiness: GET /healthz/ready (default: ${DEFAULT-VALUE}).")
        String health;

        @Option(names = "--stats", defaultValue = "0.0.0.0:15020", paramLabel = "HOST:PORT",
                description = "Prometheus: GET /stats/prometheus (default: ${DEFAULT-VALUE}).")
        String stats;

        @Option(names = "--admin", defaultValue = "127.0.0.1:15000", paramLabel = "HOST:PORT",
                description = "Admin: GET /config_dump (default: ${DEFAULT-VALUE}).")
        String admin;

        @Option(names = "--hbone-port", defaultValue = "15008", paramLabel = "PORT",
                description = "Port on which each destination pod's ztunnel accepts HBONE (default: ${DEFAULT-VALUE}).")
        int hbonePort;

        @Option(names = "--trust-domain", defaultValue = "cluster.local", paramLabel = "DOMAIN",
                description = "Mesh trust domain (default: ${DEFAULT-VALUE}).")
        String trustDomain;

        @Option(names = "--workers", defaultValue = "0", paramLabel = "N",
                description = "Data-path event loops; 0 = one per core (default: ${DEFAULT-VALUE}).")
        int workers;

        @Option(names = "--stream-window", defaultValue = "4194304", paramLabel = "BYTES",
                description = "HTTP/2 stream window, inbound and outbound HBONE (default: ${DEFAULT-VALUE}).")
        int streamWindow;

        @Option(names = "--connection-window", defaultValue = "16777216", paramLabel = "BYTES",
                description = "HTTP/2 connection window, inbound and outbound HBONE (default: ${DEFAULT-VALUE}).")
        int connectionWindow;

        @Option(names = "--root-namespace", defaultValue = AuthzPolicyCompiler.DEFAULT_ROOT_NAMESPACE, paramLabel = "NS",
                description = "Istio's root namespace: AuthorizationPolicies targeting the istio-waypoint GatewayClass "
                        + "apply only from here (default: ${DEFAULT-VALUE}).")
        String rootNamespace;

        @Option(names = "--path-normalization", defaultValue = "BASE", paramLabel = "MODE",
                description = "Request path normalization before policies and forwarding: NONE, BASE, MERGE_SLASHES, "
                        + "DECODE_AND_MERGE_SLASHES (default: ${DEFAULT-VALUE}).")
        PathNormalizer.Mode pathNormalization;

        @Option(names = "--trust-domain-alias", paramLabel = "DOMAIN",
                description = "Mesh config trustDomainAliases (repeatable): policy principals written with the trust "
                        + "domain or any alias match peers of all of them.")
        List<String> trustDomainAliases = new java.util.ArrayList<>();

        @Option(names = "--debug-headers",
                description = "Add x-waypoint-authz (the authorization decision) to every response.")
        boolean debugHeaders;

        @Option(names = "--upstream-idle-timeout", defaultValue = "60s", paramLabel = "DURATION",
                description = "Idle pooled upstream HTTP connections (keep-alive HTTP/1.1, h2c) are closed after this; "
                        + "e.g. 60s, 5m (default: ${DEFAULT-VALUE}).")
        String upstreamIdleTimeout;

        @Override
        public Integer call() throws Exception {
            WaypointSettings settings = settings();
            WaypointServer server = WaypointServer.start(settings);
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                // SIGTERM: stop being ready, GOAWAY, let in-flight tunnels finish, then exit
                server.drain();
                server.close();
                stopped.countDown();
            }, "shutdown"));
            stopped.await();
            return 0;
        }

        WaypointSettings settings() {
            ListenerSettings listener = ListenerSettings.defaults(address(listen)).withWindows(streamWindow, connectionWindow);
            UpstreamSettings upstream = UpstreamSettings.defaults(hbonePort).withWindows(streamWindow, connectionWindow)
                    .withHttpIdleTimeout(duration("--upstream-idle-timeout", upstreamIdleTimeout));
            return new WaypointSettings(configDir, certDir, NamespacedName.parse(gateway), trustDomain, listener, upstream,
                    address(health), address(stats), address(admin), workers,
                    new AuthzSettings(rootNamespace, trustDomainAliases, pathNormalization, debugHeaders));
        }
    }

    /** {@code 500ms}, {@code 60s}, {@code 5m}, {@code 1h}, as Istio's duration fields are written. */
    static java.time.Duration duration(String flag, String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m|h)").matcher(text.trim());
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()),
                    flag + ": " + text + " (expected: a positive duration such as 500ms, 60s, 5m, 1h)");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> java.time.Duration.ofMillis(n);
            case "s" -> java.time.Duration.ofSeconds(n);
            case "m" -> java.time.Duration.ofMinutes(n);
            default -> java.time.Duration.ofHours(n);
        };
    }

    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = "Load a manifest directory as `run` would and print every problem as "
                    + "file:line: Kind namespace/name: field: message. Exit 0 if clean, 1 otherwise.")
    static final class Validate implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "Directory of Kubernetes YAML manifests.")
        Path dir;

        @Option(names = "--gateway", defaultValue = "istio-system/waypoint", paramLabel = "NAMESPACE/NAME",
                description = "The waypoint Gateway the manifests are checked for (default: ${DEFAULT-VALUE}).")
        String gateway;

        @Option(names = "--trust-domain", defaultValue = "cluster.local", paramLabel = "DOMAIN",
                description = "Mesh trust domain (default: ${DEFAULT-VALUE}).")
        String trustDomain;

        @Option(names = "--root-namespace", defaultValue = AuthzPolicyCompiler.DEFAULT_ROOT_NAMESPACE, paramLabel = "NS",
                description = "Istio's root namespace (default: ${DEFAULT-VALUE}).")
        String rootNamespace;

        @Override
        public Integer call() {
            if (!Files.isDirectory(dir)) {
                System.err.println(dir + ": not a directory");
                return 1;
            }
            List<Diagnostics.Problem> problems = ConfigValidator.validate(dir, NamespacedName.parse(gateway), trustDomain,
                    WaypointServer.compilers(new AuthzSettings(rootNamespace, List.of(), PathNormalizer.Mode.BASE, false)));
            for (Diagnostics.Problem p : problems) {
                System.out.println(p);
            }
            boolean errors = ConfigValidator.hasErrors(problems);
            System.err.println(errors ? "invalid: " + problems.size() + " problem(s)"
                    : "ok (" + problems.size() + " warning(s) or note(s))");
            return errors ? 1 : 0;
        }
    }
}
