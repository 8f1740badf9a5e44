package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.util.Map;

/**
 * A {@code WorkloadEntry} ({@code networking.istio.io/v1}, {@code v1beta1}): a non-Kubernetes
 * workload that ServiceEntries select with {@code workloadSelector}.
 *
 * @param labels {@code metadata.labels}
 * @param workload the spec; its {@code labels} are what selectors match
 */
public record WorkloadEntrySpec(NamespacedName name, Map<String, String> labels, WorkloadEndpointSpec workload,
                                SourceRef source) {
    public WorkloadEntrySpec {
        labels = Map.copyOf(labels);
    }
}
