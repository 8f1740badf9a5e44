package dev.waypoint.server;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.MeshFixtures;
import dev.waypoint.testing.TestCa;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The end-to-end tests' mesh: {@link MeshFixtures} (CA, echo backends, destination-ztunnel
 * stand-ins) built from a manifest directory, plus the waypoint under test started in-process
 * against it. The demo module has the same composition ({@code dev.waypoint.demo.LocalMesh});
 * it cannot be shared because the demo depends on this module.
 */
public final class TestMesh implements AutoCloseable {
    private final MeshFixtures fixtures;
    private final Path configDir;
    private WaypointServer waypoint;

    private TestMesh(MeshFixtures fixtures, Path configDir) {
        this.fixtures = fixtures;
        this.configDir = configDir;
    }

    /** Where the waypoint listens (port 0 here) and its admin ports; a listener settings override. */
    public record Options(InetSocketAddress listen, InetSocketAddress health, InetSocketAddress admin,
                          InetSocketAddress stats, int hbonePort, int workers, ListenerSettings listenerOverride) {
        /** Everything on loopback, ephemeral ports. */
        public static Options ephemeral() {
            InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
            return new Options(any, any, any, any, 0, 2, null);
        }
    }

    /**
     * Starts the mesh for {@code configDir} and the waypoint {@code gateway}.
     *
     * @param workDir where certificates are written
     */
    public static TestMesh start(Path configDir, Path workDir, NamespacedName gateway, Options options) throws Exception {
        return start(configDir, workDir, gateway, options, s -> s);
    }

    /**
     * The usual start of an end-to-end test: {@code manifests} written as {@code mesh.yaml} in a
     * {@code manifests} directory under {@code workDir}, the waypoint {@code istio-system/waypoint}
     * on ephemeral ports ({@link #configDir()} is where to write more).
     */
    public static TestMesh startWith(Path workDir, String manifests) throws Exception {
        Path configDir = java.nio.file.Files.createDirectories(workDir.resolve("manifests"));
        java.nio.file.Files.writeString(configDir.resolve("mesh.yaml"), manifests);
        return start(configDir, workDir, new NamespacedName("istio-system", "waypoint"), Options.ephemeral());
    }

    /** As above, with the waypoint's settings passed through {@code customize} (e.g. its DNS servers). */
    public static TestMesh start(Path configDir, Path workDir, NamespacedName gateway, Options options,
                                 java.util.function.UnaryOperator<WaypointSettings> customize) throws Exception {
        MeshFixtures fixtures = MeshFixtures.start(load(configDir, gateway), workDir, gateway, options.hbonePort());
        TestMesh mesh = new TestMesh(fixtures, configDir);
        try {
            ListenerSettings ls = options.listenerOverride() != null ? options.listenerOverride().withBind(options.listen())
                    : ListenerSettings.defaults(options.listen());
            mesh.waypoint = WaypointServer.start(customize.apply(new WaypointSettings(configDir, fixtures.certDir(), gateway,
                    fixtures.ca().trustDomain(), ls, UpstreamSettings.defaults(fixtures.hbonePort()),
                    options.health(), options.stats(), options.admin(), options.workers())));
            return mesh;
        } catch (Exception | Error e) {
            mesh.close();
            throw e;
        }
    }

    /** As {@link #start(Path, Path, NamespacedName, Options)}, with the waypoint's upstream settings changed by {@code upstream} (short keepalives, timeouts). */
    public static TestMesh startWithUpstream(Path configDir, Path workDir, NamespacedName gateway, Options options,
                                             java.util.function.UnaryOperator<UpstreamSettings> upstream) throws Exception {
        return start(configDir, workDir, gateway, options, s -> new WaypointSettings(s.configDir(), s.certDir(), s.gateway(),
                s.trustDomain(), s.listener(), upstream.apply(s.upstream()), s.health(), s.stats(), s.admin(),
                s.workerThreads(), s.accessLog(), s.jwks(), s.authz(), s.meshConfig(), s.dnsServers(), s.ca()));
    }

    /**
     * As {@link #start}, but the waypoint gets its certificate from Istio's CA: {@code ca} is
     * called with the mesh CA once the fixtures run (start a CA stand-in there) and returns the
     * client's settings.
     */
    public static TestMesh startWithCa(Path configDir, Path workDir, NamespacedName gateway, Options options,
            java.util.function.Function<TestCa, dev.waypoint.ca.CaSettings> ca) throws Exception {
        MeshFixtures fixtures = MeshFixtures.start(load(configDir, gateway), workDir, gateway, options.hbonePort());
        TestMesh mesh = new TestMesh(fixtures, configDir);
        try {
            mesh.waypoint = WaypointServer.start(new WaypointSettings(configDir, null, gateway,
                    fixtures.ca().trustDomain(), ListenerSettings.defaults(options.listen()),
                    UpstreamSettings.defaults(fixtures.hbonePort()), options.health(), options.stats(), options.admin(),
                    options.workers(), null, dev.waypoint.authn.JwksCache.Settings.defaults(),
                    dev.waypoint.authz.AuthzSettings.defaults(), null, java.util.List.of(), ca.apply(fixtures.ca())));
            return mesh;
        } catch (Exception | Error e) {
            mesh.close();
            throw e;
        }
    }

    /**
     * Starts the mesh for the manifests in {@code configDir} (backends, pods, certificates), and
     * the waypoint with {@code --kube} against the API server of {@code kubeconfig}, which the
     * caller has loaded with the same manifests.
     */
    public static TestMesh startKube(Path configDir, Path workDir, NamespacedName gateway, Options options,
                                     Path kubeconfig) throws Exception {
        MeshFixtures fixtures = MeshFixtures.start(load(configDir, gateway), workDir, gateway, options.hbonePort());
        TestMesh mesh = new TestMesh(fixtures, configDir);
        try {
            mesh.waypoint = WaypointServer.start(new WaypointSettings(null, fixtures.certDir(), gateway,
                    fixtures.ca().trustDomain(), ListenerSettings.defaults(options.listen()),
                    UpstreamSettings.defaults(fixtures.hbonePort()), options.health(), options.stats(), options.admin(),
                    options.workers(), null, dev.waypoint.authn.JwksCache.Settings.defaults(),
                    dev.waypoint.authz.AuthzSettings.defaults(), null, java.util.List.of(), null,
                    dev.waypoint.kube.KubeSettings.defaults(kubeconfig)));
            return mesh;
        } catch (Exception | Error e) {
            mesh.close();
            throw e;
        }
    }

    private static ResourceSet load(Path configDir, NamespacedName gateway) {
        ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor();
        try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(configDir), gateway, "cluster.local",
                List.of(), exec)) {
            p.start();
            return p.current().resources();
        } finally {
            exec.shutdownNow();
        }
    }

    /** Issues a workload certificate (a client pod's identity). */
    public TlsMaterial workload(String namespace, String serviceAccount) {
        return fixtures.workload(namespace, serviceAccount);
    }

    /** The echo backend listening on {@code ip:port}, or null. */
    public EchoServer backend(String ip, int port) {
        return fixtures.backend(ip, port);
    }

    /** The mesh CA. */
    public TestCa ca() {
        return fixtures.ca();
    }

    /** The manifests as loaded at start. */
    public ResourceSet resources() {
        return fixtures.resources();
    }

    /** The running waypoint. */
    public WaypointServer waypoint() {
        return waypoint;
    }

    /** The destination ztunnel stand-ins (null if no pod is in the mesh). */
    public DestinationZtunnel ztunnels() {
        return fixtures.ztunnels();
    }

    /** The waypoint's Prometheus scrape ({@code GET /stats/prometheus} on its stats port), as text. */
    public String prometheus() throws java.io.IOException, InterruptedException {
        java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + waypoint.adminAddress("stats").getPort() + "/stats/prometheus");
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(uri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The event loops the fixtures run on (for clients). */
    public EventLoopGroup group() {
        return fixtures.group();
    }

    /** Manifest directory (edit it to hot-reload). */
    public Path configDir() {
        return configDir;
    }

    /** The waypoint's certificate directory (rewrite it to rotate). */
    public Path certDir() {
        return fixtures.certDir();
    }

    @Override
    public void close() {
        if (waypoint != null) {
            waypoint.close();
        }
        fixtures.close();
    }
}
