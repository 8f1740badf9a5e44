package dev.waypoint.server.demo;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.server.WaypointServer;
import dev.waypoint.server.WaypointSettings;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A whole ambient mesh in one process, built from a directory of manifests: a fresh mesh CA, an
 * echo backend on every pod IP and port the manifests name (pod IPs are loopback addresses), a
 * destination-ztunnel stand-in on every ambient pod's IP presenting that pod's identity, and the
 * waypoint itself. Used by {@code waypoint demo}, the end-to-end tests and the benchmarks.
 */
public final class LocalMesh implements AutoCloseable {
    private final TestCa ca;
    private final EventLoopGroup group;
    private final List<AutoCloseable> parts = new ArrayList<>();
    private final Map<InetSocketAddress, EchoServer> echoes = new LinkedHashMap<>();
    private final ResourceSet resources;
    private final Path configDir;
    private final Path certDir;
    private DestinationZtunnel ztunnels;
    private WaypointServer waypoint;

    private LocalMesh(TestCa ca, EventLoopGroup group, ResourceSet resources, Path configDir, Path certDir) {
        this.ca = ca;
        this.group = group;
        this.resources = resources;
        this.configDir = configDir;
        this.certDir = certDir;
    }

    /** Options: where the waypoint listens (port 0 in tests) and its admin ports. */
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
    public static LocalMesh start(Path configDir, Path workDir, NamespacedName gateway, Options options) throws Exception {
        TestCa ca = TestCa.create("cluster.local");
        ResourceSet resources = load(configDir, gateway);
        Path certDir = Files.createDirectories(workDir.resolve("waypoint-certs"));
        // the waypoint's identity is its ServiceAccount, named after the Gateway
        ca.issue(new SpiffeId(ca.trustDomain(), gateway.namespace(), gateway.name())).writeIstioLayout(certDir);
        LocalMesh mesh = new LocalMesh(ca, EventLoops.newGroup(2, "mesh"), resources, configDir, certDir);
        try {
            mesh.startBackends(options.hbonePort());
            ListenerSettings ls = options.listenerOverride() != null ? options.listenerOverride().withBind(options.listen())
                    : ListenerSettings.defaults(options.listen());
            mesh.waypoint = WaypointServer.start(new WaypointSettings(configDir, certDir, gateway, ca.trustDomain(), ls,
                    UpstreamSettings.defaults(mesh.ztunnels == null ? 15008 : mesh.ztunnels.port()),
                    options.health(), options.stats(), options.admin(), options.workers()));
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

    private void startBackends(int hbonePort) throws InterruptedException {
        Map<String, NamespaceSpec> namespaces = new LinkedHashMap<>();
        resources.namespaces().forEach(n -> namespaces.put(n.name(), n));
        Map<InetSocketAddress, String> backends = new LinkedHashMap<>();
        Map<InetAddress, TlsMaterial> ambient = new LinkedHashMap<>();
        for (PodSpec pod : resources.pods()) {
            if (pod.ip() == null) {
                continue;
            }
            Set<Integer> ports = new LinkedHashSet<>(pod.namedPorts().values());
            for (ServiceSpec svc : resources.services()) {
                if (svc.selector() != null && svc.name().namespace().equals(pod.name().namespace())
                        && svc.selector().entrySet().stream().allMatch(e -> e.getValue().equals(pod.labels().get(e.getKey())))) {
                    for (ServicePortSpec p : svc.ports()) {
                        if (p.targetPortName() == null) {
                            ports.add(p.targetPortNumber());
                        }
                    }
                }
            }
            for (int port : ports) {
                backends.put(new InetSocketAddress(pod.ip(), port), pod.name().name());
            }
            String mode = pod.labels().get("istio.io/dataplane-mode");
            NamespaceSpec ns = namespaces.get(pod.name().namespace());
            boolean inMesh = mode != null ? mode.equals("ambient")
                    : ns != null && "ambient".equals(ns.labels().get("istio.io/dataplane-mode"));
            if (inMesh) {
                ambient.put(pod.ip(), ca.issue(pod.identity(ca.trustDomain())).material());
            }
        }
        for (EndpointSliceSpec slice : resources.endpointSlices()) {
            for (EndpointSliceSpec.Endpoint e : slice.endpoints()) {
                for (InetAddress a : e.addresses()) {
                    for (EndpointSliceSpec.Port p : slice.ports()) {
                        backends.putIfAbsent(new InetSocketAddress(a, p.port()), "external-" + a.getHostAddress());
                    }
                }
            }
        }
        for (Map.Entry<InetSocketAddress, String> b : backends.entrySet()) {
            EchoServer echo = EchoServer.start(group, b.getKey(), b.getValue());
            echoes.put(b.getKey(), echo);
            parts.add(echo);
        }
        if (!ambient.isEmpty()) {
            ztunnels = DestinationZtunnel.start(group, ambient, hbonePort,
                    hp -> new InetSocketAddress(hp.address(), hp.port()));
            parts.add(ztunnels);
        }
    }

    /** Issues a workload certificate (a client pod's identity, for source ztunnels and tests). */
    public TlsMaterial workload(String namespace, String serviceAccount) {
        return ca.issue(new SpiffeId(ca.trustDomain(), namespace, serviceAccount)).material();
    }

    /** The echo backend listening on {@code ip:port}, or null. */
    public EchoServer backend(String ip, int port) {
        return echoes.get(new InetSocketAddress(ip, port));
    }

    /** The mesh CA. */
    public TestCa ca() {
        return ca;
    }

    /** The manifests as loaded at start. */
    public ResourceSet resources() {
        return resources;
    }

    /** The running waypoint. */
    public WaypointServer waypoint() {
        return waypoint;
    }

    /** The destination ztunnel stand-ins (null if no pod is in the mesh). */
    public DestinationZtunnel ztunnels() {
        return ztunnels;
    }

    /** The event loops the fixtures run on (for clients). */
    public EventLoopGroup group() {
        return group;
    }

    /** Manifest directory (edit it to hot-reload). */
    public Path configDir() {
        return configDir;
    }

    /** The waypoint's certificate directory (rewrite it to rotate). */
    public Path certDir() {
        return certDir;
    }

    /** Every bound Service VIP:port, as a client would dial it. */
    public List<InetSocketAddress> serviceAddresses() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (ServiceSpec svc : resources.services()) {
            for (InetAddress vip : svc.clusterIps()) {
                for (ServicePortSpec p : svc.ports()) {
                    out.add(new InetSocketAddress(vip, p.port()));
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (waypoint != null) {
            waypoint.close();
        }
        for (AutoCloseable c : parts) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
