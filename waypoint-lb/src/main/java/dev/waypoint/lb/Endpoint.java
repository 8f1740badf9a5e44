package dev.waypoint.lb;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.SpiffeId;

/**
 * One place a request can go: {@code ip:targetPort}, and how to get there.
 *
 * @param address the endpoint's IP and target port (the outbound CONNECT {@code :authority})
 * @param identity the SPIFFE ID its ztunnel must present when the endpoint is in the ambient mesh
 *        (HBONE to {@code ip:15008}); null for an endpoint outside the mesh (plaintext)
 * @param pod the pod behind it, or null for an EndpointSlice address without a Pod
 */
public record Endpoint(HostPort address, SpiffeId identity, PodSpec pod) implements UpstreamPick {
    /** Whether the endpoint is reached through HBONE. */
    public boolean inMesh() {
        return identity != null;
    }

    @Override
    public String toString() {
        return address + (identity != null ? " (hbone " + identity + ")" : " (plaintext)");
    }
}
