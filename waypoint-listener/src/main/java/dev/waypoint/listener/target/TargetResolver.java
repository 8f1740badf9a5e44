package dev.waypoint.listener.target;

import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TargetResolution;
import java.util.Map;

/**
 * Decides what a CONNECT {@code :authority} addresses, before the tunnel is answered. Pure: no
 * Netty, no I/O. Service-addressed traffic is matched first ("service-addressed traffic stays
 * service-addressed"), then workload-addressed.
 */
public final class TargetResolver {
    private TargetResolver() {}

    /** A {@link Target}, or a {@link Rejection} saying why the address is not served here. */
    public static TargetResolution resolve(CharSequence authority, TargetTable table) {
        HostPort hp;
        try {
            hp = HostPort.parseAuthority(authority);
        } catch (IllegalArgumentException e) {
            return new Rejection(Rejection.Reason.BAD_AUTHORITY, e.getMessage());
        }
        return resolve(hp, table);
    }

    /** As {@link #resolve(CharSequence, TargetTable)} for a parsed authority. */
    public static TargetResolution resolve(HostPort hp, TargetTable table) {
        Map<Integer, Target.ServiceTarget> ports = table.services.get(hp.address());
        if (ports != null) {
            Target.ServiceTarget t = ports.get(hp.port());
            if (t != null) {
                return t;
            }
            return new Rejection(Rejection.Reason.NOT_BOUND, hp.address().getHostAddress()
                    + " is a VIP of " + ports.values().iterator().next().service().name() + " but port " + hp.port()
                    + " is not one of its ports");
        }
        Map<Integer, Target.ServiceEntryTarget> entryPorts = table.serviceEntries.get(hp.address());
        if (entryPorts != null && !entryPorts.isEmpty()) {
            Target.ServiceEntryTarget t = entryPorts.get(hp.port());
            if (t != null) {
                return t;
            }
            return new Rejection(Rejection.Reason.NOT_BOUND, hp.address().getHostAddress()
                    + " is an address of ServiceEntry " + entryPorts.values().iterator().next().entry().name()
                    + " but port " + hp.port() + " is not one of its ports");
        }
        PodSpec pod = table.pods.get(hp.address());
        if (pod != null) {
            AppProtocol protocol = table.podProtocols.getOrDefault(hp.address(), Map.of())
                    .getOrDefault(hp.port(), AppProtocol.AUTO);
            return new Target.WorkloadTarget(hp, pod, protocol);
        }
        String why = table.notBound.get(hp.address());
        return new Rejection(Rejection.Reason.NOT_BOUND, why != null ? hp + ": " + why
                : hp + " is not a Service VIP or Pod IP bound to this waypoint");
    }
}
