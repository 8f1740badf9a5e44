package dev.waypoint.transport;

import dev.waypoint.model.request.RouteSelection;
import io.netty.util.AttributeKey;

/**
 * Typed per-request hand-offs between stages on one request channel. For HTTP/1.1 the channel is
 * the tunnel and requests are sequential, so a stage overwrites the value for each request
 * before the next stage reads it.
 */
public final class RequestKeys {
    private RequestKeys() {}

    /** Set by the {@code route} stage for the current request; read by {@code upstream}. */
    public static final AttributeKey<RouteSelection> ROUTE = AttributeKey.valueOf("waypoint.route");
}
