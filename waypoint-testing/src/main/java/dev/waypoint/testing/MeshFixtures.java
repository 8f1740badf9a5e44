package dev.waypoint.testing;

import static java.util.Objects.requireNonNull;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
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
import java.util.concurrent.TimeUnit;

/**
 * Everything of a local ambient mesh except the waypoint, built from loaded manifests: a fresh
 * mesh CA, the waypoint's certificate directory, an echo backend on every pod IP and port the
 * manifests name (pod IPs are loopback addresses), and a destination-ztunnel stand-in on every
 * ambient pod's IP presenting that pod's identity. Whoever starts the waypoint against it (the
 * demo, the server's end-to-end tests) owns that part; this module does not know the server.
 *
 * <h2>Lifecycle</h2>
 * {@link #start} binds everything or nothing; {@link #close} stops the backends and stand-ins and
 * then the event loops they run on. Close the waypoint first.
 */
public final class MeshFixtures implements AutoCloseable {
    private final TestCa ca;
    private final EventLoopGroup group;
    private final ResourceSet resources;
    private final Path certDir;
    private final List<AutoCloseable> parts = new ArrayList<>();
    private final Map<InetSocketAddress, EchoServer> echoes = new LinkedHashMap<>();
    private DestinationZtunnel ztunnels;

    private MeshFixtures(TestCa ca, EventLoopGroup group, ResourceSet resources, Path certDir) {
        this.ca = ca;
        this.group = group;
        this.resources = resources;
        this.certDir = certDir;
    }

    /**
     * Starts the backends and stand-ins for {@code resources}, and writes the certificates of the
     * waypoint {@code gateway} (its identity is its ServiceAccount, named after the Gateway) in
     * Istio's mounted layout under {@code workDir/waypoint-certs}.
     *
     * @param hbonePort port of the destination-ztunnel stand-ins on each pod IP; 0 picks a free one
     */
    public static MeshFixtures start(ResourceSet resources, Path workDir, NamespacedName gateway, int hbonePort)
            throws Exception {
        requireNonNull(resources, "resources");
        requireNonNull(workDir, "workDir");
        requireNonNull(gateway, "gateway");
        TestCa ca = TestCa.create("cluster.local");
        Path certDir = Files.createDirectories(workDir.resolve("waypoint-certs"));
        ca.issue(new SpiffeId(ca.trustDomain(), gateway.namespace(), gateway.name())).writeIstioLayout(certDir);
        MeshFixtures mesh = new MeshFixtures(ca, EventLoops.newGroup(2, "mesh"), resources, certDir);
        try {
            mesh.startBackends(hbonePort);
            return mesh;
        } catch (Exception | Error e) {
            mesh.close();
            throw e;
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
            // the waypoint's own rule: only the pods it reaches over HBONE get a ztunnel stand-in
            if (pod.inAmbient(namespaces.get(pod.name().namespace()))) {
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

    /** The manifests the fixtures were built from. */
    public ResourceSet resources() {
        return resources;
    }

    /** The destination ztunnel stand-ins (null if no pod is in the mesh). */
    public DestinationZtunnel ztunnels() {
        return ztunnels;
    }

    /** The port the waypoint must dial for HBONE to a pod: the stand-ins' port, 15008 if there are none. */
    public int hbonePort() {
        return ztunnels == null ? 15008 : ztunnels.port();
    }

    /** The event loops the fixtures run on (also for clients). */
    public EventLoopGroup group() {
        return group;
    }

    /** The waypoint's certificate directory, Istio's mounted layout (rewrite it to rotate). */
    public Path certDir() {
        return certDir;
    }

    /** Every Service VIP:port, as a client would dial it. */
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
