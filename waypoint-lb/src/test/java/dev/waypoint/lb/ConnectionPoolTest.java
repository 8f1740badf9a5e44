package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConnectionPoolSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** connectionPool admission: how many requests in flight a Service port admits before 503 UO. */
class ConnectionPoolTest {
    final Upstreams upstreams = new Upstreams(UpstreamSettings.defaults(15008),
            new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null));

    static ConfigSnapshot snapshot(ConnectionPoolSpec pool) {
        DestinationRuleSpec dr = new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new TrafficPolicySpec(null, null, List.of(), pool), List.of(), SourceRef.NONE);
        return LbFixtures.snapshot(1, LbFixtures.pods(2), List.of(dr));
    }

    @ParameterizedTest(name = "maxConnections {0}, http1MaxPendingRequests {1}, http2MaxRequests {2}, h2 {3} -> {4}")
    @CsvSource({
            // HTTP/1.1: maxConnections run, http1MaxPendingRequests more would queue in Envoy: both admitted
            "1, 1, 0, false, 2",
            "3, 2, 0, false, 5",
            "1, 0, 0, false, -1", // pending unlimited (Istio's default): nothing overflows
            "0, 1, 0, false, -1",
            // HTTP/2 (h2c, gRPC): http2MaxRequests
            "0, 0, 2, true, 2",
            "1, 1, 0, true, -1",
            "0, 0, 2, false, -1",
    })
    void admitsUpToTheLimitThenOverflows(int maxConnections, int pending, int h2Max, boolean h2, int admitted) {
        ConfigSnapshot snap = snapshot(new ConnectionPoolSpec(maxConnections, pending, h2Max));
        List<AtomicInteger> slots = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            AtomicInteger slot = upstreams.admit(snap, LbFixtures.BACKEND, h2);
            if (slot == null) {
                break;
            }
            slots.add(slot);
        }
        if (admitted < 0) {
            assertThat(slots).hasSize(10).allMatch(s -> s == Upstreams.UNLIMITED);
            assertThat(upstreams.overflows()).isZero();
            return;
        }
        assertThat(slots).hasSize(admitted);
        assertThat(upstreams.overflows()).isEqualTo(1);
        // a request ends: one more fits, and a new generation keeps counting the ones in flight
        slots.get(0).decrementAndGet();
        ConfigSnapshot next = snapshot(new ConnectionPoolSpec(maxConnections, pending, h2Max));
        assertThat(upstreams.admit(next, LbFixtures.BACKEND, h2)).isNotNull();
        assertThat(upstreams.admit(next, LbFixtures.BACKEND, h2)).isNull();
    }
}
