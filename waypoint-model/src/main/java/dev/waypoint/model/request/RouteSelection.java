package dev.waypoint.model.request;

import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;

/**
 * The routing stage's decision for one request: which backend it goes to. The upstream stage
 * turns the backend into an endpoint.
 *
 * @param routeName name for logs and metrics ({@code default} for a Service's own route)
 */
public record RouteSelection(String routeName, Backend backend) {

    /** Where a request goes. */
    public sealed interface Backend {}

    /** A Service port: one of its ready endpoints on the resolved target port. */
    public record ServiceBackend(ServiceSpec service, ServicePortSpec port) implements Backend {}

    /** One pod, on the port the client addressed (workload-addressed traffic: no load balancing). */
    public record PodBackend(PodSpec pod, int port) implements Backend {}
}
