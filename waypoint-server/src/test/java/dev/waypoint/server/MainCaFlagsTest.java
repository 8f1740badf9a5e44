package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.ca.CaSettings;
import dev.waypoint.model.mesh.SpiffeId;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** {@code waypoint run}'s certificate flags: mounted files or Istio's CA, and the CA client's settings. */
class MainCaFlagsTest {
    private static Main.Run parse(String... args) {
        Main.Run run = new Main.Run();
        new CommandLine(run).parseArgs(args);
        return run;
    }

    @Test
    void caAddressWithIstiosDefaults() {
        CaSettings ca = parse("--config-dir", "/m", "--gateway", "mesh/waypoint", "--ca-address",
                "istiod.istio-system.svc:15012", "--namespace", "mesh", "--service-account", "waypoint",
                "--trust-domain", "example.org").settings().ca();
        assertThat(ca.host()).isEqualTo("istiod.istio-system.svc");
        assertThat(ca.port()).isEqualTo(15012);
        assertThat(ca.rootCert()).isEqualTo(Path.of("/var/run/secrets/istio/root-cert.pem"));
        assertThat(ca.token()).isEqualTo(Path.of("/var/run/secrets/tokens/istio-token"));
        assertThat(ca.identity()).isEqualTo(new SpiffeId("example.org", "mesh", "waypoint"));
        assertThat(ca.lifetime()).isEqualTo(Duration.ofHours(24));
        // ISTIO_META_CLUSTER_ID is not set where the tests run
        assertThat(ca.clusterId()).isEqualTo(System.getenv().getOrDefault("ISTIO_META_CLUSTER_ID", "Kubernetes"));
    }

    @Test
    void everyCaFlagIsRead() {
        CaSettings ca = parse("--config-dir", "/m", "--gateway", "mesh/w", "--ca-address", "[fd00::1]:15012",
                "--ca-root-cert", "/r.pem", "--ca-token", "/t", "--namespace", "n", "--service-account", "s",
                "--cluster-id", "east", "--ca-cert-lifetime", "12h").settings().ca();
        assertThat(ca.host()).isEqualTo("fd00::1");
        assertThat(ca.address()).isEqualTo("[fd00::1]:15012");
        assertThat(ca.rootCert()).isEqualTo(Path.of("/r.pem"));
        assertThat(ca.token()).isEqualTo(Path.of("/t"));
        assertThat(ca.clusterId()).isEqualTo("east");
        assertThat(ca.lifetime()).isEqualTo(Duration.ofHours(12));
        assertThat(ca.identity().uri()).isEqualTo("spiffe://cluster.local/ns/n/sa/s");
    }

    @Test
    void certDirAloneMeansNoCaClient() {
        WaypointSettings s = parse("--config-dir", "/m", "--gateway", "mesh/w", "--cert-dir", "/c").settings();
        assertThat(s.ca()).isNull();
        assertThat(s.certDir()).isEqualTo(Path.of("/c"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "neither                | --config-dir=/m --gateway=a/b                                            | --cert-dir, --ca-address: neither given (expected: one)",
        "both                   | --config-dir=/m --gateway=a/b --cert-dir=/c --ca-address=h:1              | --cert-dir, --ca-address: both given (expected: one)",
        "no identity            | --config-dir=/m --gateway=a/b --ca-address=h:1 --namespace=n --service-account= | --service-account:  (expected: both",
        "no port                | --config-dir=/m --gateway=a/b --ca-address=istiod --namespace=n --service-account=s | --ca-address: address: istiod (expected: host:port)",
        "bad lifetime           | --config-dir=/m --gateway=a/b --ca-address=h:1 --namespace=n --service-account=s --ca-cert-lifetime=1d | --ca-cert-lifetime: 1d",
    })
    void badCombinationsNameTheFlags(String name, String args, String message) {
        Main.Run run = new Main.Run();
        CommandLine cl = new CommandLine(run);
        cl.parseArgs(args.trim().split("\\s+"));
        assertThatThrownBy(run::settings).isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining(message);
    }
}
