package dev.waypoint.model.security;

import java.util.List;
import java.util.Objects;

/**
 * One {@code targetRefs} entry of an AuthorizationPolicy, RequestAuthentication, Telemetry or
 * WasmPlugin ({@code istio.type.v1beta1.PolicyTargetReference}): {@code group}, {@code kind},
 * {@code name}, optional {@code namespace} (must be the policy's own when set).
 *
 * <p>Which policies a waypoint enforces (shared/spec/authz.md §1, Istio
 * {@code pilot/pkg/model/policyattachment.go}): only those with {@code targetRefs} (or the
 * singular {@code targetRef}); one matching entry is enough:
 * <ul>
 *   <li>{@code kind: Service} (group {@code ""} or {@code core}) named as the Service called, the
 *       policy in that Service's namespace;</li>
 *   <li>{@code kind: ServiceEntry} (group {@code networking.istio.io}) named as the ServiceEntry
 *       called, the policy in that ServiceEntry's namespace ({@link #attachesToServiceEntry});</li>
 *   <li>{@code kind: Gateway} (group {@code gateway.networking.k8s.io}) named as this waypoint,
 *       the policy in the waypoint's namespace: every Service and Pod the waypoint serves;</li>
 *   <li>{@code kind: GatewayClass} named {@code istio-waypoint}, the policy in the root namespace:
 *       every waypoint of the mesh.</li>
 * </ul>
 *
 * @param group API group ({@code ""} for core)
 * @param kind resource kind
 * @param name resource name
 * @param namespace the namespace written in the reference, or null (the policy's own)
 */
public record PolicyTargetRef(String group, String kind, String name, String namespace) {
    public PolicyTargetRef {
        group = group == null ? "" : group;
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
    }

    /** The waypoint-facing scope a reference attaches a policy to. */
    public enum Scope {
        /** One Service (name and namespace). */
        SERVICE,
        /** One ServiceEntry (name and namespace). */
        SERVICE_ENTRY,
        /** This waypoint's Gateway: everything it serves. */
        GATEWAY,
        /** The istio-waypoint GatewayClass from the root namespace: every waypoint. */
        GATEWAY_CLASS,
        /** Not something a waypoint enforces. */
        NONE
    }

    /**
     * What this reference attaches a policy in {@code policyNamespace} to, seen from the waypoint
     * {@code waypointNamespace/waypointName} with root namespace {@code rootNamespace}.
     */
    public Scope scope(String policyNamespace, String waypointNamespace, String waypointName, String rootNamespace) {
        if (namespace != null && !namespace.isEmpty() && !namespace.equals(policyNamespace)) {
            return Scope.NONE; // cross-namespace references are not allowed
        }
        boolean core = group.isEmpty() || group.equals("core");
        if (core && kind.equals("Service")) {
            return Scope.SERVICE;
        }
        if (group.equals("networking.istio.io") && kind.equals("ServiceEntry")) {
            return Scope.SERVICE_ENTRY;
        }
        boolean gatewayApi = group.equals("gateway.networking.k8s.io");
        if (gatewayApi && kind.equals("Gateway") && name.equals(waypointName) && policyNamespace.equals(waypointNamespace)) {
            return Scope.GATEWAY;
        }
        if (gatewayApi && kind.equals("GatewayClass") && name.equals("istio-waypoint") && policyNamespace.equals(rootNamespace)) {
            return Scope.GATEWAY_CLASS;
        }
        return Scope.NONE;
    }

    /**
     * Whether any of {@code refs} attaches a policy in {@code policyNamespace} to calls of the
     * Service {@code serviceNamespace/serviceName} through this waypoint ({@code serviceName}
     * null: a Pod-addressed call, which only Gateway and GatewayClass policies reach).
     */
    public static boolean attaches(List<PolicyTargetRef> refs, String policyNamespace, String serviceNamespace,
                                   String serviceName, String waypointNamespace, String waypointName, String rootNamespace) {
        for (PolicyTargetRef ref : refs) {
            switch (ref.scope(policyNamespace, waypointNamespace, waypointName, rootNamespace)) {
                case SERVICE -> {
                    if (serviceName != null && ref.name().equals(serviceName) && policyNamespace.equals(serviceNamespace)) {
                        return true;
                    }
                }
                case GATEWAY, GATEWAY_CLASS -> {
                    return true;
                }
                case SERVICE_ENTRY, NONE -> { }
            }
        }
        return false;
    }

    /**
     * Whether any of {@code refs} attaches a policy in {@code policyNamespace} to calls of the
     * ServiceEntry {@code entryNamespace/entryName} through this waypoint: a {@code ServiceEntry}
     * reference naming it from its own namespace, or this waypoint's Gateway / the GatewayClass.
     */
    public static boolean attachesToServiceEntry(List<PolicyTargetRef> refs, String policyNamespace, String entryNamespace,
                                                 String entryName, String waypointNamespace, String waypointName,
                                                 String rootNamespace) {
        for (PolicyTargetRef ref : refs) {
            switch (ref.scope(policyNamespace, waypointNamespace, waypointName, rootNamespace)) {
                case SERVICE_ENTRY -> {
                    if (ref.name().equals(entryName) && policyNamespace.equals(entryNamespace)) {
                        return true;
                    }
                }
                case GATEWAY, GATEWAY_CLASS -> {
                    return true;
                }
                case SERVICE, NONE -> { }
            }
        }
        return false;
    }
}
