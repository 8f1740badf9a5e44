package dev.waypoint.lb;

import dev.waypoint.model.request.RequestContext;
import java.util.List;

/**
 * Chooses one endpoint of a non-empty list for a request, and hears how each attempt ended.
 * Implementations are thread-safe and lock-free; per-endpoint state they keep lives in
 * {@link EndpointStates} (outside the snapshot, so it survives config generations).
 */
public interface EndpointPicker {
    /**
     * One of {@code endpoints} (never empty) for {@code request}; {@code request} is null for TCP
     * tunnels (there is no request to hash).
     */
    Endpoint pick(List<Endpoint> endpoints, RequestContext request);
}
