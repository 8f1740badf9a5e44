package dev.waypoint.lb;

import dev.waypoint.model.request.RequestContext;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Factories of {@link EndpointPicker}s. */
public final class EndpointPickers {
    private EndpointPickers() {}

    /**
     * Round robin over the list's order with one shared counter (a relaxed increment: fairness,
     * not strict alternation, under concurrency). The load-balancing issue replaces this default
     * with Istio's LEAST_REQUEST, which reads {@link EndpointStates#active}.
     */
    public static EndpointPicker roundRobin() {
        return new RoundRobin();
    }

    private static final class RoundRobin implements EndpointPicker {
        private final AtomicInteger next = new AtomicInteger();

        @Override
        public Endpoint pick(List<Endpoint> endpoints, RequestContext request) {
            int i = next.getAndIncrement() & Integer.MAX_VALUE;
            return endpoints.get(i % endpoints.size());
        }
    }
}
