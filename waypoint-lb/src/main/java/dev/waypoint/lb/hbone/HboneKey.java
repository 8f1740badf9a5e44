package dev.waypoint.lb.hbone;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;

/**
 * What an HBONE connection is shared by: the destination ztunnel's address, the identity it must
 * present, and the source identity of the tunnels it carries ({@code tenant}: the inbound tunnel's
 * TLS peer), as ztunnel keys its own pool by source workload. A connection's HTTP/2 window is
 * shared by its streams, and a stream whose client never reads holds its share until it is read:
 * four such streams of 4 MiB fill a 16 MiB connection window, so a pool shared by every client
 * let one client that never reads stall every other client of the same node. Keyed by tenant, it
 * stalls only its own connections.
 *
 * @param tenant the source identity of the tunnels carried; null when there is none (tests, or a
 *        client without a certificate, which the listener refuses)
 */
public record HboneKey(HostPort destination, SpiffeId expectedIdentity, SpiffeId tenant) {
    /** A connection not set apart by tenant. */
    public HboneKey(HostPort destination, SpiffeId expectedIdentity) {
        this(destination, expectedIdentity, null);
    }
}
