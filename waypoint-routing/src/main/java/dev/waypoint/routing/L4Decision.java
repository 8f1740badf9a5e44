package dev.waypoint.routing;

import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RouteSelection;

/**
 * The route of one TCP connection (TCPRoute) or TLS connection (TLSRoute, by SNI), decided by
 * {@link L4RouteTable}. Pure.
 */
public sealed interface L4Decision {
    /** No route attaches to the port: the Service's (or ServiceEntry's) own endpoints. */
    record UseDefault() implements L4Decision {}

    /** Connect to {@code backend}; {@code routeName} for logs ({@code <name>.<namespace>.<rule>}). */
    record Forward(String routeName, RouteSelection.Backend backend) implements L4Decision {}

    /** Close the connection: no TLSRoute hostname matches, or the chosen backendRef is invalid. */
    record Reject(String routeName, Rejection rejection) implements L4Decision {}

    UseDefault DEFAULT = new UseDefault();
}
