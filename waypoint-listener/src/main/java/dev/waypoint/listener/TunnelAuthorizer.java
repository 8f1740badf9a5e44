package dev.waypoint.listener;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.TunnelContext;

/**
 * The L4 policy check of a TCP tunnel: AuthorizationPolicy's subset that applies without HTTP.
 * Implemented with the authz engine and wired by the server; the listener depends on no stage.
 * Called on the tunnel's event loop: before a TCP tunnel is answered (declared TCP ports), when
 * an undeclared port turns out to carry TCP, and for every live TCP tunnel on each new config
 * generation. Must not block.
 */
@FunctionalInterface
public interface TunnelAuthorizer {
    /** Allows every tunnel (no policy stage wired). */
    TunnelAuthorizer ALLOW_ALL = (snapshot, tunnel) -> null;

    /** Null if {@code snapshot}'s policies allow {@code tunnel}, else why not ({@link Rejection.Reason#CONNECT_RBAC_DENIED}). */
    Rejection authorize(ConfigSnapshot snapshot, TunnelContext tunnel);
}
