package dev.waypoint.server;

import dev.waypoint.authn.AuthnFilter;
import dev.waypoint.authn.JwksCache;
import dev.waypoint.authn.JwtRuleCompiler;
import dev.waypoint.authn.JwtRules;
import dev.waypoint.authz.AuthzPolicyCompiler;
import dev.waypoint.authz.AuthzSettings;
import dev.waypoint.authz.AuthzTable;
import dev.waypoint.authz.TunnelAuthz;
import dev.waypoint.ca.CaCertificates;
import dev.waypoint.config.ConfigDump;
import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.identity.CertificateSource;
import dev.waypoint.kube.KubernetesSource;
import dev.waypoint.kube.StatusWriter;
import dev.waypoint.kube.WatchedKinds;
import io.fabric8.kubernetes.client.KubernetesClient;
import dev.waypoint.lb.EndpointCompiler;
import dev.waypoint.lb.EndpointTable;
import dev.waypoint.lb.ServiceEntryEndpointCompiler;
import dev.waypoint.lb.ServiceEntryEndpoints;
import dev.waypoint.lb.LocalRateLimitFilter;
import dev.waypoint.lb.RateLimitCompiler;
import dev.waypoint.lb.RateLimits;
import dev.waypoint.lb.Upstreams;
import dev.waypoint.lb.hbone.HbonePool;
import dev.waypoint.listener.HboneListener;
import dev.waypoint.listener.UpstreamTcp;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.routing.BackendPicker;
import dev.waypoint.routing.HttpRouteCompiler;
import dev.waypoint.routing.L4RouteCompiler;
import dev.waypoint.routing.L4RouteTable;
import dev.waypoint.routing.RouteTable;
import dev.waypoint.server.admin.AdminServer;
import dev.waypoint.server.admin.AdminServer.Page;
import dev.waypoint.telemetry.AccessLogCompiler;
import dev.waypoint.telemetry.AccessLogFiles;
import dev.waypoint.telemetry.AccessLogSettings;
import dev.waypoint.telemetry.TracingCompiler;
import dev.waypoint.telemetry.TracingProviders;
import dev.waypoint.telemetry.TracingSettings;
import dev.waypoint.telemetry.IstioMetrics;
import dev.waypoint.telemetry.TunnelTelemetry;
import dev.waypoint.telemetry.TelemetryFilter;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: plain constructor wiring of config, identity, listener, upstreams and
 * admin, and their lifecycle. Nothing else knows all modules.
 *
 * <h2>Threads</h2>
 * {@code hbone-*}: the data path (one event loop per core by default); {@code admin-*}: health,
 * stats, admin; {@code config}: manifest and certificate polling and snapshot compilation;
 * {@code jwks}: RequestAuthentication key fetches and the timeouts of requests waiting for them.
 */
public final class WaypointServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WaypointServer.class);

    /**
     * The stage compilers, in order; every snapshot part the data path reads is listed here.
     *
     * @param jwks where RequestAuthentication {@code jwksUri} keys are fetched ({@link JwksCache#offline()} to validate)
     * @param authz the root namespace and trust-domain aliases policies are compiled with
     */
    static List<PartCompiler<?>> compilers(JwksCache jwks, AuthzSettings authz) {
        return compilers(jwks, authz, dev.waypoint.wasm.WasmPluginCompiler.forValidation(authz.rootNamespace()));
    }

    /** As {@link #compilers(JwksCache, AuthzSettings)}, with the server's wasm compiler (its metrics registry, its cache). */
    static List<PartCompiler<?>> compilers(JwksCache jwks, AuthzSettings authz, dev.waypoint.wasm.WasmPluginCompiler wasm) {
        return List.of(new TargetTableCompiler(), new EndpointCompiler(), new HttpRouteCompiler(),
                new JwtRuleCompiler(jwks, authz.rootNamespace()),
                new AuthzPolicyCompiler(authz.rootNamespace(), authz.trustDomainAliases()),
                new ServiceEntryEndpointCompiler(), new L4RouteCompiler(),
                new RateLimitCompiler(authz.rootNamespace()), wasm,
                new dev.waypoint.telemetry.TelemetryPolicyCompiler(authz.rootNamespace()));
    }

    private final WaypointSettings settings;
    private final ScheduledExecutorService configExecutor;
    private final EventLoopGroup dataPlane;
    private final EventLoopGroup adminGroup;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private CertificateSource certs;
    /** Null when certificates are mounted files. */
    private CaCertificates ca;
    private SnapshotPublisher publisher;
    private volatile KubernetesSource kube;
    private KubernetesClient kubeClient;
    private StatusWriter statusWriter;
    private JwksCache jwks;
    private HbonePool pool;
    private Upstreams upstreams;
    /** Istio's standard metrics, on /stats/prometheus; at most 10,000 label sets. */
    private final IstioMetrics metrics = new IstioMetrics(10_000);
    /** Access-log writers by file; which one (and the format) each snapshot compiles from the mesh config. */
    private final AccessLogFiles accessLogs = new AccessLogFiles();
    /** Trace exporters by collector; which one (and the sampling) each snapshot compiles from the mesh config. */
    private TracingProviders tracing;
    /** EnvoyFilter local rate limits: buckets and counters for the life of the process. */
    private final LocalRateLimitFilter rateLimit = new LocalRateLimitFilter();
    private HboneListener listener;
    private InetSocketAddress hboneAddress;
    private final Map<String, AdminServer> admins = new LinkedHashMap<>();
    private volatile boolean draining;

    private WaypointServer(WaypointSettings settings) {
        this.settings = settings;
        this.configExecutor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "config");
            t.setDaemon(true);
            return t;
        });
        this.dataPlane = EventLoops.newGroup(settings.workerThreads(), "hbone");
        this.adminGroup = EventLoops.newGroup(1, "admin");
    }

    /** Starts everything; returns once the listener is bound. Fails fast on unreadable certificates. */
    public static WaypointServer start(WaypointSettings settings) throws Exception {
        WaypointServer s = new WaypointServer(settings);
        try {
            s.doStart();
            return s;
        } catch (Exception | Error e) {
            s.close();
            throw e;
        }
    }

    private void doStart() throws Exception {
        long t0 = System.nanoTime();
        // admin first, so /healthz/ready answers 503 while loading
        startAdmin();
        if (settings.ca() != null) {
            // the CA call runs on the admin loop, renewals are scheduled on the config thread
            ca = CaCertificates.start(settings.ca(), adminGroup, configExecutor);
            closeables.add(ca);
            certs = ca.source();
        } else {
            certs = CertificateSource.fileMounted(settings.certDir(), configExecutor, Duration.ofSeconds(1));
            closeables.add(certs);
        }
        log.info("identity {} (certificate valid until {})", certs.current().identity(), certs.current().notAfter());
        // before the publisher: the first compile hands the jwksUris to it, which starts fetching
        jwks = JwksCache.create(settings.jwks());
        closeables.add(jwks);
        if (settings.kube() != null) {
            publisher = kubePublisher();
        } else {
            publisher = new SnapshotPublisher(ConfigSources.yamlDirectory(settings.configDir())
                    .withMeshConfig(settings.meshConfig(), settings.authz().rootNamespace()), settings.gateway(),
                    settings.trustDomain(), withAccessLog(compilers(jwks, settings.authz(), wasmCompiler())), configExecutor);
        }
        publisher.start();
        closeables.add(publisher);
        if (kube != null && settings.kube().writeStatus()) {
            StatusWriter writer = new StatusWriter(kube, kubeClient, settings.kube().controllerName(),
                    settings.authz().rootNamespace(), Clock.systemUTC());
            statusWriter = writer;
            closeables.add(0, writer); // closed first: no status write races the shutdown
            publisher.subscribe(s -> writer.onSnapshot(s, s.part(TargetTable.PART).boundServices(),
                    s.part(TargetTable.PART).boundServiceEntries()));
            writer.onSnapshot(publisher.current(), publisher.current().part(TargetTable.PART).boundServices(),
                    publisher.current().part(TargetTable.PART).boundServiceEntries());
        }
        pool = new HbonePool(settings.upstream(), () -> certs.current().clientContext());
        closeables.add(pool);
        // Istio's default LEAST_REQUEST where no DestinationRule names an algorithm
        Upstreams upstreams = new Upstreams(settings.upstream(), pool, null, new dev.waypoint.lb.EndpointStates(),
                settings.dnsServers(), false);
        closeables.add(upstreams::closeDns);
        // pooled upstream connections to pods that left the config are closed on each generation
        publisher.subscribe(upstreams::onSnapshot);
        this.upstreams = upstreams;
        closeables.add(accessLogs);
        // the access log of each snapshot comes from its AccessLogSettings part (mesh config, else --access-log)
        TelemetryFilter telemetry = new TelemetryFilter(metrics, null, "cluster.local",
                settings.clusterId());
        listener = new HboneListener(settings.listener(), dataPlane, () -> certs.current().serverContext(),
                // TCP tunnels: TCPRoute (weighted per connection), then the endpoint pick
                publisher, new L4Upstream(upstreams, BackendPicker.random()), InboundRequestPipeline.http(telemetry,
                        new AuthnFilter(Clock.systemUTC(), jwks), settings.authz(), rateLimit, upstreams,
                        upstreams.serviceCalls(dataPlane)),
                // TCP tunnels: AuthorizationPolicy's L4 subset, before the CONNECT is answered
                TunnelAuthz::check,
                // TCP tunnels run no filter list: their metrics and access-log lines come from here
                // (open tunnels' bytes every tcp_reporting_duration)
                new TunnelTelemetry(metrics, null, publisher, "cluster.local",
                        settings.clusterId(), settings.gateway()).reportOn(dataPlane));
        hboneAddress = listener.start();
        log.info("waypoint {} ready in {} ms", settings.gateway(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }

    /**
     * {@code --kube}: the informers first, then a publisher over them once every kind has listed
     * (the issue: "ready only after every informer has synced once"); until then readiness says
     * what is still being listed.
     */
    private SnapshotPublisher kubePublisher() throws InterruptedException {
        kube = KubernetesSource.connect(settings.kube().kubeconfig(),
                WatchedKinds.forWaypoint(settings.authz().rootNamespace(), settings.gateway().namespace()), Clock.systemUTC());
        kubeClient = kube.client();
        closeables.add(kube); // closes its client too
        kube.start();
        log.info("config from {}; waiting for every informer to list once", kube.describe());
        while (!kube.awaitSynced(Duration.ofSeconds(10))) {
            log.info("still waiting: {}", kube.health().detail());
        }
        return new SnapshotPublisher(kube, settings.gateway(), settings.trustDomain(), withAccessLog(compilers(jwks,
                settings.authz(), wasmCompiler())), configExecutor, SnapshotPublisher.DEFAULT_POLL_INTERVAL, settings.authz().rootNamespace());
    }

    /**
     * WasmPlugin modules: fetched and compiled on the config executor, cached by digest under
     * {@code $WAYPOINT_WASM_CACHE_DIR} (default {@code <tmpdir>/waypoint-wasm-cache}); plugin metrics
     * in the /stats/prometheus registry; {@code node.metadata} names this waypoint; {@code proxy_http_call}
     * through {@link WasmHttpCallout}.
     */
    private dev.waypoint.wasm.WasmPluginCompiler wasmCompiler() {
        String dir = System.getenv("WAYPOINT_WASM_CACHE_DIR");
        java.nio.file.Path cache = dir != null && !dir.isEmpty() ? java.nio.file.Path.of(dir)
                : java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "waypoint-wasm-cache");
        dev.waypoint.model.mesh.NamespacedName gw = settings.gateway();
        dev.waypoint.wasm.WasmSettings ws = dev.waypoint.wasm.WasmSettings.defaults(cache,
                "waypoint~" + gw.name() + "." + gw.namespace(),
                Map.of("NAMESPACE", gw.namespace(), "NAME", gw.name(), "CLUSTER_ID", settings.clusterId()));
        // proxy_http_call goes through the upstream stage, which exists once the publisher started
        return new dev.waypoint.wasm.WasmPluginCompiler(ws, settings.authz().rootNamespace(), metrics.registry(),
                new WasmHttpCallout(() -> upstreams));
    }

    /** The stage compilers and the access log's (its files are opened on the config thread as snapshots compile). */
    private List<PartCompiler<?>> withAccessLog(List<PartCompiler<?>> compilers) {
        List<PartCompiler<?>> all = new ArrayList<>(compilers);
        all.add(new AccessLogCompiler(accessLogs, settings.accessLog()));
        // spans name the proxy as Istio does: <canonical name>.<namespace> of the waypoint Deployment
        tracing = new TracingProviders(settings.gateway().name() + "." + settings.gateway().namespace());
        closeables.add(tracing);
        all.add(new TracingCompiler(tracing, "cluster.local"));
        return all;
    }

    private void startAdmin() throws InterruptedException {
        Supplier<Page> ready = () -> isReady() ? Page.text(200, "ready\n" + kubeDetail())
                : Page.text(503, draining ? "draining\n" : "not ready: config or certificates not loaded\n" + kubeDetail());
        if (settings.health() != null) {
            admins.put("health", AdminServer.start(adminGroup, settings.health(), Map.of("/healthz/ready", ready)));
        }
        if (settings.stats() != null) {
            admins.put("stats", AdminServer.start(adminGroup, settings.stats(),
                    Map.of("/stats/prometheus", this::stats, "/healthz/ready", ready)));
        }
        if (settings.admin() != null) {
            admins.put("admin", AdminServer.start(adminGroup, settings.admin(),
                    Map.of("/config_dump", this::configDump, "/ready", ready, "/healthz/ready", ready)));
        }
    }

    /** With {@code --kube}: one line on the watches (e.g. the API server unreachable since when), else nothing. */
    private String kubeDetail() {
        KubernetesSource k = kube;
        return k == null ? "" : k.health().detail() + "\n";
    }

    /** Config and certificates loaded, listener bound, not draining. */
    public boolean isReady() {
        return !draining && hboneAddress != null && publisher != null && publisher.current() != null && certs != null;
    }

    private Page configDump() {
        ConfigSnapshot snap = publisher == null ? null : publisher.current();
        if (snap == null) {
            return Page.text(503, "no configuration loaded yet\n");
        }
        TargetTable targets = snap.part(TargetTable.PART);
        Map<String, Object> bindings = new LinkedHashMap<>();
        bindings.put("waypoint", settings.gateway().toString());
        bindings.put("waypointFor", targets.waypointFor());
        bindings.put("services", targets.debugServices());
        bindings.put("workloads", targets.debugWorkloads());
        bindings.put("notBound", targets.debugNotBound());
        bindings.put("serviceEntries", targets.debugServiceEntries());
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("bindings", bindings);
        extra.put("routes", snap.part(RouteTable.PART).debug());
        extra.put("endpoints", snap.part(EndpointTable.PART).debug());
        extra.put("l4Routes", snap.part(L4RouteTable.PART).debug());
        extra.put("serviceEntries", ConfigDump.serviceEntries(snap.resources()));
        extra.put("serviceEntryEndpoints", snap.part(ServiceEntryEndpoints.PART).debug());
        extra.put("dns", upstreams == null ? Map.of() : upstreams.dnsDebug());
        extra.put("jwtRules", snap.part(JwtRules.PART).debug());
        extra.put("authorizationPolicies", snap.part(AuthzTable.PART).debug());
        extra.put("wasmPlugins", snap.part(dev.waypoint.wasm.WasmPlugins.PART).debug());
        extra.put("accessLog", snap.has(AccessLogSettings.PART) ? snap.part(AccessLogSettings.PART).debug() : "off");
        extra.put("tracing", snap.has(TracingSettings.PART) ? snap.part(TracingSettings.PART).debug() : "off");
        extra.put("telemetryApi", snap.has(dev.waypoint.telemetry.TelemetryPolicies.PART)
                ? snap.part(dev.waypoint.telemetry.TelemetryPolicies.PART).debug() : "none");
        extra.put("endpointStates", upstreams == null ? Map.of() : upstreams.states().debug());
        extra.put("trafficPolicies", snap.part(EndpointTable.PART).debugPolicies());
        extra.put("upstreamDefaults", snap.part(EndpointTable.PART).debugDefaults()); // MeshConfig connectTimeout, ...
        extra.put("serviceEntryTrafficPolicies", snap.part(ServiceEntryEndpoints.PART).policiesDebug());
        extra.put("localRateLimits", snap.part(RateLimits.PART).debug());
        extra.put("identity", certs == null ? null : certs.current().identity().uri());
        if (kube != null) {
            extra.put("kubernetes", kube.debug());
        }
        if (statusWriter != null) {
            extra.put("statusWritten", statusWriter.debug());
        }
        if (certs != null) {
            Map<String, Object> cert = new LinkedHashMap<>();
            cert.put("source", ca != null ? "ca " + settings.ca().address() : "files " + settings.certDir());
            cert.put("notAfter", certs.current().notAfter().toString());
            if (ca != null) {
                cert.put("renewals", ca.renewals());
                cert.put("failures", ca.failures());
            }
            extra.put("certificate", cert);
        }
        return Page.json(ConfigDump.toJson(snap, extra));
    }

    private Page stats() {
        ConfigSnapshot snap = publisher == null ? null : publisher.current();
        StringBuilder b = new StringBuilder();
        gauge(b, "waypoint_config_generation", "Generation of the config snapshot in force.",
                snap == null ? -1 : snap.generation());
        gauge(b, "waypoint_config_problems", "Problems reported for the config in force.",
                snap == null ? 0 : snap.problems().size());
        gauge(b, "waypoint_hbone_inbound_connections", "Open inbound connections on the HBONE port, TLS handshakes in progress included.",
                listener == null ? 0 : listener.connectionCount());
        gauge(b, "waypoint_hbone_outbound_connections", "Open outbound HBONE connections.",
                pool == null ? 0 : pool.connectionCount());
        gauge(b, "waypoint_hbone_outbound_streams", "Open CONNECT streams on outbound HBONE connections.",
                pool == null ? 0 : pool.streamCount());
        gauge(b, "waypoint_ready", "1 when ready to serve.", isReady() ? 1 : 0);
        if (ca != null) {
            gauge(b, "waypoint_certificate_renewal_failures", "Failed certificate requests to Istio's CA since start.",
                    ca.failures());
        }
        gauge(b, "waypoint_access_log_dropped", "Access-log lines dropped because the writer fell behind.",
                accessLogs.dropped());
        if (tracing != null) {
            gauge(b, "waypoint_trace_export_failures", "Span export calls to the tracing provider that failed.",
                    tracing.exportFailures());
            gauge(b, "waypoint_trace_spans_dropped", "Spans in failed export calls.", tracing.droppedSpans());
        }
        ProxyHealth.append(b, snap, publisher, listener, certs == null ? null : certs.current().notAfter(),
                metrics.seriesCount());
        if (upstreams != null) {
            b.append("# HELP waypoint_outlier_ejections_total Endpoints ejected by DestinationRule outlierDetection.\n")
                    .append("# TYPE waypoint_outlier_ejections_total counter\n")
                    .append("waypoint_outlier_ejections_total ").append(upstreams.states().ejectionsTotal()).append('\n');
            gauge(b, "waypoint_outlier_ejected", "Endpoints ejected by outlier detection now.", upstreams.states().ejectedNow());
            b.append("# HELP waypoint_upstream_overflow_total Requests answered 503 UO: a DestinationRule connectionPool limit was reached.\n")
                    .append("# TYPE waypoint_upstream_overflow_total counter\n")
                    .append("waypoint_upstream_overflow_total ").append(upstreams.overflows()).append('\n');
            b.append("# HELP waypoint_upstream_retry_overflow_total Retries not made: a DestinationRule connectionPool maxRetries budget was spent.\n")
                    .append("# TYPE waypoint_upstream_retry_overflow_total counter\n")
                    .append("waypoint_upstream_retry_overflow_total ").append(upstreams.retryOverflows()).append('\n');
        }
        b.append(rateLimit.scrape());
        b.append(metrics.scrape());
        return new Page(200, "text/plain; version=0.0.4; charset=utf-8", b.toString());
    }

    private static void gauge(StringBuilder b, String name, String help, long value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(value).append('\n');
    }

    /** Exports the spans queued so far (tests), waiting up to {@code timeout}. */
    public void flushTraces(Duration timeout) {
        if (tracing != null) {
            tracing.flush(timeout);
        }
    }

    /** The bound HBONE address. */
    public InetSocketAddress hboneAddress() {
        return hboneAddress;
    }

    /** A bound admin-side address: {@code health}, {@code stats} or {@code admin}; null if disabled. */
    public InetSocketAddress adminAddress(String which) {
        AdminServer a = admins.get(which);
        return a == null ? null : a.address();
    }

    /** With {@code --kube}: the Kubernetes source (tests observe its health), else null. */
    public KubernetesSource kubernetes() {
        return kube;
    }

    /** The config source (tests observe generations through it). */
    public SnapshotPublisher snapshots() {
        return publisher;
    }

    /** Outbound HBONE connections currently open. */
    public int outboundConnections() {
        return pool == null ? 0 : pool.connectionCount();
    }

    /**
     * Graceful shutdown: not ready, stop accepting, GOAWAY, let in-flight tunnels finish (up to
     * the drain timeout). Blocks; call from the shutdown hook, not an event loop.
     */
    public void drain() {
        draining = true;
        if (listener != null) {
            listener.drain();
        }
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close();
        }
        for (AutoCloseable c : closeables) {
            try {
                c.close();
            } catch (Exception e) {
                log.warn("closing {}: {}", c, e.toString());
            }
        }
        admins.values().forEach(AdminServer::close);
        dataPlane.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        adminGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        configExecutor.shutdownNow();
    }
}
