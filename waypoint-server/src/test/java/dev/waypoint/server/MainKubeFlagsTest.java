package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.kube.KubeSettings;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** {@code waypoint run}'s config source flags: {@code --config-dir} or {@code --kube [--kubeconfig]}. */
class MainKubeFlagsTest {
    private static WaypointSettings settings(String... args) {
        Main.Run run = new Main.Run();
        new CommandLine(run).parseArgs(args);
        return run.settings();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            --kube                                  | -        | -                  | waypoint.dev/waypoint-controller
            --kube --kubeconfig /etc/kube/config    | -        | /etc/kube/config   | waypoint.dev/waypoint-controller
            --kube --controller-name example.com/w  | -        | -                  | example.com/w
            --config-dir /manifests                 | /manifests | -                | -
            """)
    void theSourceFlagsBecomeSettings(String flags, String configDir, String kubeconfig, String controller) {
        String[] base = {"--cert-dir", "/certs", "--gateway", "istio-system/waypoint"};
        String[] args = (String.join(" ", base) + " " + flags).trim().split(" +");
        WaypointSettings s = settings(args);
        assertThat(s.configDir()).isEqualTo(configDir.equals("-") ? null : Path.of(configDir));
        KubeSettings k = s.kube();
        if (controller.equals("-")) {
            assertThat(k).isNull();
        } else {
            assertThat(k.controllerName()).isEqualTo(controller);
            assertThat(k.kubeconfig()).isEqualTo(kubeconfig.equals("-") ? null : Path.of(kubeconfig));
            assertThat(k.writeStatus()).isTrue();
        }
    }

    @org.junit.jupiter.api.Test
    void withKubeAndNoCertificateFlagTheCertificateComesFromIstiod() {
        WaypointSettings s = settings("--kube", "--gateway", "istio-system/waypoint", "--namespace", "istio-system",
                "--service-account", "waypoint");
        assertThat(s.certDir()).isNull();
        assertThat(s.ca().address()).isEqualTo(dev.waypoint.ca.CaSettings.ISTIOD_ADDRESS);
        // a directory keeps needing one of the two
        assertThatThrownBy(() -> settings("--config-dir", "/m", "--gateway", "istio-system/waypoint"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--cert-dir, --ca-address");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            ''                                     | exactly one of --config-dir and --kube
            --kube --config-dir /m                 | exactly one of --config-dir and --kube
            --config-dir /m --kubeconfig /k        | --kubeconfig: only with --kube
            --kube --mesh-config /mesh.yaml        | --mesh-config: only with --config-dir
            --kube --controller-name nodomain      | --controller-name: controllerName: nodomain (expected: a domain-prefixed path
            """)
    void wrongCombinationsAreRefusedWithTheReason(String flags, String message) {
        String[] base = {"--cert-dir", "/certs", "--gateway", "istio-system/waypoint"};
        String[] args = (String.join(" ", base) + " " + flags).trim().split(" +");
        assertThatThrownBy(() -> settings(args)).isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining(message);
    }
}
