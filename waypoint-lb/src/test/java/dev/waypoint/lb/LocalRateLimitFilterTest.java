package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Token-bucket timelines on an injected clock, attachment, and the enabled / enforced fractions. */
class LocalRateLimitFilterTest {
    final LbFixtures.FakeClock clock = new LbFixtures.FakeClock();
    final LocalRateLimitFilter filter = new LocalRateLimitFilter(clock);

    static LocalRateLimitSpec limit(String ns, PolicyTargetRef ref, long max, long perFill, Duration every, double enforced) {
        return new LocalRateLimitSpec(new NamespacedName(ns, "rl"), List.of(ref), "p", max, perFill, every, 1.0, enforced,
                Map.of("x-local-rate-limit", "true"), SourceRef.NONE);
    }

    static final PolicyTargetRef WEB = new PolicyTargetRef("", "Service", "web", null);
    static final PolicyTargetRef GATEWAY = new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null);

    ConfigSnapshot snapshot(LocalRateLimitSpec... limits) {
        return ConfigSnapshot.compile(1, LbFixtures.resources(List.of(), List.of()).toBuilder()
                .localRateLimits(List.of(limits)).build(), List.of(new EndpointCompiler(), new RateLimitCompiler()),
                new Diagnostics());
    }

    /** The next {@code n} requests: "ok" or "429". */
    List<String> requests(ConfigSnapshot snap, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            FilterResult r = filter.onRequest(LbFixtures.request(snap, Map.of(), "/", null));
            out.add(r == FilterResult.CONTINUE ? "ok" : r instanceof FilterResult.Reply reply
                    ? reply.rejection().reason().status() + " " + reply.headers() : r.toString());
        }
        return out;
    }

    @Test
    void fullAtStartThenRefilledInWholeIntervalsUpToMax() {
        ConfigSnapshot snap = snapshot(limit("apps", WEB, 3, 2, Duration.ofSeconds(10), 1.0));
        assertThat(requests(snap, 4)).containsExactly("ok", "ok", "ok", "429 {x-local-rate-limit=true}");
        clock.advanceSeconds(9.9);
        assertThat(requests(snap, 1)).containsExactly("429 {x-local-rate-limit=true}");
        clock.advanceSeconds(0.1); // one fill: 2 tokens
        assertThat(requests(snap, 3)).containsExactly("ok", "ok", "429 {x-local-rate-limit=true}");
        clock.advanceSeconds(100); // ten fills, capped at max_tokens
        assertThat(requests(snap, 4)).containsExactly("ok", "ok", "ok", "429 {x-local-rate-limit=true}");
        assertThat(filter.scrape()).contains("result=\"ok\"} 8", "result=\"rate_limited\"} 4", "result=\"enforced\"} 4");
    }

    @Test
    void aNewGenerationWithTheSameLimitKeepsItsTokens() {
        assertThat(requests(snapshot(limit("apps", WEB, 2, 1, Duration.ofMinutes(1), 1.0)), 2)).containsOnly("ok");
        assertThat(requests(snapshot(limit("apps", WEB, 2, 1, Duration.ofMinutes(1), 1.0)), 1)).containsExactly(
                "429 {x-local-rate-limit=true}");
        // a changed limit is a new bucket, full
        assertThat(requests(snapshot(limit("apps", WEB, 5, 1, Duration.ofMinutes(1), 1.0)), 1)).containsExactly("ok");
    }

    @Test
    void notEnforcedIsCountedButLetThrough() {
        ConfigSnapshot snap = snapshot(limit("apps", WEB, 1, 1, Duration.ofMinutes(1), 0.0));
        assertThat(requests(snap, 3)).containsOnly("ok");
        assertThat(filter.scrape()).contains("result=\"rate_limited\"} 2", "result=\"enforced\"} 0");
    }

    @Test
    void attachment() {
        // the waypoint's Gateway, from its namespace: every call; a Service ref from another namespace: nothing
        assertThat(requests(snapshot(limit("istio-system", GATEWAY, 1, 1, Duration.ofMinutes(1), 1.0)), 2))
                .containsExactly("ok", "429 {x-local-rate-limit=true}");
        Diagnostics d = new Diagnostics();
        ConfigSnapshot other = ConfigSnapshot.compile(1, LbFixtures.resources(List.of(), List.of()).toBuilder()
                .localRateLimits(List.of(limit("elsewhere", WEB, 1, 1, Duration.ofMinutes(1), 1.0))).build(),
                List.of(new EndpointCompiler(), new RateLimitCompiler()), d);
        assertThat(requests(other, 3)).containsOnly("ok");
        assertThat(d.problems()).extracting(Object::toString).containsExactly("-: warning: EnvoyFilter elsewhere/rl: "
                + "spec.targetRefs: attaches to nothing this waypoint serves (targetRefs name neither this Gateway nor a "
                + "Service in the EnvoyFilter's namespace)");
    }
}
