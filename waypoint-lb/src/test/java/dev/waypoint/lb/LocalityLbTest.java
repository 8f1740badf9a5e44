package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.lb.EndpointStates.AttemptResult;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.LocalityLbSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * {@code localityLbSetting}: priorities as Istio assigns them, Envoy's priority loads with the
 * overprovisioning factor, distribute weights against a chi-square bound (fixed seed), and the
 * ejection-driven failover timeline through {@link Upstreams#pick} on an injected clock.
 */
class LocalityLbTest {
    static final Locality SELF = Locality.parse("us-west/zone1/sub1");
    static final LocalityLbSpec DEFAULT = new LocalityLbSpec(true, List.of(), List.of(), List.of());

    record PriorityCase(String name, LocalityLbSpec spec, String endpoint, int priority) {}

    @Test
    void prioritiesAsIstioAssignsThem() {
        LocalityLbSpec failover = new LocalityLbSpec(true, List.of(new LocalityLbSpec.Failover("us-west", "us-east")),
                List.of(), List.of());
        LocalityLbSpec byLabels = new LocalityLbSpec(true, List.of(),
                List.of(Locality.REGION_LABEL, Locality.ZONE_LABEL), List.of());
        List<PriorityCase> cases = List.of(
                new PriorityCase("same subzone", DEFAULT, "us-west/zone1/sub1", 0),
                new PriorityCase("same zone", DEFAULT, "us-west/zone1/sub2", 1),
                new PriorityCase("same region", DEFAULT, "us-west/zone2/sub1", 2),
                new PriorityCase("other region", DEFAULT, "us-east/zone1/sub1", 3),
                new PriorityCase("no locality", DEFAULT, "", 3),
                new PriorityCase("failover target", failover, "us-east/zone9", 3),
                new PriorityCase("not the failover target", failover, "eu-north/zone1", 4),
                new PriorityCase("failover keeps same region first", failover, "us-west/zone2", 2),
                new PriorityCase("labels: both match", byLabels, "us-west/zone1/sub9", 0),
                new PriorityCase("labels: region only", byLabels, "us-west/zone2", 1),
                new PriorityCase("labels: none", byLabels, "us-east/zone1", 2),
                new PriorityCase("labels: zone alone is no prefix", byLabels, "us-east/zone1/sub1", 2));
        for (PriorityCase c : cases) {
            assertThat(LocalityPlan.priority(c.spec(), SELF, Locality.parse(c.endpoint()))).as(c.name()).isEqualTo(c.priority());
        }
    }

    record LoadCase(String name, int[] healthy, int[] total, int[] load) {}

    @Test
    void priorityLoadsWithOverprovisioning() {
        List<LoadCase> cases = List.of(
                new LoadCase("all healthy", new int[] {4, 4}, new int[] {4, 4}, new int[] {100, 0}),
                new LoadCase("72 % healthy is still 100 % (1.4)", new int[] {18, 4}, new int[] {25, 4}, new int[] {100, 0}),
                new LoadCase("half healthy: 70 / 30", new int[] {5, 10}, new int[] {10, 10}, new int[] {70, 30}),
                new LoadCase("none healthy: all to the next", new int[] {0, 3}, new int[] {2, 3}, new int[] {0, 100}),
                new LoadCase("spill over three", new int[] {1, 1, 3}, new int[] {4, 4, 3}, new int[] {35, 35, 30}),
                new LoadCase("normalized below 100", new int[] {2, 1}, new int[] {10, 10}, new int[] {67, 33}),
                new LoadCase("nothing healthy", new int[] {0, 0}, new int[] {1, 1}, new int[] {0, 0}));
        for (LoadCase c : cases) {
            assertThat(LocalityPlan.priorityLoads(c.healthy(), c.total())).as(c.name()).containsExactly(c.load());
        }
    }

    static PodSpec pod(int i, String locality) {
        Locality l = Locality.parse(locality);
        Map<String, String> labels = new HashMap<>(Map.of("app", "web"));
        if (!l.region().isEmpty()) {
            labels.put(Locality.REGION_LABEL, l.region());
        }
        if (!l.zone().isEmpty()) {
            labels.put(Locality.ZONE_LABEL, l.zone());
        }
        if (!l.subzone().isEmpty()) {
            labels.put(Locality.SUBZONE_LABEL, l.subzone());
        }
        return new PodSpec(new NamespacedName("apps", "web-" + i), labels, "web",
                HostPort.parseIp("10.1.0." + (i + 1)), true, Map.of(), SourceRef.NONE);
    }

    static List<Endpoint> endpoints(String... localities) {
        List<Endpoint> out = new ArrayList<>();
        for (int i = 0; i < localities.length; i++) {
            PodSpec p = pod(i, localities[i]);
            out.add(new Endpoint(new HostPort(p.ip(), 8080), null, p));
        }
        return List.copyOf(out);
    }

    @Test
    void distributeSplitsByWeightWithinChiSquareBound() {
        // us-west/zone1 gets 80 split over its two subzones' localities, us-west/zone2 20
        LocalityLbSpec spec = new LocalityLbSpec(true, List.of(), List.of(), List.of(
                new LocalityLbSpec.Distribute("us-east/*", Map.of("us-east/*", 100)),
                new LocalityLbSpec.Distribute("us-west/zone1/*", new LinkedHashMap<>(Map.of("us-west/zone1/*", 80, "us-west/zone2/*", 20)))));
        List<Endpoint> eps = endpoints("us-west/zone1/sub1", "us-west/zone1/sub2", "us-west/zone2/sub1", "us-east/zone1/sub1");
        LocalityPlan plan = LocalityPlan.of(spec, SELF, eps);
        assertThat(plan.distributes()).isTrue();
        EndpointStates states = new EndpointStates();
        Random random = new Random(42);
        Map<String, Integer> counts = new HashMap<>();
        int n = 100_000;
        for (int i = 0; i < n; i++) {
            List<Endpoint> g = plan.choose(states, random);
            counts.merge(Locality.of(g.get(0).pod()).toString(), 1, Integer::sum);
        }
        Map<String, Double> expected = Map.of("us-west/zone1/sub1", 0.4, "us-west/zone1/sub2", 0.4, "us-west/zone2/sub1", 0.2);
        assertThat(counts.keySet()).isEqualTo(expected.keySet()); // us-east is matched by no "to": no traffic
        double chi = 0;
        for (Map.Entry<String, Double> e : expected.entrySet()) {
            double exp = e.getValue() * n;
            chi += Math.pow(counts.get(e.getKey()) - exp, 2) / exp;
        }
        assertThat(chi).isLessThan(13.8); // 2 degrees of freedom, p = 0.001
    }

    @Test
    void distributeFromAnotherLocalityChangesNothing() {
        LocalityLbSpec spec = new LocalityLbSpec(true, List.of(), List.of(), List.of(
                new LocalityLbSpec.Distribute("eu-north/*", Map.of("eu-north/*", 100))));
        assertThat(LocalityPlan.of(spec, SELF, endpoints("us-west/zone1/sub1"))).isNull();
    }

    @Test
    void failoverWithEveryEndpointInOnePriorityChangesNothing() {
        // Istio's default mesh setting over pods without topology labels, or all in one locality
        assertThat(LocalityPlan.of(DEFAULT, SELF, endpoints("", ""))).isNull();
        assertThat(LocalityPlan.of(DEFAULT, Locality.NONE, endpoints("us-east/zone1", "us-west/zone2"))).isNull();
        assertThat(LocalityPlan.of(DEFAULT, SELF, endpoints("us-west/zone1/sub1", "us-east/zone1"))).isNotNull();
    }

    // --- failover through Upstreams.pick, on an injected clock ---

    final LbFixtures.FakeClock clock = new LbFixtures.FakeClock();
    final EndpointStates states = new EndpointStates(clock);
    final UpstreamSettings settings = UpstreamSettings.defaults(15008).withLocality(Locality.parse("us-west/zone1"));
    final Upstreams upstreams = new Upstreams(settings,
            new dev.waypoint.lb.hbone.HbonePool(settings, () -> null), null, states);

    static ConfigSnapshot snapshot(OutlierDetectionSpec od, Diagnostics diagnostics, String... localities) {
        DestinationRuleSpec dr = new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                new TrafficPolicySpec(new TrafficPolicySpec.LoadBalancerSpec(TrafficPolicySpec.Simple.ROUND_ROBIN, null, null, DEFAULT),
                        od, List.of()), List.of(), SourceRef.NONE);
        List<PodSpec> pods = new ArrayList<>();
        for (int i = 0; i < localities.length; i++) {
            pods.add(pod(i, localities[i]));
        }
        return ConfigSnapshot.compile(1, LbFixtures.resources(pods, List.of(dr)), List.of(new EndpointCompiler()), diagnostics);
    }

    Set<String> picked(ConfigSnapshot snap, int n) {
        Set<String> out = new java.util.TreeSet<>();
        for (int i = 0; i < n; i++) {
            out.add(((Endpoint) upstreams.pick(snap, LbFixtures.BACKEND, null, null)).address().toString());
        }
        return out;
    }

    void fail(ConfigSnapshot snap, String address) {
        Endpoint e = snap.part(EndpointTable.PART).endpoints(LbFixtures.SVC.name(), 80).stream()
                .filter(x -> x.address().toString().equals(address)).findFirst().orElseThrow();
        EndpointStates.State s = states.of(e);
        states.watch(s, snap.part(EndpointTable.PART).policy(LbFixtures.SVC.name(), 80).outlier(),
                snap.part(EndpointTable.PART).endpoints(LbFixtures.SVC.name(), 80));
        states.started(s);
        states.ended(s, AttemptResult.SERVER_ERROR);
    }

    @Test
    void ejectionOfTheLocalZoneFailsOverAndBack() {
        OutlierDetectionSpec od = new OutlierDetectionSpec(1, 0, 5, false, Duration.ofSeconds(10), Duration.ofSeconds(30), 100, 0);
        ConfigSnapshot snap = snapshot(od, new Diagnostics(), "us-west/zone1", "us-west/zone2", "us-east/zone1");
        assertThat(picked(snap, 50)).containsExactly("10.1.0.1:8080"); // priority 0 only
        fail(snap, "10.1.0.1:8080"); // ejected: priority 0 has no healthy endpoint
        assertThat(picked(snap, 50)).containsExactly("10.1.0.2:8080"); // the same region next, not us-east
        fail(snap, "10.1.0.2:8080");
        assertThat(picked(snap, 50)).containsExactly("10.1.0.3:8080");
        clock.advanceSeconds(30); // both ejections over
        assertThat(picked(snap, 50)).containsExactly("10.1.0.1:8080");
    }

    @Test
    void partlyHealthyPrioritySpillsByOverprovisioning() {
        // 3 local pods, one ejected: 2/3 × 1.4 = 93 % stays local, 7 % goes to the next priority
        OutlierDetectionSpec od = new OutlierDetectionSpec(1, 0, 5, false, Duration.ofSeconds(10), Duration.ofSeconds(30), 100, 0);
        ConfigSnapshot snap = snapshot(od, new Diagnostics(), "us-west/zone1", "us-west/zone1", "us-west/zone1", "us-east/zone1");
        fail(snap, "10.1.0.1:8080");
        int remote = 0;
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            if (((Endpoint) upstreams.pick(snap, LbFixtures.BACKEND, null, null)).address().toString().equals("10.1.0.4:8080")) {
                remote++;
            }
        }
        double expected = 0.07 * n;
        assertThat(Math.pow(remote - expected, 2) / expected + Math.pow((n - remote) - (n - expected), 2) / (n - expected))
                // 1 degree of freedom, p = 1e-6: the picks here come from the picker's own unseeded random
                // (at p = 0.001 a correct picker failed one run of the before-stop build); a wrong share
                // (0 %, or 14 % remote) gives a chi-square in the hundreds
                .isLessThan(23.9);
    }

    @Test
    void failoverWithoutOutlierDetectionIsWarnedAndNotApplied() {
        Diagnostics d = new Diagnostics();
        ConfigSnapshot snap = snapshot(null, d, "us-west/zone1", "us-east/zone1");
        assertThat(picked(snap, 20)).containsExactly("10.1.0.1:8080", "10.1.0.2:8080");
        assertThat(d.problems().toString()).contains("locality failover needs outlierDetection");
    }
    // --- MeshConfig localityLbSetting: where the rule says nothing (Istio's GetEffectiveLbSetting) ---

    static final OutlierDetectionSpec OD = new OutlierDetectionSpec(1, 0, 5, false, Duration.ofSeconds(10),
            Duration.ofSeconds(30), 100, 0);
    static final LocalityLbSpec MESH_DISTRIBUTE = new LocalityLbSpec(true, List.of(), List.of(), List.of(
            new LocalityLbSpec.Distribute("us-west/zone1/*", Map.of("us-east/*", 100))));
    static final LocalityLbSpec MESH_FAILOVER = new LocalityLbSpec(true,
            List.of(new LocalityLbSpec.Failover("us-west", "us-east")), List.of(), List.of());
    static final LocalityLbSpec OFF = new LocalityLbSpec(false, List.of(), List.of(), List.of());
    static final LocalityLbSpec RULE_FAILOVER = new LocalityLbSpec(true,
            List.of(new LocalityLbSpec.Failover("us-west", "eu-north")), List.of(), List.of());

    /** What a DestinationRule for apps/web writes. */
    enum Rule { NONE, SIMPLE_ONLY, OUTLIER_ONLY, OFF_WITH_OUTLIER, OWN_FAILOVER_WITH_OUTLIER }

    /**
     * @param mesh the MeshConfig localityLbSetting (null: not written, Istio's default enabled)
     * @param expected the port's locality as compiled: null (none), else "distribute"/"failover"
     *        with " (MeshConfig)" when it is the mesh's; {@code "no policy"} when the port has none at all
     */
    record MeshLocalityCase(String name, LocalityLbSpec mesh, Rule rule, String expected) {}

    static ConfigSnapshot meshSnapshot(LocalityLbSpec mesh, Rule rule, Diagnostics d) {
        LocalityLbSpec own = switch (rule) {
            case OFF_WITH_OUTLIER -> OFF;
            case OWN_FAILOVER_WITH_OUTLIER -> RULE_FAILOVER;
            default -> null;
        };
        OutlierDetectionSpec od = rule == Rule.OUTLIER_ONLY || rule == Rule.OFF_WITH_OUTLIER
                || rule == Rule.OWN_FAILOVER_WITH_OUTLIER ? OD : null;
        TrafficPolicySpec.LoadBalancerSpec lb = rule == Rule.SIMPLE_ONLY || own != null
                ? new TrafficPolicySpec.LoadBalancerSpec(TrafficPolicySpec.Simple.ROUND_ROBIN, null, null, own) : null;
        List<DestinationRuleSpec> rules = rule == Rule.NONE ? List.of()
                : List.of(new DestinationRuleSpec(new NamespacedName("apps", "web"), "web", List.of(),
                        new TrafficPolicySpec(lb, od, List.of()), List.of(), SourceRef.NONE));
        dev.waypoint.model.mesh.MeshConfigSpec m = new dev.waypoint.model.mesh.MeshConfigSpec(SourceRef.NONE, null,
                List.of(), null, List.of(), dev.waypoint.model.mesh.MeshConfigSpec.DefaultProviders.NONE, null, null,
                dev.waypoint.model.mesh.MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null, null, null, null, null, mesh);
        List<PodSpec> pods = List.of(pod(0, "us-west/zone1/sub1"), pod(1, "us-east/zone1/sub1"));
        return ConfigSnapshot.compile(1, LbFixtures.resources(pods, rules).toBuilder().meshConfig(m).build(),
                List.of(new EndpointCompiler()), d);
    }

    @Test
    void meshLocalityAppliesWhereTheRuleSaysNothing() {
        List<MeshLocalityCase> cases = List.of(
                new MeshLocalityCase("Istio's default, no rule", null, Rule.NONE, "no policy"),
                new MeshLocalityCase("Istio's default, rule with outlier detection: default failover", null,
                        Rule.OUTLIER_ONLY, "failover (MeshConfig)"),
                new MeshLocalityCase("Istio's default, rule without outlier detection", null, Rule.SIMPLE_ONLY, null),
                new MeshLocalityCase("mesh enabled: false, rule with outlier detection", OFF, Rule.OUTLIER_ONLY, null),
                new MeshLocalityCase("mesh distribute, no rule", MESH_DISTRIBUTE, Rule.NONE, "distribute (MeshConfig)"),
                new MeshLocalityCase("mesh distribute, rule with only simple", MESH_DISTRIBUTE, Rule.SIMPLE_ONLY,
                        "distribute (MeshConfig)"),
                new MeshLocalityCase("mesh distribute, rule enabled: false wins", MESH_DISTRIBUTE, Rule.OFF_WITH_OUTLIER, null),
                new MeshLocalityCase("mesh distribute, the rule's own failover wins", MESH_DISTRIBUTE,
                        Rule.OWN_FAILOVER_WITH_OUTLIER, "failover"),
                new MeshLocalityCase("mesh failover, rule with outlier detection", MESH_FAILOVER, Rule.OUTLIER_ONLY,
                        "failover (MeshConfig)"),
                new MeshLocalityCase("mesh failover, no rule: needs outlier detection", MESH_FAILOVER, Rule.NONE, "no policy"),
                new MeshLocalityCase("mesh failover, rule without outlier detection", MESH_FAILOVER, Rule.SIMPLE_ONLY, null));
        for (MeshLocalityCase c : cases) {
            Diagnostics d = new Diagnostics();
            Map<String, Object> policy = meshSnapshot(c.mesh(), c.rule(), d).part(EndpointTable.PART).debugPolicies()
                    .get("apps/web:80");
            String got;
            if (policy == null) {
                got = "no policy";
            } else {
                String l = (String) policy.get("localityLbSetting");
                got = l == null ? null : l.split(" ")[0] + (l.endsWith(" (MeshConfig)") ? " (MeshConfig)" : "");
            }
            assertThat(got).as(c.name()).isEqualTo(c.expected());
            // the mesh setting is meant for every port: never a warning about it
            assertThat(d.problems()).as(c.name()).isEmpty();
        }
    }

    @Test
    void meshDistributeSendsAPortWithoutARuleToItsLocalities() {
        // from us-west/zone1 (this waypoint) everything goes to us-east
        assertThat(picked(meshSnapshot(MESH_DISTRIBUTE, Rule.NONE, new Diagnostics()), 30)).containsExactly("10.1.0.2:8080");
        // the rule's enabled: false turns it off: both localities
        assertThat(picked(meshSnapshot(MESH_DISTRIBUTE, Rule.OFF_WITH_OUTLIER, new Diagnostics()), 60))
                .containsExactly("10.1.0.1:8080", "10.1.0.2:8080");
    }

    @Test
    void istioDefaultMeshLocalityFailsOverARuleWithOutlierDetection() {
        // no localityLbSetting anywhere: Istio's default mesh setting (enabled) keeps traffic local
        ConfigSnapshot snap = meshSnapshot(null, Rule.OUTLIER_ONLY, new Diagnostics());
        assertThat(picked(snap, 30)).containsExactly("10.1.0.1:8080");
        fail(snap, "10.1.0.1:8080");
        assertThat(picked(snap, 30)).containsExactly("10.1.0.2:8080");
    }
}
