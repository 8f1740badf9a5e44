package dev.waypoint.model.gateway;

import java.util.List;
import java.util.Objects;

/**
 * One {@code backendRefs[]} entry, CRD defaults applied (group {@code ""}, kind {@code Service},
 * weight 1, namespace the route's own).
 *
 * @param port the Service port, or 0 when omitted (an invalid reference for a Service)
 * @param weight the relative share, 0 for never
 * @param filters the filters that run only when this backend is chosen
 */
public record BackendRefSpec(String group, String kind, String namespace, String name, int port, int weight,
                             List<HttpFilterSpec> filters) {
    public BackendRefSpec {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        filters = List.copyOf(filters);
    }

    /** Whether the reference names a Service ({@code group: ""}/{@code core}, {@code kind: Service}). */
    public boolean isService() {
        return (group.isEmpty() || group.equals("core")) && kind.equals("Service");
    }
}
