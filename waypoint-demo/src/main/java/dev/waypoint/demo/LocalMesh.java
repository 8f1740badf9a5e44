package dev.waypoint.demo;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.server.WaypointServer;
import dev.waypoint.server.WaypointSettings;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.testing.MeshFixtures;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A whole ambient mesh in one process, built from a directory of manifests: the
 * {@link MeshFixtures} (mesh CA, echo backends on the pod IPs, destination-ztunnel stand-ins on
 * the ambient pods' IPs) and the waypoint itself, started in-process. Used by the demo and the
 * benchmarks' smoke test. (The server's own end-to-end tests compose the same two parts in
 * {@code TestMesh}: they cannot depend on this module, which depends on the server.)
 */
public final class LocalMesh implements AutoCloseable {
    private final MeshFixtures fixtures;
    private WaypointServer waypoint;

    private LocalMesh(MeshFixtures fixtures) {
        this.fixtures = fixtures;
    }

    /**
     * Where the waypoint listens and its admin ports.
     *
     * @param hbonePort port of the destination-ztunnel stand-ins on each pod IP (0: a free one)
     * @param workers data-path event loops of the waypoint
     */
    public record Options(InetSocketAddress listen, InetSocketAddress health, InetSocketAddress admin,
                          InetSocketAddress stats, int hbonePort, int workers) {
        /** Everything on loopback, ephemeral ports. */
        public static Options ephemeral() {
            InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
            return new Options(any, any, any, any, 0, 2);
        }
    }

    /**
     * Starts the mesh for {@code configDir} and the waypoint {@code gateway}.
     *
     * @param workDir where certificates are written
     */
    public static LocalMesh start(Path configDir, Path workDir, NamespacedName gateway, Options options) throws Exception {
        MeshFixtures fixtures = MeshFixtures.start(load(configDir, gateway), workDir, gateway, options.hbonePort());
        LocalMesh mesh = new LocalMesh(fixtures);
        try {
            mesh.waypoint = WaypointServer.start(new WaypointSettings(configDir, fixtures.certDir(), gateway,
                    fixtures.ca().trustDomain(), ListenerSettings.defaults(options.listen()),
                    UpstreamSettings.defaults(fixtures.hbonePort()),
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

    /** Issues a workload certificate (a client pod's identity, for source ztunnels and tests). */
    public TlsMaterial workload(String namespace, String serviceAccount) {
        return fixtures.workload(namespace, serviceAccount);
    }

    /** The running waypoint. */
    public WaypointServer waypoint() {
        return waypoint;
    }

    /** The destination ztunnel stand-ins (null if no pod is in the mesh). */
    public DestinationZtunnel ztunnels() {
        return fixtures.ztunnels();
    }

    /** The event loops the fixtures run on (for clients). */
    public EventLoopGroup group() {
        return fixtures.group();
    }

    /** The waypoint's certificate directory. */
    public Path certDir() {
        return fixtures.certDir();
    }

    /** Every Service VIP:port, as a client would dial it. */
    public List<InetSocketAddress> serviceAddresses() {
        return fixtures.serviceAddresses();
    }

    @Override
    public void close() {
        if (waypoint != null) {
            waypoint.close();
        }
        fixtures.close();
    }
}
