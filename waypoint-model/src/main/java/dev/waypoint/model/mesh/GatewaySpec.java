package dev.waypoint.model.mesh;

import dev.waypoint.model.SourceRef;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Gateway API {@code Gateway}; waypoints have class {@code istio-waypoint} and one HBONE listener.
 *
 * @param allowedNamespaces {@code listeners[].allowedRoutes.namespaces.from} of the HBONE listener:
 *        {@code Same} (default), {@code All} or {@code Selector}
 * @param namespaceSelector {@code allowedRoutes.namespaces.selector} ({@code matchLabels} and
 *        {@code matchExpressions}) when {@code allowedNamespaces} is {@code Selector}; ignored (and
 *        {@link LabelSelector#EVERYTHING}) otherwise
 */
public record GatewaySpec(NamespacedName name, String className, Map<String, String> labels,
                          List<Listener> listeners, String allowedNamespaces, LabelSelector namespaceSelector,
                          SourceRef source) {
    public GatewaySpec {
        labels = Map.copyOf(labels);
        listeners = List.copyOf(listeners);
        Objects.requireNonNull(namespaceSelector, "namespaceSelector");
    }

    /** One listener. */
    public record Listener(String name, int port, String protocol) {}
}
