package dev.waypoint.server.interop;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.lb.UpstreamSettings;
import dev.waypoint.listener.ListenerSettings;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.server.WaypointServer;
import dev.waypoint.server.WaypointSettings;
import dev.waypoint.testing.EchoServer;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The waypoint started in-process the way {@link dev.waypoint.server.TestMesh} does it, but
 * without its destination-ztunnel stand-ins: the destination ztunnel is a third-party program
 * listening on {@code podIP:hbonePort}. A mesh CA, the waypoint's certificate directory (identity
 * {@code spiffe://cluster.local/ns/istio-system/sa/waypoint}, the Gateway's ServiceAccount), echo
 * backends the test asks for, and an event loop group for test clients.
 */
final class StandaloneWaypoint implements AutoCloseable {
    static final NamespacedName GATEWAY = new NamespacedName("istio-system", "waypoint");
    static final String WAYPOINT_ID = "spiffe://cluster.local/ns/istio-system/sa/waypoint";

    final TestCa ca = TestCa.create("cluster.local");
    final EventLoopGroup group = EventLoops.newGroup(2, "interop");
    private final Path work;
    private final List<AutoCloseable> parts = new ArrayList<>();
    private WaypointServer waypoint;

    StandaloneWaypoint(Path work) {
        this.work = work;
    }

    /** An echo backend (a pod's application) on {@code ip:port}, answering as {@code name}. */
    EchoServer echo(String ip, int port, String name) throws InterruptedException {
        EchoServer e = EchoServer.start(group, new InetSocketAddress(ip, port), name);
        parts.add(e);
        return e;
    }

    /** Writes {@code id}'s certificate in Istio's layout (cert-chain.pem, key.pem, root-cert.pem) under {@code work/name}. */
    Path writeCerts(String name, SpiffeId id) throws IOException {
        Path dir = work.resolve(name);
        ca.issue(id).writeIstioLayout(dir);
        return dir;
    }

    /** A workload certificate for a source (client) pod. */
    TlsMaterial workload(String namespace, String serviceAccount) {
        return ca.issue(new SpiffeId(ca.trustDomain(), namespace, serviceAccount)).material();
    }

    /**
     * Starts the waypoint for {@code manifests}: HBONE listener on 127.0.0.1 (ephemeral port),
     * outbound HBONE to {@code podIP:hbonePort}, one data-plane thread (so every tunnel of one
     * client connection shares one outbound pool: connection reuse is observable).
     */
    WaypointServer start(String manifests, int hbonePort) throws Exception {
        Path configDir = Files.createDirectories(work.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), manifests);
        Path certDir = writeCerts("waypoint-certs", new SpiffeId(ca.trustDomain(), GATEWAY.namespace(), GATEWAY.name()));
        waypoint = WaypointServer.start(new WaypointSettings(configDir, certDir, GATEWAY, ca.trustDomain(),
                ListenerSettings.defaults(new InetSocketAddress("127.0.0.1", 0)), UpstreamSettings.defaults(hbonePort),
                null, null, null, 1));
        return waypoint;
    }

    WaypointServer waypoint() {
        return waypoint;
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
