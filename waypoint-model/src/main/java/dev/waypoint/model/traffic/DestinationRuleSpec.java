package dev.waypoint.model.traffic;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.List;
import java.util.Objects;

/**
 * A validated {@code networking.istio.io/v1} (or {@code v1beta1}) DestinationRule: the traffic
 * policy for one {@code host}, as the waypoint applies it (Istio 1.24+ applies DestinationRules at
 * the waypoint for the Service host; shared/spec/waypoint.md §9.2).
 *
 * @param name the object
 * @param host {@code spec.host} as written (short name, {@code name.ns}, FQDN, or a ServiceEntry host);
 *        the lb compiler resolves it in {@code name.namespace()}
 * @param exportTo {@code spec.exportTo} as written (empty: everywhere)
 * @param trafficPolicy the policy for every port; {@link TrafficPolicySpec#NONE} when absent
 * @param subsets named subsets (labels and their own policy)
 */
public record DestinationRuleSpec(NamespacedName name, String host, List<String> exportTo, TrafficPolicySpec trafficPolicy,
                                  List<SubsetSpec> subsets, SourceRef source) {
    public DestinationRuleSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(host, "host");
        exportTo = List.copyOf(exportTo);
        Objects.requireNonNull(trafficPolicy, "trafficPolicy");
        subsets = List.copyOf(subsets);
    }

    /** A named subset: pods whose labels match, with an optional policy of its own. */
    public record SubsetSpec(String name, java.util.Map<String, String> labels, TrafficPolicySpec trafficPolicy) {
        public SubsetSpec {
            Objects.requireNonNull(name, "name");
            labels = java.util.Map.copyOf(labels);
            Objects.requireNonNull(trafficPolicy, "trafficPolicy");
        }
    }
}
