package dev.waypoint.model;

import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.L4RouteSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.OtherResource;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import dev.waypoint.model.traffic.TlsSecretSpec;
import java.util.List;
import java.util.Objects;

/**
 * One generation of validated resources: the input of every {@link PartCompiler}. Rejected
 * resources are not in here (they are in the {@link Diagnostics}).
 *
 * @param waypoint which Gateway this process is ({@code --gateway})
 * @param trustDomain the mesh trust domain ({@code cluster.local})
 * @param httpRoutes {@code HTTPRoute}s and {@code GRPCRoute}s ({@link HttpRouteSpec#kind}), in input order
 * @param referenceGrants {@code ReferenceGrant}s, in input order
 * @param requestAuthentications every RequestAuthentication, attached or not (the compiler decides)
 * @param authorizationPolicies every valid AuthorizationPolicy, attached or not (the authz compiler decides)
 * @param meshConfig Istio's MeshConfig ({@code --mesh-config}, or the root namespace's {@code istio}
 *        ConfigMap), {@link MeshConfigSpec#DEFAULT} when there is none
 * @param serviceEntries {@code ServiceEntry}s, in input order
 * @param workloadEntries {@code WorkloadEntry}s, in input order
 * @param l4Routes {@code TCPRoute}s and {@code TLSRoute}s, in input order
 * @param wasmPlugins every valid WasmPlugin and wasm TrafficExtension, attached or not (the wasm compiler decides)
 * @param destinationRules every valid DestinationRule, in input order (the lb compiler resolves hosts)
 * @param localRateLimits the local rate limits of valid EnvoyFilters, attached or not (the compiler decides)
 * @param telemetries every valid Telemetry, attached or not (the telemetry compiler decides), in input order
 * @param tlsSecrets every Secret holding TLS material, in any namespace (the lb compiler reads those of the
 *        waypoint's namespace that a DestinationRule's {@code credentialName} names, as Istio does for a gateway)
 */
public record ResourceSet(NamespacedName waypoint, String trustDomain, List<NamespaceSpec> namespaces,
                          List<ServiceSpec> services, List<PodSpec> pods, List<EndpointSliceSpec> endpointSlices,
                          List<GatewaySpec> gateways, List<HttpRouteSpec> httpRoutes,
                          List<ReferenceGrantSpec> referenceGrants, List<RequestAuthenticationSpec> requestAuthentications,
                          List<AuthorizationPolicySpec> authorizationPolicies,
                          List<OtherResource> others, MeshConfigSpec meshConfig,
                          List<ServiceEntrySpec> serviceEntries, List<WorkloadEntrySpec> workloadEntries,
                          List<L4RouteSpec> l4Routes, List<WasmPluginSpec> wasmPlugins,
                          List<DestinationRuleSpec> destinationRules, List<LocalRateLimitSpec> localRateLimits,
                          List<TelemetrySpec> telemetries, List<TlsSecretSpec> tlsSecrets) {
    public ResourceSet {
        Objects.requireNonNull(meshConfig, "meshConfig");
        Objects.requireNonNull(waypoint, "waypoint");
        Objects.requireNonNull(trustDomain, "trustDomain");
        namespaces = List.copyOf(namespaces);
        services = List.copyOf(services);
        pods = List.copyOf(pods);
        endpointSlices = List.copyOf(endpointSlices);
        gateways = List.copyOf(gateways);
        httpRoutes = List.copyOf(httpRoutes);
        referenceGrants = List.copyOf(referenceGrants);
        requestAuthentications = List.copyOf(requestAuthentications);
        authorizationPolicies = List.copyOf(authorizationPolicies);
        others = List.copyOf(others);
        serviceEntries = List.copyOf(serviceEntries);
        workloadEntries = List.copyOf(workloadEntries);
        l4Routes = List.copyOf(l4Routes);
        wasmPlugins = List.copyOf(wasmPlugins);
        destinationRules = List.copyOf(destinationRules);
        localRateLimits = List.copyOf(localRateLimits);
        telemetries = List.copyOf(telemetries);
        tlsSecrets = List.copyOf(tlsSecrets);
    }

    /** A set of the first twelve kinds only: no mesh config ({@link MeshConfigSpec#DEFAULT}), every later kind empty. */
    public ResourceSet(NamespacedName waypoint, String trustDomain, List<NamespaceSpec> namespaces,
                       List<ServiceSpec> services, List<PodSpec> pods, List<EndpointSliceSpec> endpointSlices,
                       List<GatewaySpec> gateways, List<HttpRouteSpec> httpRoutes,
                       List<ReferenceGrantSpec> referenceGrants, List<RequestAuthenticationSpec> requestAuthentications,
                       List<AuthorizationPolicySpec> authorizationPolicies, List<OtherResource> others) {
        this(waypoint, trustDomain, namespaces, services, pods, endpointSlices, gateways, httpRoutes, referenceGrants,
                requestAuthentications, authorizationPolicies, others, MeshConfigSpec.DEFAULT, List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of(), List.of(), List.of());
    }

    /** An empty set for {@code waypoint}. */
    public static ResourceSet empty(NamespacedName waypoint, String trustDomain) {
        return new ResourceSet(waypoint, trustDomain, List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of(), List.of(), List.of());
    }

    /**
     * A builder starting from an empty set: name only the kinds you have. Prefer it to the
     * canonical constructor wherever a set is made by hand (tests, benchmarks): every new kind of
     * resource adds a component, and the builder keeps such call sites unchanged.
     */
    public static Builder builder(NamespacedName waypoint, String trustDomain) {
        return new Builder(empty(waypoint, trustDomain));
    }

    /** A builder starting from this set. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Builds a {@link ResourceSet} kind by kind. Not thread-safe. */
    public static final class Builder {
        private NamespacedName waypoint;
        private String trustDomain;
        private List<NamespaceSpec> namespaces;
        private List<ServiceSpec> services;
        private List<PodSpec> pods;
        private List<EndpointSliceSpec> endpointSlices;
        private List<GatewaySpec> gateways;
        private List<HttpRouteSpec> httpRoutes;
        private List<ReferenceGrantSpec> referenceGrants;
        private List<RequestAuthenticationSpec> requestAuthentications;
        private List<AuthorizationPolicySpec> authorizationPolicies;
        private List<OtherResource> others;
        private MeshConfigSpec meshConfig;
        private List<ServiceEntrySpec> serviceEntries;
        private List<WorkloadEntrySpec> workloadEntries;
        private List<L4RouteSpec> l4Routes;
        private List<WasmPluginSpec> wasmPlugins;
        private List<DestinationRuleSpec> destinationRules;
        private List<LocalRateLimitSpec> localRateLimits;
        private List<TelemetrySpec> telemetries;
        private List<TlsSecretSpec> tlsSecrets;

        private Builder(ResourceSet from) {
            waypoint = from.waypoint;
            trustDomain = from.trustDomain;
            namespaces = from.namespaces;
            services = from.services;
            pods = from.pods;
            endpointSlices = from.endpointSlices;
            gateways = from.gateways;
            httpRoutes = from.httpRoutes;
            referenceGrants = from.referenceGrants;
            requestAuthentications = from.requestAuthentications;
            authorizationPolicies = from.authorizationPolicies;
            others = from.others;
            meshConfig = from.meshConfig;
            serviceEntries = from.serviceEntries;
            workloadEntries = from.workloadEntries;
            l4Routes = from.l4Routes;
            wasmPlugins = from.wasmPlugins;
            destinationRules = from.destinationRules;
            localRateLimits = from.localRateLimits;
            telemetries = from.telemetries;
            tlsSecrets = from.tlsSecrets;
        }

        public Builder namespaces(List<NamespaceSpec> v) {
            namespaces = v;
            return this;
        }

        public Builder services(List<ServiceSpec> v) {
            services = v;
            return this;
        }

        public Builder pods(List<PodSpec> v) {
            pods = v;
            return this;
        }

        public Builder endpointSlices(List<EndpointSliceSpec> v) {
            endpointSlices = v;
            return this;
        }

        public Builder gateways(List<GatewaySpec> v) {
            gateways = v;
            return this;
        }

        public Builder httpRoutes(List<HttpRouteSpec> v) {
            httpRoutes = v;
            return this;
        }

        public Builder referenceGrants(List<ReferenceGrantSpec> v) {
            referenceGrants = v;
            return this;
        }

        public Builder requestAuthentications(List<RequestAuthenticationSpec> v) {
            requestAuthentications = v;
            return this;
        }

        public Builder authorizationPolicies(List<AuthorizationPolicySpec> v) {
            authorizationPolicies = v;
            return this;
        }

        public Builder others(List<OtherResource> v) {
            others = v;
            return this;
        }

        public Builder meshConfig(MeshConfigSpec v) {
            meshConfig = v;
            return this;
        }

        public Builder serviceEntries(List<ServiceEntrySpec> v) {
            serviceEntries = v;
            return this;
        }

        public Builder workloadEntries(List<WorkloadEntrySpec> v) {
            workloadEntries = v;
            return this;
        }

        public Builder l4Routes(List<L4RouteSpec> v) {
            l4Routes = v;
            return this;
        }

        public Builder wasmPlugins(List<WasmPluginSpec> v) {
            wasmPlugins = v;
            return this;
        }

        public Builder destinationRules(List<DestinationRuleSpec> v) {
            destinationRules = v;
            return this;
        }

        public Builder localRateLimits(List<LocalRateLimitSpec> v) {
            localRateLimits = v;
            return this;
        }

        public Builder telemetries(List<TelemetrySpec> v) {
            telemetries = v;
            return this;
        }

        public Builder tlsSecrets(List<TlsSecretSpec> v) {
            tlsSecrets = v;
            return this;
        }

        public ResourceSet build() {
            return new ResourceSet(waypoint, trustDomain, namespaces, services, pods, endpointSlices, gateways, httpRoutes,
                    referenceGrants, requestAuthentications, authorizationPolicies, others, meshConfig, serviceEntries,
                    workloadEntries, l4Routes, wasmPlugins, destinationRules, localRateLimits, telemetries, tlsSecrets);
        }
    }
}
