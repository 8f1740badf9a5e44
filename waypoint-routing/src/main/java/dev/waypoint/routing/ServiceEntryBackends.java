package dev.waypoint.routing;

import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.request.RouteSelection;
import java.util.List;

/**
 * Route backendRefs that name ServiceEntries (Istio's extension of Gateway API backendRefs):
 *
 * <ul>
 *   <li>{@code group: networking.istio.io, kind: Hostname, name: <host>}: the ServiceEntry with
 *       that host; one in the route's namespace first, else the first in input order (Istio
 *       resolves a Hostname reference against every service visible to the route's namespace:
 *       an entry whose {@code exportTo} leaves that namespace out is not considered). No ReferenceGrant is
 *       asked for, as Istio asks none for a hostname.</li>
 *   <li>{@code group: networking.istio.io, kind: ServiceEntry, name: <name>}: that ServiceEntry
 *       in the reference's namespace; another namespace needs a ReferenceGrant to
 *       {@code networking.istio.io/ServiceEntry}, as a Service does.</li>
 * </ul>
 * The {@code port} is required and must be one of the entry's ports. Pure.
 */
final class ServiceEntryBackends {
    static final String NETWORKING = "networking.istio.io";

    private ServiceEntryBackends() {}

    static boolean isServiceEntry(BackendRefSpec ref) {
        return ref.group().equals(NETWORKING) && (ref.kind().equals("Hostname") || ref.kind().equals("ServiceEntry"));
    }

    /**
     * A {@link RouteSelection.ServiceEntryBackend}, or a String saying why the reference is
     * unusable. A ReferenceGrant must allow the route's own kind (HTTPRoute or GRPCRoute).
     */
    static Object resolve(BackendRefSpec ref, HttpRouteSpec route, List<ServiceEntrySpec> entries,
                          List<ReferenceGrantSpec> grants) {
        return resolve(ref, route.name(), route.kind(), entries, grants);
    }

    /** As above for a route of kind {@code routeKind} (TCPRoute, TLSRoute) named {@code routeName}. */
    static Object resolve(BackendRefSpec ref, dev.waypoint.model.mesh.NamespacedName routeName, String routeKind,
                          List<ServiceEntrySpec> entries, List<ReferenceGrantSpec> grants) {
        ServiceEntrySpec found = null;
        String what;
        if (ref.kind().equals("Hostname")) {
            what = "backendRef Hostname " + ref.name();
            for (ServiceEntrySpec se : entries) {
                if (se.hosts().contains(ref.name()) && se.exportedTo(routeName.namespace())
                        && (found == null || se.name().namespace().equals(routeName.namespace())
                        && !found.name().namespace().equals(routeName.namespace()))) {
                    found = se;
                }
            }
            if (found == null) {
                return what + " is no host of any ServiceEntry exported to namespace " + routeName.namespace();
            }
        } else {
            what = "backendRef ServiceEntry " + ref.namespace() + "/" + ref.name();
            if (!ref.namespace().equals(routeName.namespace())
                    && grants.stream().noneMatch(g -> g.name().namespace().equals(ref.namespace())
                    && g.allows("gateway.networking.k8s.io", routeKind, routeName.namespace(), NETWORKING,
                    "ServiceEntry", ref.name()))) {
                return what + " is in another namespace and no ReferenceGrant allows it";
            }
            for (ServiceEntrySpec se : entries) {
                if (se.name().namespace().equals(ref.namespace()) && se.name().name().equals(ref.name())) {
                    found = se;
                }
            }
            if (found == null) {
                return what + " does not exist";
            }
        }
        if (ref.port() == 0) {
            return what + " has no port (expected: port is required)";
        }
        ServicePortSpec port = found.port(ref.port());
        if (port == null) {
            return what + " has no port " + ref.port();
        }
        return new RouteSelection.ServiceEntryBackend(found, port, null);
    }
}
