package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConsistentHashSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.HashOn;
import dev.waypoint.model.traffic.TrafficPolicySpec.HashTable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The algorithms as tables: distributions with a fixed seed against a chi-square bound, least
 * request's preference, hash stability when endpoints come and go, and the hash keys read from a
 * request.
 */
class BalancersTest {
    /** Chi-square critical value for 9 degrees of freedom at p = 0.001: a fair picker exceeds it once in a thousand seeds. */
    static final double CHI2_DF9_P001 = 27.88;

    record Dist(String name, Balancer balancer, double maxChi2) {
        @Override
        public String toString() {
            return name;
        }
    }

    static ConsistentHashSpec hash(HashOn on, String name, HashTable table, long size) {
        return new ConsistentHashSpec(on, name, null, null, table, size);
    }

    static final List<Endpoint> TEN = LbFixtures.endpoints(10);

    static Stream<Dist> uniform() {
        List<Endpoint> eps = TEN;
        return Stream.of(
                new Dist("LEAST_REQUEST, idle", Balancers.leastRequest(null), CHI2_DF9_P001),
                new Dist("ROUND_ROBIN", Balancers.roundRobin(null), 0.0001), // exact
                new Dist("RANDOM", Balancers.random("RANDOM"), CHI2_DF9_P001),
                // hash tables spread keys by the table, not by chance: Maglev's slots are equal to within one
                // per endpoint, a 1024-point ring varies more (Envoy's docs say the same)
                new Dist("MAGLEV 65537, keys", Balancers.consistentHash(hash(HashOn.HEADER, "x-user", HashTable.MAGLEV, 65537), eps), 40),
                new Dist("RING_HASH 1024, keys", Balancers.consistentHash(hash(HashOn.HEADER, "x-user", HashTable.RING_HASH, 1024), eps), 2500));
    }

    @ParameterizedTest
    @MethodSource("uniform")
    void spreadsEvenlyOverTenEndpoints(Dist d) {
        List<Endpoint> eps = TEN;
        EndpointStates states = new EndpointStates(new LbFixtures.FakeClock());
        SplittableRandom random = new SplittableRandom(42);
        int n = 100_000;
        Map<Endpoint, Integer> counts = new HashMap<>();
        var snap = LbFixtures.snapshot(0, List.of(), List.of());
        for (int i = 0; i < n; i++) {
            RequestContext rc = d.name().contains("keys") ? LbFixtures.request(snap, Map.of("x-user", "user-" + i), "/", null) : null;
            counts.merge(d.balancer().pick(eps, eps, rc, states, random), 1, Integer::sum);
        }
        assertThat(counts).hasSize(10);
        double expected = n / 10.0;
        double chi2 = counts.values().stream().mapToDouble(c -> (c - expected) * (c - expected) / expected).sum();
        assertThat(chi2).as("chi-square of %s: %s", d, counts.values()).isLessThan(d.maxChi2());
    }

    @Test
    void leastRequestNeverPicksTheBusiestOfThreeAndPrefersTheIdle() {
        List<Endpoint> eps = LbFixtures.endpoints(3);
        EndpointStates states = new EndpointStates(new LbFixtures.FakeClock());
        // in flight: 0, 2, 5
        for (int i = 0; i < 2; i++) {
            states.started(states.of(eps.get(1)));
        }
        for (int i = 0; i < 5; i++) {
            states.started(states.of(eps.get(2)));
        }
        Balancer lr = Balancers.leastRequest(null);
        SplittableRandom random = new SplittableRandom(7);
        int[] counts = new int[3];
        for (int i = 0; i < 30_000; i++) {
            counts[eps.indexOf(lr.pick(eps, eps, null, states, random))]++;
        }
        // P2C over 3: the idle one wins every pair it is in (2/3 of pairs), the middle one the rest
        assertThat(counts[2]).isZero();
        assertThat(counts[0] / 30_000.0).isCloseTo(2 / 3.0, org.assertj.core.data.Offset.offset(0.02));
    }

    @Test
    void slowStartGivesAWarmingEndpointItsShareOfTheWindow() {
        LbFixtures.FakeClock clock = new LbFixtures.FakeClock();
        EndpointStates states = new EndpointStates(clock);
        List<Endpoint> eps = LbFixtures.endpoints(2);
        states.seen(List.of(eps.get(0))); // first generation: old
        states.of(eps.get(1)); // joins later: warming from now
        clock.advanceSeconds(2.5); // a quarter of a 10 s window
        Balancer rr = Balancers.roundRobin(Duration.ofSeconds(10));
        SplittableRandom random = new SplittableRandom(3);
        int warm = 0;
        for (int i = 0; i < 40_000; i++) {
            if (rr.pick(eps, eps, null, states, random) == eps.get(1)) {
                warm++;
            }
        }
        // accepted with probability 0.25 per turn: 0.25 / (1 + 0.25) = 20 % of picks
        assertThat(warm / 40_000.0).isCloseTo(0.2, org.assertj.core.data.Offset.offset(0.02));
        clock.advanceSeconds(10);
        warm = 0;
        for (int i = 0; i < 40_000; i++) {
            if (rr.pick(eps, eps, null, states, random) == eps.get(1)) {
                warm++;
            }
        }
        assertThat(warm).isEqualTo(20_000); // warmed up: plain round robin
    }

    record Churn(String name, HashTable table, long size, int before, int after, double maxMovedElsewhere) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** Minimal disruption: when endpoints change, only keys of the endpoints that changed move. */
    static Stream<Churn> churn() {
        return Stream.of(
                new Churn("ring: 10 -> 11", HashTable.RING_HASH, 1024, 10, 11, 0),
                new Churn("ring: 10 -> 9", HashTable.RING_HASH, 1024, 10, 9, 0),
                new Churn("maglev: 10 -> 11", HashTable.MAGLEV, 65537, 10, 11, 0.02),
                new Churn("maglev: 10 -> 9", HashTable.MAGLEV, 65537, 10, 9, 0.02),
                new Churn("maglev: 100 -> 101", HashTable.MAGLEV, 65537, 100, 101, 0.03));
    }

    @ParameterizedTest
    @MethodSource("churn")
    void hashKeysStayWhenEndpointsChange(Churn c) {
        List<Endpoint> before = LbFixtures.endpoints(c.before());
        List<Endpoint> after = LbFixtures.endpoints(c.after()); // the same first endpoints, one more or one less
        ConsistentHashSpec spec = hash(HashOn.HEADER, "x-user", c.table(), c.size());
        Balancer b1 = Balancers.consistentHash(spec, before);
        Balancer b2 = Balancers.consistentHash(spec, after);
        EndpointStates states = new EndpointStates(new LbFixtures.FakeClock());
        var snap = LbFixtures.snapshot(0, List.of(), List.of());
        SplittableRandom random = new SplittableRandom(1);
        int keys = 20_000;
        int moved = 0;
        int movedElsewhere = 0;
        for (int i = 0; i < keys; i++) {
            RequestContext rc = LbFixtures.request(snap, Map.of("x-user", "user-" + i), "/", null);
            Endpoint e1 = b1.pick(before, before, rc, states, random);
            Endpoint e2 = b2.pick(after, after, rc, states, random);
            assertThat(b1.pick(before, before, rc, states, random)).isSameAs(e1); // stable for a key
            if (!e1.equals(e2)) {
                moved++;
                boolean expectedMove = c.after() > c.before() ? e2.equals(after.get(c.after() - 1))
                        : e1.equals(before.get(c.before() - 1));
                if (!expectedMove) {
                    movedElsewhere++;
                }
            }
        }
        int changed = Math.max(c.before(), c.after());
        assertThat(moved / (double) keys).as("share of keys that moved").isLessThan(1.6 / changed);
        assertThat(movedElsewhere / (double) keys).as("share moved between endpoints that stayed").isLessThanOrEqualTo(c.maxMovedElsewhere());
    }

    @Test
    void anEjectedOrTriedEndpointPassesItsKeysToTheNextOnTheTableOthersStay() {
        List<Endpoint> eps = LbFixtures.endpoints(5);
        for (HashTable t : HashTable.values()) {
            Balancer b = Balancers.consistentHash(hash(HashOn.HEADER, "x-user", t, t == HashTable.MAGLEV ? 65537 : 1024), eps);
            EndpointStates states = new EndpointStates(new LbFixtures.FakeClock());
            var snap = LbFixtures.snapshot(0, List.of(), List.of());
            List<Endpoint> usable = new ArrayList<>(eps.subList(1, 5));
            for (int i = 0; i < 2_000; i++) {
                RequestContext rc = LbFixtures.request(snap, Map.of("x-user", "u" + i), "/", null);
                Endpoint full = b.pick(eps, eps, rc, states, new SplittableRandom(1));
                Endpoint without = b.pick(eps, usable, rc, states, new SplittableRandom(1));
                assertThat(without).isNotEqualTo(eps.get(0));
                if (!full.equals(eps.get(0))) {
                    assertThat(without).as(t + " key u" + i).isEqualTo(full);
                }
            }
        }
    }

    @Test
    void withoutTheHashKeyThePickIsRandom() {
        List<Endpoint> eps = LbFixtures.endpoints(4);
        Balancer b = Balancers.consistentHash(hash(HashOn.HEADER, "x-user", HashTable.RING_HASH, 1024), eps);
        var snap = LbFixtures.snapshot(0, List.of(), List.of());
        EndpointStates states = new EndpointStates(new LbFixtures.FakeClock());
        SplittableRandom random = new SplittableRandom(5);
        Map<Endpoint, Integer> counts = new HashMap<>();
        for (int i = 0; i < 4_000; i++) {
            counts.merge(b.pick(eps, eps, LbFixtures.request(snap, Map.of(), "/", null), states, random), 1, Integer::sum);
        }
        assertThat(counts).hasSize(4);
    }

    @ParameterizedTest(name = "{0} {1} on {2} {3} {4} -> {5}")
    @CsvSource(delimiter = '|', value = {
            "HEADER          | x-user | x-user=alice        | /          |          | alice",
            "HEADER          | x-user |                     | /          |          | ",
            "COOKIE          | user   | cookie=a=1; user=bob | /         |          | bob",
            "COOKIE          | user   | cookie=user=\"q\"    | /          |          | q",
            "COOKIE          | user   | cookie=username=x    | /          |          | ",
            "QUERY_PARAMETER | id     |                     | /p?a=1&id=42&b | |  42",
            "QUERY_PARAMETER | id     |                     | /p?idx=1   |          | ",
            "QUERY_PARAMETER | id     |                     | /p?id      |          | ''",
            "SOURCE_IP       |        |                     | /          | 10.0.0.9 | 10.0.0.9",
    })
    void hashKeys(HashOn on, String name, String header, String path, String source, String expected) {
        Map<String, String> headers = new HashMap<>();
        if (header != null) {
            int eq = header.indexOf('=');
            headers.put(header.substring(0, eq), header.substring(eq + 1));
        }
        var rc = LbFixtures.request(LbFixtures.snapshot(0, List.of(), List.of()), headers, path, source);
        assertThat(Balancers.key(new ConsistentHashSpec(on, name, null, null, HashTable.RING_HASH, 1024), rc,
                new SplittableRandom(1))).isEqualTo(expected);
    }

    @Test
    void anAbsentCookieWithATtlIsMadeUpAndSetOnTheResponse() {
        var snap = LbFixtures.snapshot(0, List.of(), List.of());
        var spec = new ConsistentHashSpec(HashOn.COOKIE, "user", "/", Duration.ofHours(1), HashTable.RING_HASH, 1024);
        RequestContext rc = LbFixtures.request(snap, Map.of(), "/", null);
        String key = Balancers.key(spec, rc, new SplittableRandom(9));
        assertThat(key).isNotNull();
        assertThat(rc.get(Balancers.SET_COOKIE)).isEqualTo("user=\"" + key + "\"; Max-Age=3600; Path=/; HttpOnly");
        // the next request carries it and lands on the same endpoint
        RequestContext next = LbFixtures.request(snap, Map.of("cookie", "user=\"" + key + "\""), "/", null);
        assertThat(Balancers.key(spec, next, new SplittableRandom(10))).isEqualTo(key);
        assertThat(next.get(Balancers.SET_COOKIE)).isNull();
        // without a ttl no cookie is made up: the pick is random
        var noTtl = new ConsistentHashSpec(HashOn.COOKIE, "user", null, null, HashTable.RING_HASH, 1024);
        RequestContext third = LbFixtures.request(snap, Map.of(), "/", null);
        assertThat(Balancers.key(noTtl, third, new SplittableRandom(1))).isNull();
        assertThat(third.get(Balancers.SET_COOKIE)).isNull();
    }
}
