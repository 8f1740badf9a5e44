package dev.waypoint.model.security;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.List;
import java.util.Objects;

/**
 * A {@code security.istio.io} RequestAuthentication, validated.
 *
 * <p>A waypoint applies it only through {@link #targetRefs()} (shared/spec/authz.md §1: "Waypoints
 * use only targetRefs (or the hidden singular targetRef)"; TestL7JWT: a selector-based
 * RequestAuthentication aimed at the waypoint pod is ignored). Objects with a selector, or with
 * neither selector nor targetRefs, are kept here so the config dump shows them, and attach to
 * nothing.
 *
 * @param targetRefs {@code targetRefs}, with the singular {@code targetRef} folded in; empty when none
 * @param hasSelector whether {@code selector} was set
 * @param jwtRules {@code jwtRules}, in order
 */
public record RequestAuthenticationSpec(NamespacedName name, List<PolicyTargetRef> targetRefs, boolean hasSelector,
                                        List<JwtRuleSpec> jwtRules, SourceRef source) {
    public RequestAuthenticationSpec {
        Objects.requireNonNull(name, "name");
        targetRefs = List.copyOf(targetRefs);
        jwtRules = List.copyOf(jwtRules);
        Objects.requireNonNull(source, "source");
    }

    /**
     * Whether this object applies to calls of Service {@code serviceNamespace/serviceName}
     * ({@code serviceName} null: a Pod-addressed call) through waypoint
     * {@code waypointNamespace/waypointName}, per {@link PolicyTargetRef#attaches}.
     */
    public boolean attaches(String serviceNamespace, String serviceName, String waypointNamespace, String waypointName,
                            String rootNamespace) {
        return PolicyTargetRef.attaches(targetRefs, name.namespace(), serviceNamespace, serviceName, waypointNamespace,
                waypointName, rootNamespace);
    }

    /** Whether this object applies to calls of ServiceEntry {@code entryNamespace/entryName}, per {@link PolicyTargetRef#attachesToServiceEntry}. */
    public boolean attachesToServiceEntry(String entryNamespace, String entryName, String waypointNamespace,
                                          String waypointName, String rootNamespace) {
        return PolicyTargetRef.attachesToServiceEntry(targetRefs, name.namespace(), entryNamespace, entryName,
                waypointNamespace, waypointName, rootNamespace);
    }
}
