package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.lb.EndpointStates.AttemptResult;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Ejection and recovery timelines on an injected clock, through {@link Upstreams#pick} over a
 * compiled snapshot: who is picked, when an endpoint comes back, how long the next ejection
 * lasts, and the limits (max ejection percent, min health percent).
 */
class OutlierDetectionTest {
    final LbFixtures.FakeClock clock = new LbFixtures.FakeClock();
    final EndpointStates states = new EndpointStates(clock);
    final Upstreams upstreams = new Upstreams(UpstreamSettings.defaults(15008),
            new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null), null, states);

    static ConfigSnapshot snapshot(int pods, OutlierDetectionSpec od) {
        DestinationRuleSpec dr = new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new TrafficPolicySpec(new TrafficPolicySpec.LoadBalancerSpec(TrafficPolicySpec.Simple.ROUND_ROBIN, null, null),
                        od, List.of()), List.of(), SourceRef.NONE);
        return LbFixtures.snapshot(1, LbFixtures.pods(pods), List.of(dr));
    }

    static OutlierDetectionSpec od(int c5xx, int gw, int maxPct, int minHealth) {
        return new OutlierDetectionSpec(c5xx, gw, 5, false, Duration.ofSeconds(10), Duration.ofSeconds(30), maxPct, minHealth);
    }

    Endpoint pick(ConfigSnapshot snap) {
        return (Endpoint) upstreams.pick(snap, LbFixtures.BACKEND, null, null);
    }

    /** What the next {@code n} picks reach, as addresses. */
    Set<String> picked(ConfigSnapshot snap, int n) {
        Set<String> out = new HashSet<>();
        for (int i = 0; i < n; i++) {
            out.add(pick(snap).address().toString());
        }
        return out;
    }

    /** One attempt to {@code e} ending with {@code result}, as the upstream stage reports it. */
    void attempt(ConfigSnapshot snap, String address, AttemptResult result) {
        Endpoint e = snap.part(EndpointTable.PART).endpoints(LbFixtures.SVC.name(), 80).stream()
                .filter(x -> x.address().toString().equals(address)).findFirst().orElseThrow();
        EndpointStates.State s = states.of(e);
        states.watch(s, snap.part(EndpointTable.PART).policy(LbFixtures.SVC.name(), 80).outlier(),
                snap.part(EndpointTable.PART).endpoints(LbFixtures.SVC.name(), 80));
        states.started(s);
        states.ended(s, result);
    }

    @Test
    void consecutive5xxEjectsForBaseTimeThenTwiceAsLong() {
        ConfigSnapshot snap = snapshot(3, od(3, 0, 100, 0));
        assertThat(picked(snap, 9)).containsExactlyInAnyOrder("10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080");
        attempt(snap, "10.1.0.1:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.1:8080", AttemptResult.GATEWAY_ERROR);
        assertThat(picked(snap, 9)).hasSize(3); // two are not three
        attempt(snap, "10.1.0.1:8080", AttemptResult.SERVER_ERROR);
        // the third in a row ejects at once (Envoy does not wait for the interval)
        assertThat(picked(snap, 9)).containsExactlyInAnyOrder("10.1.0.2:8080", "10.1.0.3:8080");
        assertThat(states.ejectionsTotal()).isEqualTo(1);
        assertThat(states.ejectedNow()).isEqualTo(1);
        clock.advanceSeconds(29.9);
        assertThat(picked(snap, 9)).doesNotContain("10.1.0.1:8080");
        clock.advanceSeconds(0.1); // 30 s: back
        assertThat(picked(snap, 9)).contains("10.1.0.1:8080");
        assertThat(states.ejectedNow()).isZero();
        // fails again at once: the second ejection lasts 2 x 30 s
        for (int i = 0; i < 3; i++) {
            attempt(snap, "10.1.0.1:8080", AttemptResult.CONNECT_FAILURE); // unsplit: a connect failure is a 503
        }
        clock.advanceSeconds(59);
        assertThat(picked(snap, 9)).doesNotContain("10.1.0.1:8080");
        clock.advanceSeconds(1);
        assertThat(picked(snap, 9)).contains("10.1.0.1:8080");
        assertThat(states.of(pick(snap)).ejections()).isBetween(0L, 2L);
    }

    @Test
    void aSuccessInBetweenResetsTheCount() {
        ConfigSnapshot snap = snapshot(3, od(3, 0, 100, 0));
        attempt(snap, "10.1.0.2:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.2:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.2:8080", AttemptResult.RESPONSE);
        attempt(snap, "10.1.0.2:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.2:8080", AttemptResult.SERVER_ERROR);
        assertThat(states.ejectionsTotal()).isZero();
    }

    @Test
    void healthyIntervalsTakeTheMultiplierBackDown() {
        ConfigSnapshot snap = snapshot(3, od(1, 0, 100, 0));
        attempt(snap, "10.1.0.1:8080", AttemptResult.SERVER_ERROR); // level 1: 30 s
        clock.advanceSeconds(30);
        attempt(snap, "10.1.0.1:8080", AttemptResult.SERVER_ERROR); // level 2: 60 s
        clock.advanceSeconds(60 + 20); // ejection over, then two healthy intervals: level 2 - 2 = 0
        attempt(snap, "10.1.0.1:8080", AttemptResult.SERVER_ERROR); // level 1 again: 30 s
        clock.advanceSeconds(30);
        assertThat(picked(snap, 9)).contains("10.1.0.1:8080");
    }

    @Test
    void gatewayErrorsCountOnly502To504AndConnectFailures() {
        ConfigSnapshot snap = snapshot(3, od(0, 2, 100, 0)); // consecutive5xx off
        attempt(snap, "10.1.0.3:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.3:8080", AttemptResult.SERVER_ERROR);
        assertThat(states.ejectionsTotal()).isZero();
        attempt(snap, "10.1.0.3:8080", AttemptResult.GATEWAY_ERROR);
        attempt(snap, "10.1.0.3:8080", AttemptResult.CONNECT_FAILURE);
        assertThat(states.ejectionsTotal()).isEqualTo(1);
        assertThat(picked(snap, 9)).doesNotContain("10.1.0.3:8080");
    }

    @Test
    void splitLocalOriginFailuresCountApart() {
        OutlierDetectionSpec split = new OutlierDetectionSpec(5, 0, 2, true, Duration.ofSeconds(10), Duration.ofSeconds(30), 100, 0);
        ConfigSnapshot snap = snapshot(3, split);
        attempt(snap, "10.1.0.1:8080", AttemptResult.CONNECT_FAILURE);
        attempt(snap, "10.1.0.1:8080", AttemptResult.CONNECT_FAILURE);
        assertThat(states.ejectionsTotal()).isEqualTo(1);
        clock.advanceSeconds(30);
        for (int i = 0; i < 4; i++) {
            attempt(snap, "10.1.0.2:8080", AttemptResult.GATEWAY_ERROR);
        }
        attempt(snap, "10.1.0.2:8080", AttemptResult.CONNECT_FAILURE); // split: not a fifth 5xx
        assertThat(states.ejectionsTotal()).isEqualTo(1);
    }

    @Test
    void maxEjectionPercentLimitsEjectionsButOneIsAlwaysAllowed() {
        ConfigSnapshot snap = snapshot(3, od(1, 0, 10, 0)); // 10 % of 3 is less than one
        attempt(snap, "10.1.0.1:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.2:8080", AttemptResult.SERVER_ERROR);
        attempt(snap, "10.1.0.3:8080", AttemptResult.SERVER_ERROR);
        assertThat(states.ejectedNow()).isEqualTo(1);
        assertThat(picked(snap, 9)).containsExactlyInAnyOrder("10.1.0.2:8080", "10.1.0.3:8080");
    }

    @Test
    void everyEndpointEjectedIsA503AndBelowMinHealthEjectionsAreIgnored() {
        ConfigSnapshot all = snapshot(2, od(1, 0, 100, 0));
        attempt(all, "10.1.0.1:8080", AttemptResult.SERVER_ERROR);
        attempt(all, "10.1.0.2:8080", AttemptResult.SERVER_ERROR);
        assertThat(upstreams.pick(all, LbFixtures.BACKEND, null, null)).isInstanceOfSatisfying(UpstreamPick.Unavailable.class,
                u -> assertThat(u.rejection().body()).contains("every endpoint is ejected by outlier detection"));
        // the same ejections under minHealthPercent 60: 0 % healthy is below it, so all endpoints are used (panic)
        ConfigSnapshot panic = snapshot(2, od(1, 0, 100, 60));
        assertThat(picked(panic, 6)).hasSize(2);
    }

    @Test
    void ejectionsSurviveANewGenerationForEndpointsThatStay() {
        ConfigSnapshot gen1 = snapshot(3, od(1, 0, 100, 0));
        upstreams.onSnapshot(gen1);
        attempt(gen1, "10.1.0.1:8080", AttemptResult.SERVER_ERROR);
        ConfigSnapshot gen2 = snapshot(4, od(1, 0, 100, 0)); // a fourth pod joins
        upstreams.onSnapshot(gen2);
        assertThat(picked(gen2, 12)).containsExactlyInAnyOrder("10.1.0.2:8080", "10.1.0.3:8080", "10.1.0.4:8080");
        assertThat(upstreams.states().debug().get("10.1.0.1:8080")).containsEntry("ejections", 1L)
                .containsEntry("ejectedForMs", 30_000L);
    }

    @Test
    void withoutOutlierDetectionNothingIsEjected() {
        DestinationRuleSpec dr = new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new TrafficPolicySpec(new TrafficPolicySpec.LoadBalancerSpec(TrafficPolicySpec.Simple.RANDOM, null, null),
                        null, List.of()), List.of(), SourceRef.NONE);
        ConfigSnapshot snap = LbFixtures.snapshot(1, LbFixtures.pods(2), List.of(dr));
        for (int i = 0; i < 20; i++) {
            Endpoint e = pick(snap);
            EndpointStates.State s = states.of(e);
            states.started(s);
            states.ended(s, AttemptResult.GATEWAY_ERROR);
        }
        assertThat(states.ejectionsTotal()).isZero();
    }
}
