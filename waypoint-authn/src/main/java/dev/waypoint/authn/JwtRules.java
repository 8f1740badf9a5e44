package dev.waypoint.authn;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.Target;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The compiled RequestAuthentication part of a snapshot: for each Service, each ServiceEntry, and for Pod-addressed
 * calls, the jwtRules of every RequestAuthentication that attaches to it, combined (shared/spec/authz.md
 * §4: "jwtRules of several RequestAuthentications are combined"). Immutable.
 */
public final class JwtRules {
    /** The snapshot part. */
    public static final SnapshotPart<JwtRules> PART = SnapshotPart.of("authn.jwtRules", JwtRules.class);

    /** Nothing attaches anywhere. */
    static final JwtRules EMPTY = new JwtRules(Map.of(), List.of());

    private final Map<NamespacedName, List<JwtRule>> byService;
    private final Map<NamespacedName, List<JwtRule>> byServiceEntry;
    private final List<JwtRule> podAddressed;

    JwtRules(Map<NamespacedName, List<JwtRule>> byService, List<JwtRule> podAddressed) {
        this(byService, Map.of(), podAddressed);
    }

    /**
     * @param byServiceEntry the ServiceEntries with a RequestAuthentication of their own (a
     *        {@code ServiceEntry} targetRef); the others get {@code podAddressed} (the gateway-wide rules)
     */
    JwtRules(Map<NamespacedName, List<JwtRule>> byService, Map<NamespacedName, List<JwtRule>> byServiceEntry,
             List<JwtRule> podAddressed) {
        this.byService = copy(byService);
        this.byServiceEntry = copy(byServiceEntry);
        this.podAddressed = List.copyOf(podAddressed);
    }

    private static Map<NamespacedName, List<JwtRule>> copy(Map<NamespacedName, List<JwtRule>> m) {
        Map<NamespacedName, List<JwtRule>> copy = new LinkedHashMap<>();
        m.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        return java.util.Collections.unmodifiableMap(copy);
    }

    /** The rules that apply to calls of {@code target}; empty: no RequestAuthentication applies, tokens are ignored. */
    List<JwtRule> forTarget(Target target) {
        if (target instanceof Target.ServiceTarget s) {
            return byService.getOrDefault(s.service().name(), List.of());
        }
        if (target instanceof Target.ServiceEntryTarget se) {
            return byServiceEntry.getOrDefault(se.entry().name(), podAddressed);
        }
        return podAddressed;
    }

    /** Whether any rule applies anywhere. */
    public boolean isEmpty() {
        return byService.isEmpty() && byServiceEntry.isEmpty() && podAddressed.isEmpty();
    }

    /** For the config dump: target → rules. */
    public Map<String, List<String>> debug() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        byService.forEach((k, v) -> out.put("service " + k, v.stream().map(JwtRule::debug).toList()));
        byServiceEntry.forEach((k, v) -> out.put("serviceentry " + k, v.stream().map(JwtRule::debug).toList()));
        if (!podAddressed.isEmpty()) {
            out.put("pod-addressed", podAddressed.stream().map(JwtRule::debug).toList());
        }
        return out;
    }

    static List<JwtRule> concat(List<JwtRule> a, List<JwtRule> b) {
        List<JwtRule> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
