package dev.waypoint.model.mesh;

import java.util.Objects;

/**
 * The workload a pod belongs to, as Istio derives it from the pod's controller
 * (istio/istio {@code pkg/kube.GetDeployMetaFromPod}): a {@code Deployment} through its
 * ReplicaSet, a {@code CronJob} through its Job, the controller itself otherwise, or the pod.
 * Its name is {@code destination_workload}, the kind names the baggage key
 * ({@code k8s.deployment.name}).
 *
 * @param kind {@code Deployment}, {@code CronJob}, {@code StatefulSet}, {@code DaemonSet},
 *        {@code Job}, {@code ReplicaSet}, {@code Rollout}, {@code DeploymentConfig}, ..., or {@code Pod}
 * @param name the workload's name
 */
public record WorkloadRef(String kind, String name) {
    public WorkloadRef {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
    }

    /** A pod that is its own workload (no controller, or a name that was not generated). */
    public static WorkloadRef pod(String podName) {
        return new WorkloadRef("Pod", podName);
    }
}
