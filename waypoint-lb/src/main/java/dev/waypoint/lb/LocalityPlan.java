package dev.waypoint.lb;

import dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Locality load balancing of one Service port, as Istio configures Envoy for a
 * {@code localityLbSetting}; built once per snapshot, so a pick allocates nothing.
 *
 * <p><b>Failover</b> (priorities): Istio's {@code applyLocalityFailover}. Priority 0 is the
 * waypoint's own region, zone and subzone, 1 the same region and zone, 2 the same region, 3 any
 * other; with a {@code failover} entry {@code from} the waypoint's region, other regions than its
 * {@code to} drop to 4. With {@code failoverPriority} (labels), an endpoint's priority is the number
 * of labels after the longest prefix of them it shares with the waypoint (only the topology labels
 * region, zone and subzone are known of the waypoint; other labels never match). Empty priorities
 * are compacted away. Traffic goes by Envoy's priority load with the overprovisioning factor 1.4:
 * a priority's health is {@code min(100, 140 × healthy / total)}; priority 0 takes its health,
 * the next the rest up to its own, and so on, normalized when the health sum is under 100.
 *
 * <p><b>Distribute</b>: Istio's {@code applyLocalityWeights}. The first entry whose {@code from}
 * matches the waypoint's locality gives each endpoint locality a weight: every {@code to} pattern's
 * weight split evenly among the localities it matches; localities no pattern matches get no traffic.
 * A locality is picked by weight × its health share (Envoy's locality-weighted balancing), then the
 * port's balancer picks within it.
 */
final class LocalityPlan {
    static final int OVERPROVISIONING = 140;

    /** Priorities (failover) or localities (distribute), each a list of endpoints. */
    private final List<List<Endpoint>> groups;
    /** Distribute weights per group, or null for failover (priorities). */
    private final int[] weights;

    private LocalityPlan(List<List<Endpoint>> groups, int[] weights) {
        this.groups = groups;
        this.weights = weights;
    }

    /**
     * The plan, or null when {@code spec} changes nothing (no endpoints, no distribute entry from
     * here, or failover with every endpoint in one priority).
     */
    static LocalityPlan of(LocalityLbSpec spec, Locality self, List<Endpoint> endpoints) {
        if (endpoints.isEmpty()) {
            return null;
        }
        if (!spec.distribute().isEmpty()) {
            return distribute(spec, self, endpoints);
        }
        Map<Integer, List<Endpoint>> byPriority = new java.util.TreeMap<>();
        for (Endpoint e : endpoints) {
            byPriority.computeIfAbsent(priority(spec, self, Locality.of(e.pod())), k -> new ArrayList<>()).add(e);
        }
        if (byPriority.size() == 1) {
            // one priority takes all the load whatever its health (Envoy normalizes it to 100 %):
            // the plan would change nothing. The common case of Istio's default mesh setting
            // (localities unknown, or all endpoints in one), so those picks skip the plan.
            return null;
        }
        List<List<Endpoint>> groups = new ArrayList<>();
        byPriority.values().forEach(g -> groups.add(List.copyOf(g)));
        return new LocalityPlan(List.copyOf(groups), null);
    }

    /** An endpoint's priority before compaction. */
    static int priority(LocalityLbSpec spec, Locality self, Locality ep) {
        if (!spec.failoverPriority().isEmpty()) {
            int matched = 0;
            for (String label : spec.failoverPriority()) {
                String mine = part(self, label);
                if (mine == null || mine.isEmpty() || !mine.equals(part(ep, label))) {
                    break;
                }
                matched++;
            }
            return spec.failoverPriority().size() - matched;
        }
        if (!self.region().isEmpty() && self.region().equals(ep.region())) {
            if (self.zone().equals(ep.zone())) {
                return self.subzone().equals(ep.subzone()) ? 0 : 1;
            }
            return 2;
        }
        if (self.region().isEmpty() && ep.region().isEmpty()) {
            return 0; // neither side knows its locality: one priority, as Envoy sees them
        }
        for (LocalityLbSpec.Failover f : spec.failover()) {
            if (f.from().equals(self.region())) {
                return ep.region().equals(f.to()) ? 3 : 4;
            }
        }
        return 3;
    }

    private static String part(Locality l, String label) {
        return switch (label) {
            case Locality.REGION_LABEL -> l.region();
            case Locality.ZONE_LABEL -> l.zone();
            case Locality.SUBZONE_LABEL -> l.subzone();
            default -> null;
        };
    }

    private static LocalityPlan distribute(LocalityLbSpec spec, Locality self, List<Endpoint> endpoints) {
        LocalityLbSpec.Distribute d = null;
        for (LocalityLbSpec.Distribute x : spec.distribute()) {
            if (self.matches(x.from())) {
                d = x;
                break;
            }
        }
        if (d == null) {
            return null;
        }
        Map<Locality, List<Endpoint>> byLocality = new LinkedHashMap<>();
        for (Endpoint e : endpoints) {
            byLocality.computeIfAbsent(Locality.of(e.pod()), k -> new ArrayList<>()).add(e);
        }
        // weight of a "to" pattern, split evenly among the localities it matches (Istio); scaled by
        // 1000 so the split keeps precision
        Map<Locality, Integer> weight = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> to : d.to().entrySet()) {
            List<Locality> matched = new ArrayList<>();
            for (Locality l : byLocality.keySet()) {
                if (l.matches(to.getKey())) {
                    matched.add(l);
                }
            }
            for (Locality l : matched) {
                weight.merge(l, to.getValue() * 1000 / matched.size(), Integer::sum);
            }
        }
        List<List<Endpoint>> groups = new ArrayList<>();
        List<Integer> ws = new ArrayList<>();
        for (Map.Entry<Locality, Integer> w : weight.entrySet()) {
            if (w.getValue() > 0) {
                groups.add(List.copyOf(byLocality.get(w.getKey())));
                ws.add(w.getValue());
            }
        }
        if (groups.isEmpty()) {
            return null;
        }
        return new LocalityPlan(List.copyOf(groups), ws.stream().mapToInt(Integer::intValue).toArray());
    }

    /** The priorities or localities, best first. */
    List<List<Endpoint>> groups() {
        return groups;
    }

    boolean distributes() {
        return weights != null;
    }

    /**
     * The endpoints this pick goes among (a list of the plan, never copied): the priority or locality
     * drawn by Envoy's loads, or null when none has a healthy endpoint (the caller keeps its list).
     */
    List<Endpoint> choose(EndpointStates states, RandomGenerator random) {
        boolean ejections = states.anyEjected();
        if (weights != null) {
            long total = 0;
            for (int i = 0; i < groups.size(); i++) {
                total += (long) weights[i] * health(groups.get(i), states, ejections);
            }
            if (total == 0) {
                return null;
            }
            long r = random.nextLong(total);
            for (int i = 0; i < groups.size(); i++) {
                r -= (long) weights[i] * health(groups.get(i), states, ejections);
                if (r < 0) {
                    return groups.get(i);
                }
            }
            return groups.get(groups.size() - 1);
        }
        if (!ejections) {
            return groups.get(0);
        }
        int sum = 0;
        for (List<Endpoint> g : groups) {
            sum += health(g, states, true);
        }
        int normalized = Math.min(100, sum);
        if (normalized == 0) {
            return null;
        }
        int draw = random.nextInt(100);
        int remaining = 100;
        int first = -1;
        for (int i = 0; i < groups.size(); i++) {
            int h = health(groups.get(i), states, true);
            if (h > 0 && first < 0) {
                first = i;
            }
            int load = Math.min(remaining, h * 100 / normalized);
            remaining -= load;
            if (draw < load) {
                return groups.get(i);
            }
            draw -= load;
        }
        return groups.get(first); // rounding leftovers go to the first healthy priority (Envoy)
    }

    /** The share of load a group can take: {@code min(100, 1.4 × healthy percent)}. */
    static int health(List<Endpoint> group, EndpointStates states, boolean ejections) {
        if (!ejections) {
            return 100;
        }
        int healthy = 0;
        for (int i = 0; i < group.size(); i++) {
            if (!states.ejected(group.get(i))) {
                healthy++;
            }
        }
        return (int) Math.min(100, (long) OVERPROVISIONING * healthy / group.size());
    }

    /** Priority loads in percent for the given healthy counts (Envoy's priority load; for tests and docs). */
    static int[] priorityLoads(int[] healthy, int[] total) {
        int[] h = new int[healthy.length];
        int sum = 0;
        for (int i = 0; i < h.length; i++) {
            h[i] = (int) Math.min(100, (long) OVERPROVISIONING * healthy[i] / total[i]);
            sum += h[i];
        }
        int[] load = new int[h.length];
        int normalized = Math.min(100, sum);
        if (normalized == 0) {
            return load;
        }
        int remaining = 100;
        int first = -1;
        for (int i = 0; i < h.length; i++) {
            if (h[i] > 0 && first < 0) {
                first = i;
            }
            load[i] = Math.min(remaining, h[i] * 100 / normalized);
            remaining -= load[i];
        }
        load[first] += remaining;
        return load;
    }
}
