package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import dev.waypoint.model.traffic.LocalRateLimitSpec.Action;
import dev.waypoint.model.traffic.LocalRateLimitSpec.Descriptor;
import dev.waypoint.model.traffic.LocalRateLimitSpec.Entry;
import dev.waypoint.model.traffic.LocalRateLimitSpec.HeaderMatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Descriptors from rate_limits actions (a table), and their buckets on an injected clock. */
class RateLimitDescriptorsTest {
    static final List<Action> BY_USER = List.of(new Action.RequestHeaders("x-user", "user", false));
    static final List<Action> API_NOT_DEBUG = List.of(new Action.GenericKey("generic_key", "api"),
            new Action.HeaderValueMatch("header_match", "api", true, List.of(new HeaderMatch(":path", "prefix", "/api", false),
                    new HeaderMatch("x-debug", "present", null, true))));
    static final List<Action> CLIENT = List.of(new Action.RemoteAddress(),
            new Action.RequestHeaders("x-tenant", "tenant", true));

    record Case(String name, List<List<Action>> rateLimits, Map<String, String> headers, String ip, List<List<Entry>> expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Entry> d(String... kv) {
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < kv.length; i += 2) {
            out.add(new Entry(kv[i], kv[i + 1]));
        }
        return out;
    }

    static Stream<Case> actions() {
        List<List<Action>> all = List.of(BY_USER, API_NOT_DEBUG, CLIENT);
        return Stream.of(
                new Case("header present", List.of(BY_USER), Map.of("x-user", "alice"), null, List.of(d("user", "alice"))),
                new Case("header absent drops the descriptor", List.of(BY_USER), Map.of(), null, List.of()),
                new Case("generic key and a matching header_value_match", List.of(API_NOT_DEBUG), Map.of(":path", "/api/v1"),
                        null, List.of(d("generic_key", "api", "header_match", "api"))),
                new Case("header_value_match not matching drops it", List.of(API_NOT_DEBUG), Map.of(":path", "/web"), null,
                        List.of()),
                new Case("an inverted present match on a present header", List.of(API_NOT_DEBUG),
                        Map.of(":path", "/api", "x-debug", "1"), null, List.of()),
                new Case("expect_match false", List.of(List.of(new Action.HeaderValueMatch("k", "v", false,
                        List.of(new HeaderMatch("x-a", "exact", "1", false))))), Map.of("x-a", "2"), null, List.of(d("k", "v"))),
                new Case("remote address, skip_if_absent", List.of(CLIENT), Map.of(), "10.0.0.7",
                        List.of(d("remote_address", "10.0.0.7"))),
                new Case("remote address and tenant", List.of(CLIENT), Map.of("x-tenant", "t1"), "10.0.0.7",
                        List.of(d("remote_address", "10.0.0.7", "tenant", "t1"))),
                new Case("unknown remote address drops it", List.of(CLIENT), Map.of(), null, List.of()),
                new Case("each rate_limits entry is its own descriptor", all, Map.of("x-user", "bob", ":path", "/api"), "::1",
                        List.of(d("user", "bob"), d("generic_key", "api", "header_match", "api"), d("remote_address", "::1"))),
                new Case("suffix and contains", List.of(List.of(new Action.HeaderValueMatch("m", "x", true, List.of(
                        new HeaderMatch("x-a", "suffix", ".com", false), new HeaderMatch("x-a", "contains", "corp", false))))),
                        Map.of("x-a", "a.corp.com"), null, List.of(d("m", "x"))));
    }

    @ParameterizedTest
    @MethodSource("actions")
    void actionsBecomeDescriptors(Case c) {
        assertThat(RateLimitDescriptors.evaluate(c.rateLimits(), c.headers()::get, c.ip())).isEqualTo(c.expected());
    }

    static final Descriptor SLOW = new Descriptor(d("user", "alice"), 1, 1, Duration.ofSeconds(60));
    static final Descriptor FAST = new Descriptor(d("generic_key", "api", "header_match", "api"), 5, 5, Duration.ofSeconds(1));

    @Test
    void matchingIsExactOnAllEntriesMostRestrictiveFirst() {
        assertThat(RateLimitDescriptors.matched(List.of(FAST, SLOW), List.of(d("user", "alice"),
                d("generic_key", "api", "header_match", "api")))).containsExactly(SLOW, FAST);
        assertThat(RateLimitDescriptors.matched(List.of(FAST, SLOW), List.of(d("user", "bob")))).isEmpty();
        assertThat(RateLimitDescriptors.matched(List.of(FAST, SLOW), List.of(d("generic_key", "api")))).isEmpty();
    }

    // ---- buckets: the filter over a snapshot, on an injected clock

    final LbFixtures.FakeClock clock = new LbFixtures.FakeClock();
    final LocalRateLimitFilter filter = new LocalRateLimitFilter(clock);
    static final PolicyTargetRef WEB = new PolicyTargetRef("", "Service", "web", null);

    /** The filter's own bucket 3 per minute; alice 1 per minute; on port {@code port}. */
    static LocalRateLimitSpec perRoute(int port) {
        return new LocalRateLimitSpec(new NamespacedName("apps", "rl"), List.of(WEB), "p", 3, 3, Duration.ofMinutes(1), 1, 1,
                Map.of("x-local-rate-limit", "true"), SourceRef.NONE, port, List.of(SLOW), List.of(BY_USER));
    }

    ConfigSnapshot snapshot(LocalRateLimitSpec... limits) {
        return ConfigSnapshot.compile(1, LbFixtures.resources(List.of(), List.of()).toBuilder()
                .localRateLimits(List.of(limits)).build(), List.of(new EndpointCompiler(), new RateLimitCompiler()),
                new Diagnostics());
    }

    String call(ConfigSnapshot snap, String user) {
        FilterResult r = filter.onRequest(LbFixtures.request(snap, user == null ? Map.of() : Map.of("x-user", user), "/", null));
        return r == FilterResult.CONTINUE ? "ok" : "429";
    }

    @Test
    void aMatchedDescriptorTakesFromItsOwnBucketOthersFromTheFilters() {
        ConfigSnapshot snap = snapshot(perRoute(80));
        assertThat(call(snap, "alice")).isEqualTo("ok");
        assertThat(call(snap, "alice")).isEqualTo("429");
        // bob and no user match no descriptor: the filter's bucket (3), untouched by alice
        assertThat(List.of(call(snap, "bob"), call(snap, null), call(snap, "bob"), call(snap, "bob")))
                .containsExactly("ok", "ok", "ok", "429");
        clock.advanceSeconds(59.9);
        assertThat(call(snap, "alice")).isEqualTo("429");
        clock.advanceSeconds(0.1);
        assertThat(List.of(call(snap, "alice"), call(snap, "alice"), call(snap, "bob"))).containsExactly("ok",
                "429", "ok");
    }

    @Test
    void aPerVhostLimitAppliesOnItsPortOnlyAndReplacesTheFiltersOwnThere() {
        LocalRateLimitSpec wide = new LocalRateLimitSpec(new NamespacedName("apps", "rl"), List.of(WEB), "p", 1, 1,
                Duration.ofMinutes(1), 1, 1, Map.of(), SourceRef.NONE);
        // port 80 (the fixture's Service port): the per-vhost limit replaces the same EnvoyFilter's filter-wide 1/min
        ConfigSnapshot snap = snapshot(wide, perRoute(80));
        assertThat(List.of(call(snap, "bob"), call(snap, "bob"), call(snap, "bob"), call(snap, "bob")))
                .containsExactly("ok", "ok", "ok", "429");
        // another port: only the filter-wide one
        LocalRateLimitFilter fresh = new LocalRateLimitFilter(clock);
        ConfigSnapshot other = snapshot(wide, perRoute(9080));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            out.add(fresh.onRequest(LbFixtures.request(other, Map.of("x-user", "alice"), "/", null)) == FilterResult.CONTINUE
                    ? "ok" : "429");
        }
        assertThat(out).containsExactly("ok", "429");
    }

    @Test
    void aVhostPortTheTargetedServiceDoesNotHaveIsAWarning() {
        Diagnostics d = new Diagnostics();
        ConfigSnapshot.compile(1, LbFixtures.resources(List.of(), List.of()).toBuilder()
                .localRateLimits(List.of(perRoute(9080), perRoute(80))).build(),
                List.of(new EndpointCompiler(), new RateLimitCompiler()), d);
        assertThat(d.problems()).extracting(Object::toString).containsExactly("-: warning: EnvoyFilter apps/rl: "
                + "spec.configPatches: HTTP_ROUTE vhost inbound|http|9080: no Service it attaches to has port 9080, so this "
                + "per-route limit applies to no call");
    }
}
