package dev.waypoint.bench.e2e;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.testing.DestinationZtunnel;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The destination node of the end-to-end runs, as one process: the {@link BenchBackend} on the pod
 * IP and a destination ztunnel stand-in ({@link DestinationZtunnel}: mTLS HTTP/2 CONNECT
 * terminator presenting the pod's identity) on {@code podIP:hbonePort}, relaying to whatever
 * {@code ip:port} a CONNECT names. Runs until killed; prints one {@code ready} line.
 */
@Command(name = "destination-side", mixinStandardHelpOptions = true,
        description = "Bench backend + destination HBONE terminator on a pod IP; runs until killed.")
public final class DestinationSide implements Callable<Integer> {
    @Option(names = "--pod-ip", required = true) String podIp;
    @Option(names = "--http-port", required = true) int httpPort;
    @Option(names = "--bulk-port", required = true) int bulkPort;
    @Option(names = "--hbone-port", required = true) int hbonePort;
    @Option(names = "--cert-dir", required = true, description = "The pod's identity, Istio layout.") Path certDir;
    @Option(names = "--threads", defaultValue = "2", description = "Event loops of the terminator (and as many for the backend).")
    int threads;

    public static void main(String[] args) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        System.exit(new CommandLine(new DestinationSide()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        InetAddress pod = HostPort.parseIp(podIp);
        EventLoopGroup backendLoops = EventLoops.newGroup(threads, "backend");
        EventLoopGroup ztunnelLoops = EventLoops.newGroup(threads, "ztunnel");
        BenchBackend backend = BenchBackend.start(backendLoops, new InetSocketAddress(pod, httpPort),
                new InetSocketAddress(pod, bulkPort));
        DestinationZtunnel ztunnel = DestinationZtunnel.start(ztunnelLoops, Map.of(pod, TlsMaterial.load(certDir)), hbonePort,
                hp -> new InetSocketAddress(hp.address(), hp.port()));
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            ztunnel.close();
            backend.close();
            ztunnelLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            backendLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            stop.countDown();
        }, "shutdown"));
        System.out.println("ready: backend http " + backend.httpAddress() + ", bulk " + backend.bulkAddress()
                + ", hbone " + podIp + ":" + ztunnel.port() + " pid " + ProcessHandle.current().pid());
        System.out.flush();
        stop.await();
        return 0;
    }

}
