package dev.waypoint.routing;

import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.util.List;
import java.util.Map;

/**
 * Route parentRefs that name a ServiceEntry ({@code group: networking.istio.io, kind:
 * ServiceEntry}), one rule for HTTPRoute, GRPCRoute, TCPRoute and TLSRoute alike.
 *
 * <p>Istio turns a route into VirtualServices in the <em>route's</em> namespace whose hosts are the
 * entry's {@code hosts} (pilot/pkg/config/kube/gateway/route_collections.go: "for mesh routes,
 * build one VS per namespace/port->host"; a ServiceEntry parent takes {@code ses.Spec.Hosts}), and
 * a waypoint uses a VirtualService only "in the same namespace as the service or in the
 * waypoint's own namespace" (pilot/pkg/networking/core/listener_waypoint.go,
 * {@code getVirtualServiceForWaypoint}, for the HTTP chain and the TCP chain). So a route attaches
 * to an entry of its own namespace or, when it lives in the waypoint's namespace, to an entry of
 * any namespace; in both cases it applies to every caller (a producer route: Istio's waypoint has
 * no consumer routes). A route of any other namespace would attach to nothing there; here it is
 * refused with a warning on its parentRef (Istio's status still says {@code Accepted}:
 * {@code referenceAllowed} checks only that the entry exists; ours says what this waypoint does).
 * Pure.
 */
final class ServiceEntryParents {
    private ServiceEntryParents() {}

    /** Whether {@code parent} names a ServiceEntry. */
    static boolean isServiceEntry(ParentRefSpec parent) {
        return parent.group().equals(ServiceEntryBackends.NETWORKING) && parent.kind().equals("ServiceEntry");
    }

    /**
     * The entry {@code parent} names, seen as a Service of its name and ports (for attachment
     * only), or a String saying why the parentRef is ignored (the message of a warning on it).
     *
     * @param route the route's name (its namespace decides)
     * @param waypoint this waypoint's name (a route of its namespace may name any namespace's entry)
     */
    static Object resolve(NamespacedName route, ParentRefSpec parent, NamespacedName waypoint, List<ServiceEntrySpec> entries) {
        if (!parent.namespace().equals(route.namespace()) && !route.namespace().equals(waypoint.namespace())) {
            return "namespace: " + parent.namespace() + " (expected: " + route.namespace() + ", the route's own, or "
                    + waypoint.namespace() + ", the waypoint's: a waypoint uses the routes of a ServiceEntry only from"
                    + " the entry's namespace or its own; the parentRef is ignored)";
        }
        ServiceSpec svc = entryAsService(entries, parent);
        if (svc == null) {
            return "name: " + parent.namespace() + "/" + parent.name()
                    + " (expected: an existing ServiceEntry; the parentRef is ignored)";
        }
        return svc;
    }

    /** The ServiceEntry {@code parent} names, seen as a Service with its name and ports (for attachment only), or null. */
    private static ServiceSpec entryAsService(List<ServiceEntrySpec> entries, ParentRefSpec parent) {
        for (ServiceEntrySpec se : entries) {
            if (se.name().namespace().equals(parent.namespace()) && se.name().name().equals(parent.name())) {
                return new ServiceSpec(se.name(), se.labels(), se.addresses(), se.ports(), Map.of(), se.source());
            }
        }
        return null;
    }
}
