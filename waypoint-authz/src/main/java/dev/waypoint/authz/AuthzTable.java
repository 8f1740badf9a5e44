package dev.waypoint.authz;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.Target;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The compiled AuthorizationPolicies of one snapshot: an {@link AuthzEngine} per Service and per
 * ServiceEntry that has any of its own, and one for Pod-addressed traffic ("a Pod-addressed call, which only Gateway and
 * GatewayClass policies reach"). Immutable.
 */
public final class AuthzTable {
    /** The snapshot part the {@code authz} stage reads. */
    public static final SnapshotPart<AuthzTable> PART = SnapshotPart.of("authz", AuthzTable.class);

    private final Map<NamespacedName, AuthzEngine> services;
    private final Map<NamespacedName, AuthzEngine> serviceEntries;
    private final AuthzEngine pods;
    private final AuthzEngine otherServices;

    /**
     * @param services engines of the Services with at least one policy
     * @param pods the engine for Pod-addressed traffic
     * @param otherServices the engine for a Service not in {@code services} (Gateway and
     *        GatewayClass policies only)
     */
    AuthzTable(Map<NamespacedName, AuthzEngine> services, AuthzEngine pods, AuthzEngine otherServices) {
        this(services, Map.of(), pods, otherServices);
    }

    /**
     * @param serviceEntries engines of the ServiceEntries with at least one policy of their own
     *        (a {@code ServiceEntry} targetRef); the others get {@code otherServices}
     */
    AuthzTable(Map<NamespacedName, AuthzEngine> services, Map<NamespacedName, AuthzEngine> serviceEntries,
               AuthzEngine pods, AuthzEngine otherServices) {
        this.services = Map.copyOf(services);
        this.serviceEntries = Map.copyOf(serviceEntries);
        this.pods = Objects.requireNonNull(pods, "pods");
        this.otherServices = Objects.requireNonNull(otherServices, "otherServices");
    }

    /** The engine for traffic to {@code target}. */
    public AuthzEngine engineFor(Target target) {
        if (target instanceof Target.ServiceTarget s) {
            AuthzEngine e = services.get(s.service().name());
            return e != null ? e : otherServices;
        }
        if (target instanceof Target.ServiceEntryTarget se) {
            AuthzEngine e = serviceEntries.get(se.entry().name());
            return e != null ? e : otherServices;
        }
        return pods;
    }

    /** Every engine and compiled rule, one per line: the golden form of the compiler's output. */
    public String toDebugString() {
        StringBuilder b = new StringBuilder();
        services.entrySet().stream().sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(NamespacedName::toString)))
                .forEach(e -> {
                    b.append("service ").append(e.getKey()).append(":\n");
                    e.getValue().appendDebug(b, "  ");
                });
        serviceEntries.entrySet().stream().sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(NamespacedName::toString)))
                .forEach(e -> {
                    b.append("serviceentry ").append(e.getKey()).append(":\n");
                    e.getValue().appendDebug(b, "  ");
                });
        b.append("other services and pod-addressed traffic:\n");
        pods.appendDebug(b, "  ");
        return b.toString();
    }

    /** For the config dump: the non-empty engines. */
    public Map<String, Object> debug() {
        Map<String, Object> m = new LinkedHashMap<>();
        services.entrySet().stream().sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(NamespacedName::toString)))
                .forEach(e -> m.put(e.getKey().toString(), e.getValue().debug()));
        serviceEntries.entrySet().stream().sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(NamespacedName::toString)))
                .forEach(e -> m.put("ServiceEntry " + e.getKey(), e.getValue().debug()));
        if (!pods.isEmpty()) {
            m.put("(pod-addressed)", pods.debug());
        }
        return m;
    }
}
