package dev.waypoint.config.translate;

import dev.waypoint.model.mesh.WorkloadRef;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The workload of a pod, as Istio derives it (istio/istio {@code pkg/kube/util.go}
 * {@code GetDeployMetaFromPod}), quoted rule by rule below. Pure.
 */
final class PodWorkloads {
    /** "If job name suffixed with `-<digit-timestamp>`, where the length of digit timestamp is 8~10" */
    private static final Pattern CRONJOB_JOB = Pattern.compile("(.+)-\\d{8,10}$");

    /** One entry of {@code metadata.ownerReferences}. */
    record Owner(String apiVersion, String kind, String name, boolean controller) {}

    private PodWorkloads() {}

    static WorkloadRef derive(String podName, String generateName, Map<String, String> labels, List<Owner> owners) {
        // "if the pod name was generated (or is scheduled for generation), we can begin an
        // investigation into the controlling reference for the pod"
        if (generateName == null || generateName.isEmpty()) {
            return WorkloadRef.pod(podName);
        }
        Owner controller = null;
        for (Owner o : owners) {
            if (o.controller()) {
                controller = o;
                break;
            }
        }
        if (controller == null) {
            return WorkloadRef.pod(podName);
        }
        String kind = controller.kind();
        String name = controller.name();
        String hash = labels.get("pod-template-hash");
        String rolloutsHash = labels.get("rollouts-pod-template-hash");
        if (kind.equals("ReplicaSet") && hash != null && !hash.isEmpty() && name.endsWith(hash)) {
            return new WorkloadRef("Deployment", trimSuffix(name, "-" + hash));
        } else if (kind.equals("ReplicaSet") && rolloutsHash != null && !rolloutsHash.isEmpty()
                && name.endsWith(rolloutsHash)) {
            // "Heuristic for ArgoCD Rollout"
            return new WorkloadRef("Rollout", trimSuffix(name, "-" + rolloutsHash));
        } else if (kind.equals("ReplicationController") && labels.get("deploymentconfig") != null
                && !labels.get("deploymentconfig").isEmpty()) {
            // OpenShift: "set the deploy name to the deployment config's name"
            return new WorkloadRef("DeploymentConfig", labels.get("deploymentconfig"));
        } else if (kind.equals("Job")) {
            Matcher m = CRONJOB_JOB.matcher(name);
            if (m.find()) {
                return new WorkloadRef("CronJob", m.group(1));
            }
        }
        // "if we haven't been able to extract a deployment name, then just give it the pod name"
        return new WorkloadRef(kind, name.isEmpty() ? podName : name);
    }

    /** Go's {@code strings.TrimSuffix}: unchanged when {@code s} does not end with {@code suffix}. */
    private static String trimSuffix(String s, String suffix) {
        return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
    }
}
