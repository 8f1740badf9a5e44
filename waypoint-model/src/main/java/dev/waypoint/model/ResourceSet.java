package dev.waypoint.model;

import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.OtherResource;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.util.List;
import java.util.Objects;

/**
 * One generation of validated resources: the input of every {@link PartCompiler}. Rejected
 * resources are not in here (they are in the {@link Diagnostics}).
 *
 * @param waypoint which Gateway this process is ({@code --gateway})
 * @param trustDomain the mesh trust domain ({@code cluster.local})
 * @param authorizationPolicies every valid AuthorizationPolicy, attached or not (the authz compiler decides)
 */
public record ResourceSet(NamespacedName waypoint, String trustDomain, List<NamespaceSpec> namespaces,
                          List<ServiceSpec> services, List<PodSpec> pods, List<EndpointSliceSpec> endpointSlices,
                          List<GatewaySpec> gateways, List<AuthorizationPolicySpec> authorizationPolicies,
                          List<OtherResource> others) {
    public ResourceSet {
        Objects.requireNonNull(waypoint, "waypoint");
        Objects.requireNonNull(trustDomain, "trustDomain");
        namespaces = List.copyOf(namespaces);
        services = List.copyOf(services);
        pods = List.copyOf(pods);
        endpointSlices = List.copyOf(endpointSlices);
        gateways = List.copyOf(gateways);
        authorizationPolicies = List.copyOf(authorizationPolicies);
        others = List.copyOf(others);
    }

    /** An empty set for {@code waypoint}. */
    public static ResourceSet empty(NamespacedName waypoint, String trustDomain) {
        return new ResourceSet(waypoint, trustDomain, List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                List.of());
    }
}
