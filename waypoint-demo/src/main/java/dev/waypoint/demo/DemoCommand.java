package dev.waypoint.demo;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.server.Main;
import dev.waypoint.testing.SourceZtunnel;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code java -jar waypoint-demo.jar}: a whole local ambient mesh in one process, from the
 * manifests in {@code examples/demo/} (bundled in the jar), with a plain-HTTP entry on every
 * Service VIP that wraps connections in HBONE as a client pod's ztunnel would. Its own jar, so
 * that the product jar carries no test CA and no stand-ins.
 */
@Command(name = "waypoint-demo", mixinStandardHelpOptions = true, version = "waypoint-demo 0.1.0",
        description = "Run a local ambient mesh (mesh CA, sample services behind destination-ztunnel stand-ins, "
                + "the waypoint, and client-ztunnel entries on the Service VIPs) from the bundled examples/demo "
                + "manifests, and print curl commands to try. Ctrl-C stops it.")
public final class DemoCommand implements Callable<Integer> {
    /** The bundled manifests (examples/demo/ in the repository). */
    static final List<String> FILES = List.of("mesh.yaml", "services.yaml", "pods.yaml");

    /** Runs the demo until Ctrl-C; {@code --help} lists the options. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new DemoCommand()).execute(args));
    }

    @Option(names = "--config-dir", paramLabel = "DIR",
            description = "Use these manifests instead of the bundled ones (edits are picked up live).")
    Path configDir;

    @Option(names = "--work-dir", paramLabel = "DIR",
            description = "Where the demo writes its manifests copy and certificates (default: a new temp dir).")
    Path workDir;

    @Option(names = "--listen", defaultValue = "127.0.0.1:15008", paramLabel = "HOST:PORT",
            description = "Waypoint HBONE listener (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--hbone-port", defaultValue = "15008", paramLabel = "PORT",
            description = "Port of the destination-ztunnel stand-ins on each pod IP (default: ${DEFAULT-VALUE}).")
    int hbonePort;

    @Override
    public Integer call() throws Exception {
        Path work = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("waypoint-demo");
        Path manifests = configDir;
        if (manifests == null) {
            manifests = Files.createDirectories(work.resolve("manifests"));
            for (String f : FILES) {
                try (InputStream in = DemoCommand.class.getResourceAsStream("/demo/" + f)) {
                    if (in == null) {
                        throw new IllegalStateException("demo manifest missing from the jar: " + f);
                    }
                    Files.copy(in, manifests.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        NamespacedName gateway = new NamespacedName("istio-system", "waypoint");
        LocalMesh.Options options = new LocalMesh.Options(Main.address(listen),
                new InetSocketAddress("127.0.0.1", 15021), new InetSocketAddress("127.0.0.1", 15000),
                new InetSocketAddress("127.0.0.1", 15020), hbonePort, 2);
        LocalMesh mesh;
        try {
            mesh = LocalMesh.start(manifests, work, gateway, options);
        } catch (Exception | Error e) {
            if (workDir == null) {
                deleteQuietly(work); // its keys are not left behind in /tmp
            }
            throw e;
        }
        SourceZtunnel clients = SourceZtunnel.start(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("demo", "curl"), mesh.serviceAddresses());
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // drain first: requests in flight through the client stand-ins finish
            mesh.waypoint().drain();
            clients.close();
            mesh.close();
            if (workDir == null) {
                deleteQuietly(work); // a temp dir of our own: certificates and the manifests copy
            }
            stop.countDown();
        }, "demo-shutdown"));
        System.out.println("""

                waypoint-demo is up: waypoint istio-system/waypoint on %s
                  manifests (edit them; changes apply within 2 s): %s
                  certificates: %s

                Each Service VIP below is served by a stand-in for the client pod's ztunnel, which
                tunnels your connection over HBONE (mTLS HTTP/2 CONNECT, identity
                spiffe://cluster.local/ns/demo/sa/curl) to the waypoint; the waypoint checks the
                target, routes to an endpoint and opens HBONE to that pod's ztunnel stand-in.

                %s
                Ctrl-C stops it.
                """.formatted(mesh.waypoint().hboneAddress(), manifests.toAbsolutePath(), mesh.certDir().toAbsolutePath(),
                tryLines(configDir == null, mesh.serviceAddresses()).indent(2)));
        stop.await();
        return 0;
    }

    /** The bundled demo's curl commands, with what each shows. */
    static final String BUNDLED_TRY = """
            curl -s http://127.10.0.10:9080/          # reviews: balanced over v1, v2, v3
            curl -s http://127.10.0.11:9080/          # ratings: named targetPort (http-api -> 9081)
            curl -s --http2-prior-knowledge http://127.10.0.12:7070/   # h2c end to end
            curl -s http://127.10.0.14/               # legacy: pod outside the mesh, plaintext hop
            curl -s -i http://127.10.0.15/            # no endpoints: 503 no_healthy_upstream
            """;

    /**
     * What to try: the bundled demo's commentated list, or for {@code --config-dir} one curl per
     * Service VIP:port that has a client stand-in; then the admin and health endpoints.
     */
    static String tryLines(boolean bundled, java.util.List<InetSocketAddress> serviceAddresses) {
        StringBuilder b = new StringBuilder();
        if (bundled) {
            b.append(BUNDLED_TRY);
        } else if (serviceAddresses.isEmpty()) {
            b.append("# no Service VIP in the manifests: nothing to curl through the waypoint yet\n");
        } else {
            serviceAddresses.stream()
                    .map(a -> (a.getAddress() instanceof java.net.Inet6Address ? "[" + a.getAddress().getHostAddress() + "]"
                            : a.getAddress().getHostAddress()) + (a.getPort() == 80 ? "" : ":" + a.getPort()))
                    .sorted()
                    .forEach(a -> b.append("curl -s http://").append(a).append("/\n"));
            b.append("# (h2c or gRPC ports: curl --http2-prior-knowledge)\n");
        }
        b.append("curl -s http://127.0.0.1:15000/config_dump    # what the waypoint loaded and bound\n");
        b.append("curl -s http://127.0.0.1:15021/healthz/ready\n");
        return b.toString();
    }

    /** Removes {@code dir} and everything under it; a failure is one line on stderr (the demo is stopping). */
    static void deleteQuietly(Path dir) {
        try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException | RuntimeException e) {
            System.err.println("waypoint-demo: could not remove " + dir + ": " + e);
        }
    }
}
