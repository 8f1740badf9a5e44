package dev.waypoint.model.request;

import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;

/**
 * What an accepted HBONE {@code CONNECT} addresses: a Service port bound to this waypoint, or a
 * Pod bound to it. Decided before the tunnel is answered.
 */
public sealed interface Target extends TargetResolution {

    /** The CONNECT {@code :authority}, parsed. */
    HostPort authority();

    /** The protocol the port declares. */
    AppProtocol protocol();

    /** Service-addressed: {@code VIP:port}. */
    record ServiceTarget(HostPort authority, ServiceSpec service, ServicePortSpec port) implements Target {
        @Override
        public AppProtocol protocol() {
            return port.protocol();
        }
    }

    /**
     * Workload-addressed: {@code podIP:port}. The protocol comes from a bound Service port whose
     * target port is this port, if any, else {@link AppProtocol#AUTO}.
     */
    record WorkloadTarget(HostPort authority, PodSpec pod, AppProtocol protocol) implements Target {}

    /**
     * Service-addressed through a ServiceEntry: one of its {@code addresses} and {@code ports}.
     * The protocol is the port's {@code protocol} (HTTP, HTTP2, GRPC, TCP, TLS, HTTPS, ...).
     */
    record ServiceEntryTarget(HostPort authority, ServiceEntrySpec entry, ServicePortSpec port) implements Target {
        @Override
        public AppProtocol protocol() {
            return port.protocol();
        }
    }
}
