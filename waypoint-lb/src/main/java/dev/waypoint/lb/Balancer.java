package dev.waypoint.lb;

import dev.waypoint.model.request.RequestContext;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * One load-balancing algorithm for one Service port of one snapshot, built once by
 * {@link TrafficPolicyCompiler} with the port's endpoints (hash tables are built there, never on
 * the data path). Thread-safe and lock-free.
 */
interface Balancer {
    /**
     * One endpoint of {@code usable} (never empty).
     *
     * @param all every ready endpoint of the port (what a hash table was built over)
     * @param usable the endpoints that may be chosen: {@code all} itself (the same instance) unless
     *        some are ejected or were already tried by this request
     * @param request the request, or null for a TCP tunnel
     */
    Endpoint pick(List<Endpoint> all, List<Endpoint> usable, RequestContext request, EndpointStates states,
                  RandomGenerator random);

    /** The name shown in the config dump ({@code LEAST_REQUEST}, {@code MAGLEV(cookie user)}). */
    String describe();
}
