package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.WorkloadRef;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Istio's GetDeployMetaFromPod, rule by rule, as a truth table. */
class PodWorkloadsTest {
    static PodWorkloads.Owner controller(String kind, String name) {
        return new PodWorkloads.Owner("apps/v1", kind, name, true);
    }

    static Stream<Arguments> cases() {
        String gen = "x-";
        return Stream.of(
                // name, pod, generateName, labels, owners, expected kind, expected name
                Arguments.of("bare pod", "db-0", null, Map.of(), List.of(), "Pod", "db-0"),
                Arguments.of("owners but no generateName: the pod", "reviews-v1-7d9f8c6b5d-x2k4q", null,
                        Map.of("pod-template-hash", "7d9f8c6b5d"), List.of(controller("ReplicaSet", "reviews-v1-7d9f8c6b5d")),
                        "Pod", "reviews-v1-7d9f8c6b5d-x2k4q"),
                Arguments.of("generated, no controller: the pod", "p-abcde", gen, Map.of(),
                        List.of(new PodWorkloads.Owner("apps/v1", "ReplicaSet", "rs", false)), "Pod", "p-abcde"),
                Arguments.of("ReplicaSet with the pod-template-hash: its Deployment", "reviews-v1-7d9f8c6b5d-x2k4q", gen,
                        Map.of("pod-template-hash", "7d9f8c6b5d"), List.of(controller("ReplicaSet", "reviews-v1-7d9f8c6b5d")),
                        "Deployment", "reviews-v1"),
                Arguments.of("ReplicaSet whose name lacks the hash: the ReplicaSet", "rs-abcde", gen,
                        Map.of("pod-template-hash", "999"), List.of(controller("ReplicaSet", "my-rs")), "ReplicaSet", "my-rs"),
                Arguments.of("ReplicaSet without a hash label: the ReplicaSet", "rs-abcde", gen, Map.of(),
                        List.of(controller("ReplicaSet", "my-rs")), "ReplicaSet", "my-rs"),
                Arguments.of("Argo Rollout", "web-6c8d7f-abcde", gen, Map.of("rollouts-pod-template-hash", "6c8d7f"),
                        List.of(controller("ReplicaSet", "web-6c8d7f")), "Rollout", "web"),
                Arguments.of("OpenShift DeploymentConfig", "app-1-abcde", gen, Map.of("deploymentconfig", "app"),
                        List.of(controller("ReplicationController", "app-1")), "DeploymentConfig", "app"),
                Arguments.of("ReplicationController without deploymentconfig", "rc-abcde", gen, Map.of(),
                        List.of(controller("ReplicationController", "rc")), "ReplicationController", "rc"),
                Arguments.of("Job of a CronJob (8-10 digit suffix)", "backup-28712345-abcde", gen, Map.of(),
                        List.of(controller("Job", "backup-28712345")), "CronJob", "backup"),
                Arguments.of("Job with a short suffix: the Job", "migrate-1234-abcde", gen, Map.of(),
                        List.of(controller("Job", "migrate-1234")), "Job", "migrate-1234"),
                Arguments.of("StatefulSet", "db-0", "db-", Map.of(), List.of(controller("StatefulSet", "db")),
                        "StatefulSet", "db"),
                Arguments.of("DaemonSet", "agent-x7k2p", gen, Map.of(), List.of(controller("DaemonSet", "agent")),
                        "DaemonSet", "agent"),
                Arguments.of("the first controller counts", "p-abcde", gen, Map.of(),
                        List.of(new PodWorkloads.Owner("v1", "Node", "n1", false), controller("StatefulSet", "first"),
                                controller("DaemonSet", "second")), "StatefulSet", "first"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void derivesTheWorkloadAsIstioDoes(String name, String pod, String generateName, Map<String, String> labels,
                                       List<PodWorkloads.Owner> owners, String kind, String workload) {
        assertThat(PodWorkloads.derive(pod, generateName, labels, owners)).isEqualTo(new WorkloadRef(kind, workload));
    }
}
