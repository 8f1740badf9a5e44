package dev.waypoint.model.mesh;

/**
 * One {@code Service.spec.ports[]} entry (TCP only; UDP/SCTP ports are dropped with a warning).
 *
 * @param name port name, or empty
 * @param port the service port
 * @param targetPortNumber numeric {@code targetPort} (defaults to {@code port}), or 0 when named
 * @param targetPortName named {@code targetPort} resolved against pod container ports, or null
 * @param appProtocol raw {@code appProtocol}, or null
 */
public record ServicePortSpec(String name, int port, int targetPortNumber, String targetPortName, String appProtocol) {
    /** The declared protocol (appProtocol, then name prefix, else auto). */
    public AppProtocol protocol() {
        return AppProtocol.declared(appProtocol, name, port);
    }
}
