package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.util.Map;

/** A {@code Namespace}: only its labels matter to a waypoint. */
public record NamespaceSpec(String name, Map<String, String> labels, SourceRef source) {
    public NamespaceSpec {
        labels = Map.copyOf(labels);
    }
}
