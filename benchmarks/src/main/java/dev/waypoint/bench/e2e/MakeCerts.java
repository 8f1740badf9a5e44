package dev.waypoint.bench.e2e;

import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.TestCa;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Writes the identities of an end-to-end run, each in Istio's layout ({@code cert-chain.pem},
 * PKCS#8 {@code key.pem}, {@code root-cert.pem}; plain PEM, so nghttpx reads them too), all from
 * one fresh mesh CA:
 * {@code waypoint/} (istio-system/waypoint), {@code client/} (the source workload),
 * {@code pod/} (the destination pod's service account) and {@code nghttpx/} (the C peer).
 */
@Command(name = "make-certs", mixinStandardHelpOptions = true, description = "Mesh CA + identities for the e2e run.")
public final class MakeCerts implements Callable<Integer> {
    @Parameters(paramLabel = "DIR") Path dir;
    @Option(names = "--trust-domain", defaultValue = "cluster.local") String trustDomain;
    @Option(names = "--pod-namespace", defaultValue = "bench") String podNamespace;
    @Option(names = "--pod-service-account", defaultValue = "bench-backend") String podSa;

    public static void main(String[] args) {
        System.exit(new CommandLine(new MakeCerts()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        TestCa ca = TestCa.create(trustDomain);
        ca.issue(new SpiffeId(trustDomain, "istio-system", "waypoint")).writeIstioLayout(dir.resolve("waypoint"));
        ca.issue(new SpiffeId(trustDomain, "bench", "bench-client")).writeIstioLayout(dir.resolve("client"));
        ca.issue(new SpiffeId(trustDomain, podNamespace, podSa)).writeIstioLayout(dir.resolve("pod"));
        ca.issue(new SpiffeId(trustDomain, "istio-system", "nghttpx")).writeIstioLayout(dir.resolve("nghttpx"));
        System.out.println("wrote waypoint/ client/ pod/ nghttpx/ under " + dir);
        return 0;
    }
}
