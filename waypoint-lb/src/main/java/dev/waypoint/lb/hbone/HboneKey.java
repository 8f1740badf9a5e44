package dev.waypoint.lb.hbone;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;

/**
 * What an HBONE connection is shared by: the destination ztunnel's address and the identity it
 * must present. (ztunnel also keys by source identity; the waypoint has only its own.)
 */
public record HboneKey(HostPort destination, SpiffeId expectedIdentity) {}
