package dev.waypoint.lb;

import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConsistentHashSpec;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;

/**
 * The algorithms of a DestinationRule's {@code loadBalancer}, as Envoy implements them for Istio:
 *
 * <ul>
 *   <li>{@code LEAST_REQUEST} (Istio's default): power of two choices, the candidate with fewer
 *       requests in flight wins (Envoy's {@code choice_count: 2}); all endpoints weigh the same
 *       (Kubernetes endpoints carry no weight), a warming endpoint weighs its slow-start share.
 *       The first candidate comes in rotation and wins ties, the second is random: under equal
 *       load it is round robin (Envoy draws both at random, so sequential requests land unevenly).</li>
 *   <li>{@code ROUND_ROBIN}: the list's order, one shared counter; a warming endpoint is skipped
 *       with probability 1 - its share.</li>
 *   <li>{@code RANDOM}: uniform.</li>
 *   <li>{@code consistentHash}: ring hash (Ketama-style, {@code minimumRingSize} points spread over
 *       the endpoints) or Maglev ({@code tableSize} slots, a prime); a request without the hash
 *       key gets a random endpoint, as Envoy picks at random when the hash policy yields nothing.
 *       An endpoint that may not be chosen (ejected, already tried) passes the request to the
 *       next one on the ring or table, so the other keys keep their endpoint.</li>
 * </ul>
 *
 * <p>Hashes are this waypoint's own (FNV-1a 64 finished by the SplitMix64 mixer), not Envoy's
 * xxHash: waypoint replicas agree with each other, not with an Envoy.
 */
final class Balancers {
    /** The {@code Set-Cookie} value a consistent-hash cookie policy asks for (the cookie was absent). */
    static final RequestKey<String> SET_COOKIE = RequestKey.of("lb.set-cookie", String.class);

    private Balancers() {}

    static Balancer of(EndpointPicker picker) {
        return new Balancer() {
            @Override
            public Endpoint pick(List<Endpoint> all, List<Endpoint> usable, RequestContext request, EndpointStates states,
                                 RandomGenerator random) {
                return picker.pick(usable, request);
            }

            @Override
            public String describe() {
                return picker.toString();
            }
        };
    }

    // ---- simple

    static Balancer leastRequest(Duration warmup) {
        return new LeastRequest(warmup);
    }

    static Balancer roundRobin(Duration warmup) {
        return new RoundRobin(warmup);
    }

    static Balancer random(String name) {
        return new RandomPick(name);
    }

    /** Slow start: Envoy's weight factor with aggression 1 and a 10 % floor ({@code min_weight_percent}). */
    static double warmupShare(EndpointStates states, Endpoint e, Duration warmup) {
        if (warmup == null) {
            return 1;
        }
        long age = states.ageNanos(e);
        long window = warmup.toNanos();
        if (age >= window) {
            return 1;
        }
        return Math.max(0.1, (double) age / window);
    }

    private static final class LeastRequest implements Balancer {
        private final AtomicInteger next = new AtomicInteger();
        private final Duration warmup;

        LeastRequest(Duration warmup) {
            this.warmup = warmup;
        }

        @Override
        public Endpoint pick(List<Endpoint> all, List<Endpoint> usable, RequestContext request, EndpointStates states,
                             RandomGenerator random) {
            int n = usable.size();
            if (n == 1) {
                return usable.get(0);
            }
            // the first candidate in rotation, the second at random: with equal loads (ties go to the first)
            // this is round robin, so sequential traffic spreads evenly; Envoy draws both at random
            int ia = (next.getAndIncrement() & Integer.MAX_VALUE) % n;
            int ib = random.nextInt(n - 1);
            Endpoint a = usable.get(ia);
            Endpoint b = usable.get(ib >= ia ? ib + 1 : ib);
            // Envoy: with unequal weights it compares active / weight; slow start scales the weight
            double la = (states.active(a) + 1) / warmupShare(states, a, warmup);
            double lb = (states.active(b) + 1) / warmupShare(states, b, warmup);
            if (la == lb) {
                return a; // a is already uniformly random
            }
            return la < lb ? a : b;
        }

        @Override
        public String describe() {
            return warmup == null ? "LEAST_REQUEST" : "LEAST_REQUEST(warmup " + warmup.toSeconds() + "s)";
        }
    }

    private static final class RoundRobin implements Balancer {
        private final AtomicInteger next = new AtomicInteger();
        private final Duration warmup;

        RoundRobin(Duration warmup) {
            this.warmup = warmup;
        }

        @Override
        public Endpoint pick(List<Endpoint> all, List<Endpoint> usable, RequestContext request, EndpointStates states,
                             RandomGenerator random) {
            int n = usable.size();
            for (int tries = 0; ; tries++) {
                Endpoint e = usable.get((next.getAndIncrement() & Integer.MAX_VALUE) % n);
                if (warmup == null || tries >= n || random.nextDouble() < warmupShare(states, e, warmup)) {
                    return e;
                }
            }
        }

        @Override
        public String describe() {
            return warmup == null ? "ROUND_ROBIN" : "ROUND_ROBIN(warmup " + warmup.toSeconds() + "s)";
        }
    }

    private static final class RandomPick implements Balancer {
        private final String name;

        RandomPick(String name) {
            this.name = name;
        }

        @Override
        public Endpoint pick(List<Endpoint> all, List<Endpoint> usable, RequestContext request, EndpointStates states,
                             RandomGenerator random) {
            return usable.get(random.nextInt(usable.size()));
        }

        @Override
        public String describe() {
            return name;
        }
    }

    // ---- consistent hash

    static Balancer consistentHash(ConsistentHashSpec spec, List<Endpoint> endpoints) {
        return switch (spec.table()) {
            case RING_HASH -> new RingHash(spec, endpoints);
            case MAGLEV -> new Maglev(spec, endpoints);
        };
    }

    /** The table over one endpoint list: a slot → the index of its endpoint in that list. */
    private abstract static class HashBalancer implements Balancer {
        final ConsistentHashSpec spec;
        private final List<Endpoint> builtFor;
        private final Object table;

        HashBalancer(ConsistentHashSpec spec, List<Endpoint> endpoints) {
            this.spec = spec;
            this.builtFor = endpoints;
            this.table = endpoints.isEmpty() ? null : build(endpoints);
        }

        abstract Object build(List<Endpoint> endpoints);

        private record Foreign(List<Endpoint> list, Object table) {}

        /** The last table built for a list other than the snapshot's (never, on the data path today). */
        private volatile Foreign foreign;

        private Object foreign(List<Endpoint> all) {
            Foreign f = foreign;
            if (f == null || f.list != all) {
                f = new Foreign(all, build(all));
                foreign = f;
            }
            return f.table;
        }

        /** The endpoint index for {@code hash}, stepping {@code step} slots on (0: the owner). */
        abstract int lookup(Object table, long hash, int step);

        abstract int slots(Object table);

        @Override
        public Endpoint pick(List<Endpoint> all, List<Endpoint> usable, RequestContext request, EndpointStates states,
                             RandomGenerator random) {
            String key = key(spec, request, random);
            if (key == null) {
                return usable.get(random.nextInt(usable.size()));
            }
            long h = hash(key, 0);
            Object t = all == builtFor ? table : foreign(all);
            if (usable == all) {
                return all.get(lookup(t, h, 0));
            }
            int slots = slots(t);
            for (int step = 0; step < slots; step++) {
                Endpoint e = all.get(lookup(t, h, step));
                if (usable.contains(e)) {
                    return e;
                }
            }
            return usable.get(0);
        }

        @Override
        public String describe() {
            String on = switch (spec.on()) {
                case HEADER -> "header " + spec.name();
                case COOKIE -> "cookie " + spec.name();
                case SOURCE_IP -> "source ip";
                case QUERY_PARAMETER -> "query " + spec.name();
            };
            return spec.table() + "(" + on + ", " + spec.tableSize() + ")";
        }
    }

    /**
     * Ketama-style ring: each endpoint owns {@code minimumRingSize / n} points rounded up to a
     * power of two (Envoy scales exactly, which moves points of every endpoint when one joins);
     * a key goes to the next point.
     */
    static final class RingHash extends HashBalancer {
        private record Ring(long[] points, int[] owners) {}

        RingHash(ConsistentHashSpec spec, List<Endpoint> endpoints) {
            super(spec, endpoints);
        }

        @Override
        Object build(List<Endpoint> endpoints) {
            int n = endpoints.size();
            // points per endpoint: minimumRingSize / n rounded up to a power of two, so that one endpoint more
            // or less keeps every other endpoint's points (minimal disruption) unless n crosses a power of two
            int perHost = Integer.highestOneBit((int) Math.max(1, (spec.tableSize() + n - 1) / n) * 2 - 1);
            long[] packed = new long[n * perHost];
            long[] hashes = new long[n * perHost];
            int k = 0;
            for (int i = 0; i < n; i++) {
                String name = endpoints.get(i).address().toString();
                for (int r = 0; r < perHost; r++) {
                    hashes[k++] = hash(name + "_" + r, 0);
                }
            }
            // sort the points, keeping their owners: sort indices by hash
            Integer[] order = new Integer[hashes.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (x, y) -> Long.compareUnsigned(hashes[x], hashes[y]));
            int[] owners = new int[order.length];
            for (int i = 0; i < order.length; i++) {
                packed[i] = hashes[order[i]];
                owners[i] = order[i] / perHost;
            }
            return new Ring(packed, owners);
        }

        @Override
        int lookup(Object table, long hash, int step) {
            Ring ring = (Ring) table;
            long[] p = ring.points;
            int lo = 0;
            int hi = p.length;
            while (lo < hi) { // first point >= hash (unsigned)
                int mid = (lo + hi) >>> 1;
                if (Long.compareUnsigned(p[mid], hash) < 0) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            return ring.owners[(lo + step) % p.length];
        }

        @Override
        int slots(Object table) {
            return ((Ring) table).points.length;
        }
    }

    /** Maglev (Eisenbud et al. 2016, Envoy's {@code MaglevTable}): each endpoint fills slots in its own permutation order. */
    static final class Maglev extends HashBalancer {
        Maglev(ConsistentHashSpec spec, List<Endpoint> endpoints) {
            super(spec, endpoints);
        }

        @Override
        Object build(List<Endpoint> endpoints) {
            int m = (int) spec.tableSize();
            int n = endpoints.size();
            long[] offset = new long[n];
            long[] skip = new long[n];
            long[] next = new long[n];
            for (int i = 0; i < n; i++) {
                String name = endpoints.get(i).address().toString();
                offset[i] = Long.remainderUnsigned(hash(name, 0), m);
                skip[i] = Long.remainderUnsigned(hash(name, 1), m - 1) + 1;
            }
            int[] table = new int[m];
            Arrays.fill(table, -1);
            int filled = 0;
            while (true) {
                for (int i = 0; i < n; i++) {
                    int c;
                    do {
                        c = (int) ((offset[i] + next[i] * skip[i]) % m);
                        next[i]++;
                    } while (table[c] >= 0);
                    table[c] = i;
                    if (++filled == m) {
                        return table;
                    }
                }
            }
        }

        @Override
        int lookup(Object table, long hash, int step) {
            int[] t = (int[]) table;
            return t[(int) ((Long.remainderUnsigned(hash, t.length) + step) % t.length)];
        }

        @Override
        int slots(Object table) {
            return ((int[]) table).length;
        }
    }

    /**
     * The hash key of {@code request} under {@code spec}, or null (then the pick is random). A
     * cookie policy with a {@code ttl} whose cookie is absent makes one up, hashes it, and asks for
     * it to be set on the response ({@link #SET_COOKIE}), as Envoy does.
     */
    static String key(ConsistentHashSpec spec, RequestContext request, RandomGenerator random) {
        if (request == null) {
            return null;
        }
        HeadersView headers = request.attributes().headers();
        switch (spec.on()) {
            case HEADER -> {
                return headers.get(spec.name());
            }
            case SOURCE_IP -> {
                InetSocketAddress a = request.attributes().sourceAddress();
                return a == null || a.getAddress() == null ? null : a.getAddress().getHostAddress();
            }
            case QUERY_PARAMETER -> {
                return query(request.attributes().path(), spec.name());
            }
            case COOKIE -> {
                for (String line : headers.getAll("cookie")) {
                    String v = cookie(line, spec.name());
                    if (v != null) {
                        return v;
                    }
                }
                if (spec.cookieTtl() == null) {
                    return null;
                }
                String value = Long.toHexString(random.nextLong());
                StringBuilder c = new StringBuilder(spec.name()).append("=\"").append(value).append('"');
                if (!spec.cookieTtl().isZero()) {
                    c.append("; Max-Age=").append(spec.cookieTtl().toSeconds());
                }
                if (spec.cookiePath() != null) {
                    c.append("; Path=").append(spec.cookiePath());
                }
                c.append("; HttpOnly");
                request.set(SET_COOKIE, c.toString());
                return value;
            }
            default -> throw new IllegalStateException(spec.on().toString());
        }
    }

    static String cookie(String header, String name) {
        int i = 0;
        int len = header.length();
        while (i < len) {
            int end = header.indexOf(';', i);
            if (end < 0) {
                end = len;
            }
            int eq = header.indexOf('=', i);
            if (eq > 0 && eq < end && header.substring(i, eq).trim().equals(name)) {
                String v = header.substring(eq + 1, end).trim();
                if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
                    v = v.substring(1, v.length() - 1);
                }
                return v;
            }
            i = end + 1;
        }
        return null;
    }

    static String query(String path, String name) {
        if (path == null) {
            return null;
        }
        int q = path.indexOf('?');
        if (q < 0) {
            return null;
        }
        int i = q + 1;
        int len = path.indexOf('#') < 0 ? path.length() : path.indexOf('#');
        while (i < len) {
            int end = path.indexOf('&', i);
            if (end < 0 || end > len) {
                end = len;
            }
            int eq = path.indexOf('=', i);
            String k = eq > 0 && eq < end ? path.substring(i, eq) : path.substring(i, end);
            if (k.equals(name)) {
                return eq > 0 && eq < end ? path.substring(eq + 1, end) : "";
            }
            i = end + 1;
        }
        return null;
    }

    /**
     * FNV-1a 64 over the string's UTF-16 code units (low byte, then high byte when non-zero: ASCII
     * hashes as its bytes), seeded, finished by SplitMix64's mixer (good avalanche for short keys).
     * Allocates nothing.
     */
    static long hash(String s, long seed) {
        long h = 0xcbf29ce484222325L ^ (seed * 0x9E3779B97F4A7C15L);
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            h ^= c & 0xff;
            h *= 0x100000001b3L;
            if (c > 0xff) {
                h ^= c >>> 8;
                h *= 0x100000001b3L;
            }
        }
        h ^= h >>> 30;
        h *= 0xbf58476d1ce4e5b9L;
        h ^= h >>> 27;
        h *= 0x94d049bb133111ebL;
        h ^= h >>> 31;
        return h;
    }

}
