package dev.waypoint.listener.target;

import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.Map;

/**
 * The binding rules, pure: which waypoint an object uses, and whether that is this one.
 * (istio {@code pilot/pkg/serviceregistry/ambient/waypoints.go} {@code fetchWaypointForTarget})
 */
final class Bindings {
    static final String USE_WAYPOINT = "istio.io/use-waypoint";
    static final String USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace";
    static final String WAYPOINT_FOR = "istio.io/waypoint-for";
    /** The values of {@link #WAYPOINT_FOR} Istio knows (constants.ServiceTraffic, WorkloadTraffic, AllTraffic, NoTraffic). */
    static final java.util.List<String> WAYPOINT_FOR_VALUES = java.util.List.of("service", "workload", "all", "none");
    static final String GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name";
    static final String WAYPOINT_CLASS = "istio-waypoint";

    private Bindings() {}

    /** Outcome of resolving one object's waypoint. */
    record Use(NamespacedName waypoint, String why) {
        static Use none(String why) {
            return new Use(null, why);
        }
    }

    /**
     * Which waypoint an object uses. "The object's own label first; if absent, its Namespace's
     * label (with the namespace's use-waypoint-namespace). Value none on the object opts out even
     * if the namespace is labelled."
     */
    static Use waypointOf(String kind, NamespacedName object, Map<String, String> labels, NamespaceSpec namespace) {
        if (labels.containsKey(GATEWAY_NAME)) {
            // "Waypoint pods and waypoint Services themselves never get a waypoint"
            return Use.none(kind + " " + object + " is part of waypoint " + labels.get(GATEWAY_NAME));
        }
        String own = labels.get(USE_WAYPOINT);
        if (own != null) {
            if (own.equals("none")) {
                return Use.none(kind + " " + object + " opts out (" + USE_WAYPOINT + "=none)");
            }
            String ns = labels.getOrDefault(USE_WAYPOINT_NAMESPACE, object.namespace());
            return new Use(new NamespacedName(ns, own), kind + " label");
        }
        Map<String, String> nsLabels = namespace == null ? Map.of() : namespace.labels();
        String inherited = nsLabels.get(USE_WAYPOINT);
        if (inherited == null) {
            return Use.none(kind + " " + object + " has no " + USE_WAYPOINT + " label (nor its namespace)");
        }
        if (inherited.equals("none")) {
            return Use.none("namespace " + object.namespace() + " opts out (" + USE_WAYPOINT + "=none)");
        }
        String ns = nsLabels.getOrDefault(USE_WAYPOINT_NAMESPACE, object.namespace());
        return new Use(new NamespacedName(ns, inherited), "namespace label");
    }

    /**
     * {@code istio.io/waypoint-for} of the Gateway: service (default), workload, all or none. Any
     * other value is kept as written, as Istio keeps it ({@code waypoints.go}): it serves neither
     * Services nor workloads, so a misspelt {@code Services} binds nothing instead of everything.
     */
    static String waypointFor(GatewaySpec gateway) {
        return gateway.labels().getOrDefault(WAYPOINT_FOR, "service");
    }

    static boolean servesServices(String waypointFor) {
        return waypointFor.equals("service") || waypointFor.equals("all");
    }

    static boolean servesWorkloads(String waypointFor) {
        return waypointFor.equals("workload") || waypointFor.equals("all");
    }

    /**
     * "Cross-namespace: allowed only if the waypoint's HBONE listener allowedRoutes.namespaces.from
     * is All, or Selector matching the client namespace's labels; default Same." The selector is a
     * full label selector: matchLabels and matchExpressions, ANDed.
     */
    static boolean namespaceAllowed(GatewaySpec gateway, String objectNamespace, NamespaceSpec namespace) {
        if (gateway.name().namespace().equals(objectNamespace)) {
            return true;
        }
        String from = gateway.allowedNamespaces() == null ? "Same" : gateway.allowedNamespaces();
        return switch (from) {
            case "All" -> true;
            // Gateway API: "only Routes in Namespaces matching this Selector will be selected";
            // Istio evaluates it with metav1.LabelSelectorAsSelector (waypoints.go makeWaypointSelector)
            // a namespace written without its Namespace object still has the label the API server sets
            case "Selector" -> gateway.namespaceSelector().matches(namespace == null
                    ? Map.of("kubernetes.io/metadata.name", objectNamespace) : namespace.labels());
            default -> false;
        };
    }
}
