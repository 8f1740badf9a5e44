package dev.waypoint.lb;

import java.util.List;

/** Chooses one endpoint of a non-empty list. Implementations are thread-safe and lock-free. */
@FunctionalInterface
public interface EndpointPicker {
    /** One of {@code endpoints} (never empty). */
    Endpoint pick(List<Endpoint> endpoints);
}
