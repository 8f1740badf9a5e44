package dev.waypoint.model.gateway;

import java.util.Objects;

/**
 * One {@code spec.parentRefs[]} entry, defaults applied: group {@code gateway.networking.k8s.io}
 * and kind {@code Gateway} when omitted (the CRD defaults), namespace the route's own.
 *
 * @param group {@code ""} for the core group (a Service parent)
 * @param port the parent port, or 0 for every port
 * @param sectionName the section (for a Service: the port name), or null
 */
public record ParentRefSpec(String group, String kind, String namespace, String name, int port, String sectionName) {
    public ParentRefSpec {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
    }

    /** Whether the parent is a Service ({@code group: ""} or {@code core}, {@code kind: Service}). */
    public boolean isService() {
        return (group.isEmpty() || group.equals("core")) && kind.equals("Service");
    }
}
