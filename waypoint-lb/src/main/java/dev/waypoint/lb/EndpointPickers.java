package dev.waypoint.lb;

import dev.waypoint.model.request.RequestContext;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Factories of {@link EndpointPicker}s. */
public final class EndpointPickers {
    private EndpointPickers() {}

    /**
     * Round robin over the list's order with one shared counter (a relaxed increment: fairness,
     * not strict alternation, under concurrency). Not the default: that is LEAST_REQUEST
     * ({@link Upstreams#Upstreams(UpstreamSettings, dev.waypoint.lb.hbone.HbonePool)}).
     */
    public static EndpointPicker roundRobin() {
        return new RoundRobin();
    }

    /**
     * Istio's default, LEAST_REQUEST (power of two choices over {@code states}' requests in flight),
     * as a stand-alone picker (benchmarks; the data path compiles it per Service port).
     */
    public static EndpointPicker leastRequest(EndpointStates states) {
        return adapt(Balancers.leastRequest(null), states);
    }

    /** RANDOM, stand-alone. */
    public static EndpointPicker random() {
        return adapt(Balancers.random("RANDOM"), new EndpointStates());
    }

    /**
     * A consistent hash on request header {@code header} over {@code endpoints} (the table is built
     * here, once): ring hash with {@code size} points at least, or Maglev with a {@code size}-slot
     * (prime) table. Pick from that same list instance.
     */
    public static EndpointPicker consistentHash(String header, boolean maglev, long size, List<Endpoint> endpoints) {
        var spec = new dev.waypoint.model.traffic.TrafficPolicySpec.ConsistentHashSpec(
                dev.waypoint.model.traffic.TrafficPolicySpec.HashOn.HEADER, header, null, null,
                maglev ? dev.waypoint.model.traffic.TrafficPolicySpec.HashTable.MAGLEV
                        : dev.waypoint.model.traffic.TrafficPolicySpec.HashTable.RING_HASH, size);
        return adapt(Balancers.consistentHash(spec, endpoints), new EndpointStates());
    }

    private static EndpointPicker adapt(Balancer b, EndpointStates states) {
        return new EndpointPicker() {
            @Override
            public Endpoint pick(List<Endpoint> endpoints, RequestContext request) {
                return b.pick(endpoints, endpoints, request, states, java.util.concurrent.ThreadLocalRandom.current());
            }

            @Override
            public String toString() {
                return b.describe();
            }
        };
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
