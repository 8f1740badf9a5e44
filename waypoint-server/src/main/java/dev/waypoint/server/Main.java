package dev.waypoint.server;

import dev.waypoint.authz.AuthzPolicyCompiler;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.authz.PathNormalizer;
import dev.waypoint.ca.CaSettings;
import dev.waypoint.config.ConfigValidator;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The product's command line, {@code waypoint run | validate | explain}. (The local demo mesh is the
 * separate {@code waypoint-demo} jar: it needs the test CA and stand-ins, which this jar leaves out.)
 */
@Command(name = "waypoint", mixinStandardHelpOptions = true, version = Main.VERSION,
        description = "An Istio ambient-mesh waypoint (HBONE L7 proxy) in Java on Netty.",
        subcommands = {Main.Run.class, Main.Validate.class, Main.ExplainCmd.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** What {@code -V} prints, of the top command and of each subcommand (picocli does not pass it down). */
    static final String VERSION = "waypoint 0.1.0";

    /** Runs one command and exits with its status. */
    public static void main(String[] args) {
        JvmDefaults.apply(); // before any Netty class loads
        System.exit(commandLine().execute(args));
    }

    /**
     * The command line {@link #main} executes: a usage error prints its message and one line
     * pointing at the command's {@code --help} (exit 2), not the whole usage, which (126 lines for
     * {@code run}) scrolls the message away.
     */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((e, args) -> usageError(cl, e));
        return cl;
    }

    /**
     * {@code e}'s message, picocli's suggestions for a mistyped name, and
     * {@code Try 'waypoint run --help' for more information.}, on {@code top}'s error stream;
     * returns the exit code for invalid input (2).
     */
    private static int usageError(CommandLine top, CommandLine.ParameterException e) {
        java.io.PrintWriter err = top.getErr();
        err.println(e.getMessage());
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        CommandLine failed = e.getCommandLine();
        err.println("Try '" + failed.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return failed.getExitCodeExceptionMapper() != null ? failed.getExitCodeExceptionMapper().getExitCode(e)
                : failed.getCommandSpec().exitCodeOnInvalidInput();
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

    @Command(name = "run", mixinStandardHelpOptions = true, version = Main.VERSION,
            description = "Serve HBONE for one waypoint Gateway, configured from a directory of Kubernetes manifests "
                    + "(--config-dir) or from the Kubernetes API (--kube).")
    static final class Run implements Callable<Integer> {
        @Option(names = "--config-dir", paramLabel = "DIR",
                description = "Directory of Kubernetes YAML manifests (*.yaml, *.yml, *.json, recursive); watched for changes. "
                        + "Exactly one of --config-dir and --kube.")
        Path configDir;

        @Option(names = "--kube",
                description = "Read the config from the Kubernetes API (informers on every kind --config-dir reads, "
                        + "the istio ConfigMap of the root namespace as mesh config) and write route and policy status back. "
                        + "Without --kubeconfig: the pod's service account (outside a pod, $KUBECONFIG or ~/.kube/config).")
        boolean kube;

        @Option(names = "--kubeconfig", paramLabel = "FILE",
                description = "With --kube: the kubeconfig file to use (its current context) instead of the in-cluster config.")
        Path kubeconfig;

        @Option(names = "--controller-name", defaultValue = dev.waypoint.kube.KubeSettings.DEFAULT_CONTROLLER_NAME,
                paramLabel = "NAME",
                description = "With --kube: the controllerName of the route status.parents entries this waypoint writes "
                        + "(HTTPRoute, GRPCRoute, TCPRoute, TLSRoute); "
                        + "its domain prefixes the policy condition type (default: ${DEFAULT-VALUE}).")
        String controllerName;

        @Option(names = "--cert-dir", paramLabel = "DIR",
                description = "Istio's mounted certificate layout: cert-chain.pem, key.pem, root-cert.pem; reloaded on change. "
                        + "For custom CAs; give this or --ca-address.")
        Path certDir;

        @Option(names = "--ca-address", paramLabel = "HOST:PORT",
                description = "Get this proxy's certificate from Istio's CA, renewed at half its lifetime; give this "
                        + "or --cert-dir. Default with --kube and neither: istiod, " + CaSettings.ISTIOD_ADDRESS + ".")
        String caAddress;

        @Option(names = "--ca-root-cert", defaultValue = CaSettings.DEFAULT_ROOT_CERT, paramLabel = "FILE",
                description = "Mesh root certificates (the istio-ca-root-cert ConfigMap): verify the CA and every peer "
                        + "(default: ${DEFAULT-VALUE}).")
        Path caRootCert;

        @Option(names = "--ca-token", defaultValue = CaSettings.DEFAULT_TOKEN, paramLabel = "FILE",
                description = "Projected service-account token of audience istio-ca, sent to the CA as a bearer token "
                        + "(default: ${DEFAULT-VALUE}).")
        Path caToken;

        @Option(names = "--namespace", defaultValue = "${env:POD_NAMESPACE}", paramLabel = "NS",
                description = "This pod's namespace, for the certificate's SPIFFE ID (default: $POD_NAMESPACE).")
        String namespace;

        @Option(names = "--service-account", defaultValue = "${env:SERVICE_ACCOUNT}", paramLabel = "SA",
                description = "This pod's service account, for the certificate's SPIFFE ID (default: $SERVICE_ACCOUNT).")
        String serviceAccount;

        @Option(names = "--cluster-id", defaultValue = "${env:ISTIO_META_CLUSTER_ID:-Kubernetes}", paramLabel = "ID",
                description = "This cluster's name: source_cluster/destination_cluster in the telemetry labels, the "
                        + "CONNECT answer's baggage, the wasm node metadata's CLUSTER_ID, and the ClusterID header "
                        + "sent to the CA (default: $ISTIO_META_CLUSTER_ID, else Kubernetes).")
        String clusterId;

        @Option(names = "--ca-cert-lifetime", defaultValue = "24h", paramLabel = "DURATION",
                description = "Certificate lifetime asked of the CA (default: ${DEFAULT-VALUE}).")
        String caCertLifetime;

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
                description = "Prometheus: GET /stats/prometheus; GET /healthz/ready answers here too "
                        + "(default: ${DEFAULT-VALUE}).")
        String stats;

        @Option(names = "--admin", defaultValue = "127.0.0.1:15000", paramLabel = "HOST:PORT",
                description = "Admin: GET /config_dump, and the readiness answer on GET /ready (Envoy's admin path) "
                        + "and /healthz/ready (default: ${DEFAULT-VALUE}).")
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

        @Option(names = "--access-log", paramLabel = "FILE",
                description = "Write one line per request and TCP tunnel to FILE ('-': standard output) when the mesh "
                        + "config sets no accessLogFile (its accessLogEncoding and accessLogFormat still apply); "
                        + "off by default, as meshConfig.accessLogFile is.")
        String accessLog;
        @Option(names = "--root-namespace", defaultValue = AuthzPolicyCompiler.DEFAULT_ROOT_NAMESPACE, paramLabel = "NS",
                description = "Istio's root namespace: AuthorizationPolicies targeting the istio-waypoint GatewayClass "
                        + "apply only from here (default: ${DEFAULT-VALUE}).")
        String rootNamespace;

        @Option(names = "--path-normalization", paramLabel = "MODE",
                description = "Request path normalization before policies and forwarding: NONE, BASE, MERGE_SLASHES, "
                        + "DECODE_AND_MERGE_SLASHES (default: the mesh config's pathNormalization, else BASE).")
        PathNormalizer.Mode pathNormalization;

        @Option(names = "--trust-domain-alias", paramLabel = "DOMAIN",
                description = "Mesh config trustDomainAliases (repeatable): policy principals written with the trust "
                        + "domain or any alias match peers of all of them.")
        List<String> trustDomainAliases = new java.util.ArrayList<>();

        @Option(names = "--mesh-config", paramLabel = "FILE",
                description = "Istio MeshConfig YAML (what the istio ConfigMap holds under its mesh key): "
                        + "trustDomainAliases, extensionProviders, ...; watched like the manifests. Without it, the "
                        + "mesh key of the ConfigMap istio in the root namespace is read from the manifests, if there. "
                        + "Only with --config-dir: refused with --kube, whose mesh config is that ConfigMap (watched).")
        Path meshConfig;

        @Option(names = "--debug-headers",
                description = "Add x-waypoint-authz (the authorization decision) to every response.")
        boolean debugHeaders;

        @Option(names = "--upstream-idle-timeout", defaultValue = "60s", paramLabel = "DURATION",
                description = "Idle pooled upstream HTTP connections (keep-alive HTTP/1.1, h2c) are closed after this; "
                        + "e.g. 60s, 5m (default: ${DEFAULT-VALUE}).")
        String upstreamIdleTimeout;

        @Option(names = "--jwks-refresh-interval", defaultValue = "20m", paramLabel = "DURATION",
                description = "RequestAuthentication jwksUri keys are fetched again this long after the last fetch "
                        + "(Istio's default); the old keys serve until the new ones arrive, and stay if it fails "
                        + "(default: ${DEFAULT-VALUE}).")
        String jwksRefresh;

        @Option(names = "--dns-server", paramLabel = "HOST:PORT",
                description = "DNS server for ServiceEntries with resolution: DNS (repeatable, asked in order); "
                        + "default: the servers of /etc/resolv.conf.")
        List<String> dnsServers = new java.util.ArrayList<>();

        @Option(names = "--locality", paramLabel = "REGION[/ZONE[/SUBZONE]]",
                description = "This waypoint's locality, for DestinationRule localityLbSetting; default: the "
                        + "topology.istio.io/locality or istio-locality label (dots for slashes), else the "
                        + "topology.kubernetes.io/region|zone and topology.istio.io/subzone labels, of "
                        + "$ISTIO_METAJSON_LABELS (the pod labels Istio's injector gives its proxies); else none.")
        String locality;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            WaypointSettings settings = ofThisCommand(spec, this::settings);
            // before anything starts: a wrong path is a usage error, not a stack trace after the certificates load
            ofThisCommand(spec, () -> directory("--config-dir", configDir));
            ofThisCommand(spec, () -> directory("--cert-dir", certDir));
            ofThisCommand(spec, () -> readableFile("--kubeconfig", kubeconfig));
            ofThisCommand(spec, () -> certificates("--cert-dir", certDir));
            ofThisCommand(spec, () -> writableFile("--access-log", accessLog));
            // an address taken is found before the CA call and the config load (with --kube the listener
            // binds only once every informer listed), and named by its flag instead of a Netty stack trace
            List<Listen> listens = listens(settings);
            String taken = cannotListen(listens);
            if (taken != null) {
                spec.commandLine().getErr().println(taken);
                return 1;
            }
            WaypointServer server;
            try {
                server = WaypointServer.start(settings);
            } catch (Exception e) {
                String why = bindFailure(e);
                if (why == null) {
                    throw e;
                }
                // taken since the check: start() closed what it had bound, so the check names the flag again
                taken = cannotListen(listens);
                spec.commandLine().getErr().println(taken != null ? taken : "waypoint: cannot listen ("
                        + String.join(", ", listens.stream().map(Listen::describe).toList()) + "): " + why);
                return 1;
            }
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
            if (kube == (configDir != null)) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()),
                        "exactly one of --config-dir and --kube (expected: a manifest directory or the Kubernetes API)");
            }
            if (kube && meshConfig != null) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()),
                        "--mesh-config: only with --config-dir (with --kube the mesh config is the mesh key of the "
                                + "istio ConfigMap in the root namespace)");
            }
            if (kubeconfig != null && !kube) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()), "--kubeconfig: only with --kube");
            }
            if (kube && certDir == null && caAddress == null) {
                caAddress = CaSettings.ISTIOD_ADDRESS; // the issue: "the default with --kube"
            }
            dev.waypoint.kube.KubeSettings kubeSettings;
            try {
                kubeSettings = kube ? new dev.waypoint.kube.KubeSettings(kubeconfig, controllerName, true) : null;
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()), "--controller-name: " + e.getMessage());
            }
            if (workers < 0) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()),
                        "--workers: " + workers + " (expected: 0 for one per core, or more)");
            }
            // a SPIFFE trust domain (spiffe://<trust domain>/...): letters, digits, '.', '-', '_'
            if (trustDomain == null || !trustDomain.matches("[A-Za-z0-9._-]+")) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()), "--trust-domain: \""
                        + trustDomain + "\" (expected: a SPIFFE trust domain such as cluster.local)");
            }
            duration("--ca-cert-lifetime", caCertLifetime); // also when unused (--cert-dir): a typo is found now
            UpstreamSettings hbone = flag("--hbone-port", () -> UpstreamSettings.defaults(hbonePort));
            InetSocketAddress bind = flag("--listen", () -> address(listen));
            ListenerSettings listener = flag("--stream-window, --connection-window",
                    () -> ListenerSettings.defaults(bind).withWindows(streamWindow, connectionWindow));
            UpstreamSettings upstream = hbone.withWindows(streamWindow, connectionWindow)
                    .withHttpIdleTimeout(duration("--upstream-idle-timeout", upstreamIdleTimeout))
                    .withLocality(locality(locality, System.getenv("ISTIO_METAJSON_LABELS")));
            return new WaypointSettings(configDir, certDir, gateway(gateway), trustDomain, listener, upstream,
                    flag("--health", () -> address(health)), flag("--stats", () -> address(stats)),
                    flag("--admin", () -> address(admin)), workers, accessLog,
                    dev.waypoint.authn.JwksCache.Settings.defaults().withRefresh(duration("--jwks-refresh-interval", jwksRefresh)),
                    new AuthzSettings(rootNamespace, trustDomainAliases, pathNormalization, debugHeaders), meshConfig,
                    flag("--dns-server", () -> dnsServers.stream().map(Main::address).toList()), ca(),
                    kubeSettings).withClusterId(clusterId(clusterId));
        }

        /**
         * The CA client's settings, or null for mounted certificates. With --kube and neither flag,
         * --ca-address defaults to {@link CaSettings#ISTIOD_ADDRESS} ({@link #settings()} sets it
         * before this runs).
         */
        CaSettings ca() {
            if ((certDir == null) == (caAddress == null)) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--cert-dir, --ca-address: " + (certDir == null ? "neither" : "both") + " given (expected: one)");
            }
            if (caAddress == null) {
                return null;
            }
            if (namespace == null || namespace.isBlank() || serviceAccount == null || serviceAccount.isBlank()) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--namespace: " + namespace
                        + ", --service-account: " + serviceAccount
                        + " (expected: both, from the flags or POD_NAMESPACE / SERVICE_ACCOUNT, for --ca-address)");
            }
            java.time.Duration lifetime = duration("--ca-cert-lifetime", caCertLifetime);
            try {
                CaSettings s = CaSettings.defaults(caAddress, caRootCert, caToken,
                        new dev.waypoint.model.mesh.SpiffeId(trustDomain, namespace, serviceAccount))
                        .withClusterId(clusterId);
                return s.withTimings(lifetime, s.callTimeout(), s.initialTimeout(), s.minBackoff(), s.maxBackoff());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--ca-address: " + e.getMessage());
            }
        }
    }

    /** An address the server listens on, and the flag that set it. */
    record Listen(String flag, InetSocketAddress address) {
        /** {@code 127.0.0.1:15008}, {@code [::1]:15008}; the host as written when it does not resolve. */
        String hostPort() {
            return address.isUnresolved() ? address.getHostString() + ":" + address.getPort()
                    : new dev.waypoint.model.mesh.HostPort(address.getAddress(), address.getPort()).authority();
        }

        String describe() {
            return hostPort() + " " + flag;
        }
    }

    /** The addresses {@link WaypointServer#start} binds, in its order: health, stats, admin, then the HBONE listener. */
    static List<Listen> listens(WaypointSettings s) {
        List<Listen> all = new ArrayList<>();
        if (s.health() != null) {
            all.add(new Listen("--health", s.health()));
        }
        if (s.stats() != null) {
            all.add(new Listen("--stats", s.stats()));
        }
        if (s.admin() != null) {
            all.add(new Listen("--admin", s.admin()));
        }
        all.add(new Listen("--listen", s.listener().bind()));
        return all;
    }

    /**
     * Binds each address in turn, keeping the earlier ones bound as the server does (so two flags
     * on one port are found too), and closes them all; returns
     * {@code waypoint: cannot listen on 127.0.0.1:15008 (--listen): Address already in use} for
     * the first that cannot be bound, or null when all can.
     */
    static String cannotListen(List<Listen> listens) {
        List<java.nio.channels.ServerSocketChannel> bound = new ArrayList<>();
        try {
            for (Listen l : listens) {
                String why = null;
                java.nio.channels.ServerSocketChannel ch = null;
                try {
                    ch = java.nio.channels.ServerSocketChannel.open();
                    bound.add(ch);
                    // as a restarted server may: a port in TIME_WAIT is not "taken"
                    ch.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
                    ch.bind(l.address());
                } catch (java.nio.channels.UnresolvedAddressException e) {
                    why = "unknown host";
                } catch (java.io.IOException | SecurityException e) {
                    why = e.getMessage() == null ? e.toString() : e.getMessage();
                }
                if (why != null) {
                    return "waypoint: cannot listen on " + l.hostPort() + " (" + l.flag() + "): " + why;
                }
            }
            return null;
        } finally {
            for (java.nio.channels.ServerSocketChannel ch : bound) {
                try {
                    ch.close();
                } catch (java.io.IOException e) {
                    // nothing was accepted on it: closing cannot lose anything
                }
            }
        }
    }

    /**
     * Why {@code e} is a failure to bind ({@code Address already in use}, {@code Cannot assign
     * requested address}, ...), or null when it is not: the JDK's {@link java.net.BindException},
     * or Netty's native {@code bind(..) failed with error(-98): Address already in use}, anywhere
     * in the cause chain.
     */
    static String bindFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage();
            if (t instanceof java.nio.channels.UnresolvedAddressException) {
                return "unknown host";
            }
            if (t instanceof java.net.BindException) {
                return m == null ? "cannot bind" : m;
            }
            if (m != null && m.startsWith("bind(")) {
                int colon = m.lastIndexOf(": ");
                return colon < 0 ? m : m.substring(colon + 2);
            }
        }
        return null;
    }

    /** {@code --locality}, or the locality of Istio's proxy labels JSON ({@code ISTIO_METAJSON_LABELS}) when not given. */
    static dev.waypoint.lb.Locality locality(String flag, String labelsJson) {
        try {
            if (flag != null && !flag.isBlank()) {
                return dev.waypoint.lb.Locality.parse(flag.trim());
            }
            if (labelsJson == null || labelsJson.isBlank()) {
                return dev.waypoint.lb.Locality.NONE;
            }
            java.util.Map<String, String> labels = new java.util.HashMap<>();
            new com.fasterxml.jackson.databind.ObjectMapper().readTree(labelsJson).fields()
                    .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            return dev.waypoint.lb.Locality.fromLabels(labels);
        } catch (IllegalArgumentException | java.io.IOException e) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()), "--locality: " + e.getMessage());
        }
    }

    /** {@code --cluster-id}: a name, not blank (an empty $ISTIO_META_CLUSTER_ID is refused, not defaulted). */
    static String clusterId(String flag) {
        if (flag == null || flag.isBlank()) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()), "--cluster-id: \"" + flag
                    + "\" (expected: a cluster name, e.g. " + WaypointSettings.DEFAULT_CLUSTER_ID + ")");
        }
        return flag.trim();
    }

    /**
     * {@code value.get()}, with a value the settings refuse ({@link IllegalArgumentException}, or an
     * address that does not parse) reported as a usage error naming {@code flags} instead of a stack trace.
     */
    static <T> T flag(String flags, java.util.function.Supplier<T> value) {
        try {
            return value.get();
        } catch (IllegalArgumentException | CommandLine.TypeConversionException e) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()), flags + ": " + e.getMessage());
        }
    }

    /** {@code dir}, refused as a usage error naming {@code flag} when given and not a directory. */
    static Path directory(String flag, Path dir) {
        if (dir != null && !Files.isDirectory(dir)) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()),
                    flag + ": " + dir + " (expected: a directory" + (Files.exists(dir) ? ")" : "; it does not exist)"));
        }
        return dir;
    }

    /**
     * {@code dir}, refused as a usage error naming {@code flag} when given and its three files do not
     * load (missing, unreadable, not PEM, a leaf without a SPIFFE ID, a key of another certificate).
     */
    static Path certificates(String flag, Path dir) {
        if (dir != null) {
            try {
                dev.waypoint.identity.TlsMaterial.load(dir);
            } catch (java.io.IOException | IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(new Main()), flag + ": " + dir + ": "
                        + e.getMessage() + " (expected: Istio's layout, cert-chain.pem, key.pem and root-cert.pem)");
            }
        }
        return dir;
    }

    /**
     * {@code file}, refused as a usage error naming {@code flag} when given (not {@code -}, standard
     * output) and it cannot be written: its directory does not exist, or it exists and is not a
     * writable regular file. It is opened later, by the config's compiler.
     */
    static String writableFile(String flag, String file) {
        if (file == null || file.equals("-")) {
            return file;
        }
        Path path = Path.of(file).toAbsolutePath();
        String why = null;
        if (Files.exists(path)) {
            if (!Files.isRegularFile(path) || !Files.isWritable(path)) {
                why = "expected: a writable file";
            }
        } else if (path.getParent() == null || !Files.isDirectory(path.getParent())) {
            why = "expected: a file in a directory that exists; " + path.getParent() + " does not";
        } else if (!Files.isWritable(path.getParent())) {
            why = "expected: a file in a writable directory";
        }
        if (why != null) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()), flag + ": " + file + " (" + why + ")");
        }
        return file;
    }

    /** {@code file}, refused as a usage error naming {@code flag} when given and not a readable file. */
    static Path readableFile(String flag, Path file) {
        if (file != null && !(Files.isRegularFile(file) && Files.isReadable(file))) {
            throw new CommandLine.ParameterException(new CommandLine(new Main()),
                    flag + ": " + file + " (expected: a readable file" + (Files.exists(file) ? ")" : "; it does not exist)"));
        }
        return file;
    }

    /**
     * {@code body.get()}, with a usage error it throws reported against {@code spec}'s command, so
     * that the usage printed after the message is that subcommand's.
     */
    static <T> T ofThisCommand(CommandLine.Model.CommandSpec spec, java.util.function.Supplier<T> body) {
        try {
            return body.get();
        } catch (CommandLine.ParameterException e) {
            if (spec == null || e.getCommandLine() == spec.commandLine()) {
                throw e;
            }
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    /** {@code --gateway NAMESPACE/NAME}, refused as a usage error when it is not of that form. */
    static NamespacedName gateway(String text) {
        return flag("--gateway", () -> NamespacedName.parse(text));
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

    @Command(name = "validate", mixinStandardHelpOptions = true, version = Main.VERSION,
            description = "Load a manifest directory as `run` would and print every problem as "
                    + "file:line: Kind namespace/name: field: message (warnings and notes with a warning: or note: "
                    + "prefix). Exit 0 when there is no error (warnings and notes only), 1 otherwise.")
    static final class Validate implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", arity = "0..1", description = "Directory of Kubernetes YAML manifests "
                + "(or --config-dir DIR, as run and explain take it).")
        Path dir;

        @Option(names = "--config-dir", paramLabel = "DIR", description = "The same as DIR.")
        Path configDir;

        @Option(names = "--gateway", defaultValue = "istio-system/waypoint", paramLabel = "NAMESPACE/NAME",
                description = "The waypoint Gateway the manifests are checked for (default: ${DEFAULT-VALUE}).")
        String gateway;

        @Option(names = "--trust-domain", defaultValue = "cluster.local", paramLabel = "DOMAIN",
                description = "Mesh trust domain (default: ${DEFAULT-VALUE}).")
        String trustDomain;

        @Option(names = "--root-namespace", defaultValue = AuthzPolicyCompiler.DEFAULT_ROOT_NAMESPACE, paramLabel = "NS",
                description = "Istio's root namespace (default: ${DEFAULT-VALUE}).")
        String rootNamespace;

        @Option(names = "--mesh-config", paramLabel = "FILE",
                description = "Istio MeshConfig YAML (what the istio ConfigMap holds under its mesh key): "
                        + "trustDomainAliases, extensionProviders, ...; read once, as the manifests are. Without it, "
                        + "the mesh key of the ConfigMap istio in the root namespace is read from the manifests, if there.")
        Path meshConfig;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            if ((dir == null) == (configDir == null)) {
                throw new CommandLine.ParameterException(spec.commandLine(), dir == null
                        ? "DIR: missing (expected: a directory of manifests, as DIR or --config-dir DIR)"
                        : "DIR and --config-dir " + configDir + ": both given (expected: one of them)");
            }
            if (dir == null) {
                dir = configDir;
            }
            NamespacedName waypoint = ofThisCommand(spec, () -> gateway(gateway));
            // a usage error (2), not "the config has errors" (1)
            ofThisCommand(spec, () -> directory("DIR", dir));
            List<Diagnostics.Problem> problems;
            // offline: checking manifests fetches no jwksUri
            try (dev.waypoint.authn.JwksCache jwks = dev.waypoint.authn.JwksCache.offline()) {
                problems = ConfigValidator.validate(dev.waypoint.config.ConfigSources.yamlDirectory(dir)
                                .withMeshConfig(meshConfig, rootNamespace), waypoint, trustDomain,
                        WaypointServer.compilers(jwks, new AuthzSettings(rootNamespace, List.of(), PathNormalizer.Mode.BASE,
                                false)));
            }
            for (Diagnostics.Problem p : problems) {
                System.out.println(p);
            }
            boolean errors = ConfigValidator.hasErrors(problems);
            System.err.println(errors ? "invalid: " + problems.size() + " problem(s)"
                    : "ok (" + problems.size() + " warning(s) or note(s))");
            return errors ? 1 : 0;
        }
    }

    @Command(name = "explain", mixinStandardHelpOptions = true, version = Main.VERSION,
            description = "Shows what the waypoint would do with one request, from the manifests alone (no network): "
                    + "the CONNECT target the URL's host resolves to and whether it is bound here, each stage's decision, "
                    + "and the route, backend and endpoints. The URL host is a Service VIP, a pod IP, "
                    + "NAME.NAMESPACE[.svc...], NAME (a Service of the --from namespace), or a ServiceEntry host or address.")
    static final class ExplainCmd implements Callable<Integer> {
        @Option(names = "--config-dir", required = true, paramLabel = "DIR", description = "Directory of Kubernetes YAML manifests.")
        Path configDir;

        @Option(names = "--gateway", defaultValue = "istio-system/waypoint", paramLabel = "NAMESPACE/NAME",
                description = "The waypoint Gateway (default: ${DEFAULT-VALUE}).")
        String gateway;

        @Option(names = "--trust-domain", defaultValue = "cluster.local", paramLabel = "DOMAIN",
                description = "Mesh trust domain (default: ${DEFAULT-VALUE}).")
        String trustDomain;

        @Option(names = "--mesh-config", paramLabel = "FILE",
                description = "Istio MeshConfig YAML (what the istio ConfigMap holds under its mesh key): "
                        + "trustDomainAliases, extensionProviders, ...; read once, as the manifests are. Without it, "
                        + "the mesh key of the ConfigMap istio in the root namespace is read from the manifests, if there.")
        Path meshConfig;

        @Option(names = "--from", paramLabel = "SPIFFE_ID",
                description = "The caller's identity, e.g. spiffe://cluster.local/ns/demo/sa/curl (none: plaintext).")
        String from;

        @Option(names = "--source-ip", paramLabel = "IP", description = "The caller's address (source.ip, ipBlocks).")
        String sourceIp;

        @Option(names = "--header", paramLabel = "NAME:VALUE", description = "A request header; repeatable.")
        List<String> headers = new ArrayList<>();

        @Option(names = "--jwt", paramLabel = "TOKEN", description = "Sent as Authorization: Bearer TOKEN.")
        String jwt;

        @Option(names = "--output", defaultValue = "text", paramLabel = "text|json",
                description = "Output format (default: ${DEFAULT-VALUE}).")
        String output;

        @Option(names = "--cluster-id", defaultValue = "${env:ISTIO_META_CLUSTER_ID:-Kubernetes}", paramLabel = "ID",
                description = "This cluster's name, as the run command's flag (default: $ISTIO_META_CLUSTER_ID, "
                        + "else Kubernetes).")
        String clusterId;

        @Parameters(index = "0", paramLabel = "METHOD", description = "GET, POST, ...")
        String method;

        @Parameters(index = "1", paramLabel = "URL", description = "http://HOST[:PORT]/PATH")
        String url;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            NamespacedName waypoint = ofThisCommand(spec, () -> gateway(gateway));
            String cluster = ofThisCommand(spec, () -> clusterId(clusterId));
            ofThisCommand(spec, () -> directory("--config-dir", configDir));
            if (!output.equals("text") && !output.equals("json")) {
                throw usage("--output: " + output + " (expected: text or json)");
            }
            dev.waypoint.model.mesh.SpiffeId peer = null;
            if (from != null) {
                peer = dev.waypoint.model.mesh.SpiffeId.parse(from).orElse(null);
                if (peer == null) {
                    throw usage("--from: " + from + " (expected: spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT)");
                }
            }
            java.util.Map<String, List<String>> h = new java.util.LinkedHashMap<>();
            for (String kv : headers) {
                int colon = kv.indexOf(':');
                if (colon <= 0) {
                    throw usage("--header: " + kv + " (expected: NAME:VALUE)");
                }
                h.computeIfAbsent(kv.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT), k -> new ArrayList<>())
                        .add(kv.substring(colon + 1).trim());
            }
            if (jwt != null) {
                h.put("authorization", List.of("Bearer " + jwt));
            }
            java.net.InetAddress ip = null;
            if (sourceIp != null) {
                try {
                    ip = dev.waypoint.model.mesh.HostPort.parseIp(sourceIp);
                } catch (IllegalArgumentException e) {
                    throw usage("--source-ip: " + e.getMessage());
                }
            }
            java.net.URI uri;
            try {
                uri = java.net.URI.create(url);
            } catch (IllegalArgumentException e) {
                throw usage("URL: " + url + " (" + e.getMessage() + ")");
            }
            dev.waypoint.config.ConfigValidator.Loaded loaded = dev.waypoint.config.ConfigValidator.load(
                    dev.waypoint.config.ConfigSources.yamlDirectory(configDir).withMeshConfig(meshConfig,
                            AuthzPolicyCompiler.DEFAULT_ROOT_NAMESPACE), waypoint, trustDomain,
                    WaypointServer.compilers(dev.waypoint.authn.JwksCache.offline(), AuthzSettings.defaults()));
            if (loaded.snapshot() == null) {
                loaded.problems().forEach(System.err::println);
                System.err.println("the config does not compile");
                return 1;
            }
            Explain.Report report = Explain.explain(loaded.snapshot(),
                    new Explain.Request(method.toUpperCase(java.util.Locale.ROOT), uri, peer, ip, h),
                    InboundRequestPipeline.filters(new dev.waypoint.telemetry.TelemetryFilter(new dev.waypoint.telemetry.IstioMetrics(1),
                            null, "cluster.local", cluster),
                            new dev.waypoint.authn.AuthnFilter(java.time.Clock.systemUTC(), dev.waypoint.authn.JwksCache.offline()),
                            AuthzSettings.defaults()));
            if (output.equals("json")) {
                System.out.println(Explain.json(report));
            } else {
                System.out.print(Explain.text(report));
            }
            return 0;
        }

        /** A usage error of this command (exit 2, with the pointer to {@code waypoint explain --help}). */
        private CommandLine.ParameterException usage(String message) {
            return new CommandLine.ParameterException(spec.commandLine(), message);
        }
    }
}
