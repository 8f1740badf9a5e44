package dev.waypoint.kube;

import java.util.List;

/** The kinds the waypoint reads, the same set the directory mode reads. */
public final class WatchedKinds {
    static final String GATEWAY = "gateway.networking.k8s.io";
    static final String SECURITY = "security.istio.io";
    static final String NETWORKING = "networking.istio.io";

    private WatchedKinds() {}

    /** The Secret types that hold registry credentials (read for WasmPlugin {@code imagePullSecret}). */
    static final String DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson";
    static final String DOCKERCFG = "kubernetes.io/dockercfg";
    /** The Secret types that hold TLS material (read for DestinationRule {@code credentialName}). */
    static final String OPAQUE = "Opaque";
    static final String TLS = "kubernetes.io/tls";

    /**
     * Every kind a translator in {@code waypoint-config} reads, plus the ones the issue lists that
     * have no translator yet (they arrive as the translator's generic "other" resource until one
     * exists), plus the mesh config: the {@code istio} ConfigMap of {@code rootNamespace}, plus the
     * registry Secrets (two watches, each with a {@code type} field selector), plus the Opaque and
     * TLS Secrets of the waypoint's own namespace (two more, for {@code credentialName}); no other
     * Secret is ever listed.
     * Custom resources are watched only while their CRD exists.
     */
    public static List<WatchedKind> forWaypoint(String rootNamespace, String waypointNamespace) {
        return List.of(
                WatchedKind.builtIn("", "v1", "Namespace", "namespaces", false),
                WatchedKind.builtIn("", "v1", "Service", "services", true),
                WatchedKind.builtIn("", "v1", "Pod", "pods", true),
                WatchedKind.builtIn("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
                // Istio's mesh config: the "mesh" key of the istio ConfigMap in the root namespace
                new WatchedKind("", List.of("v1"), "ConfigMap", "configmaps", true, false, rootNamespace, "istio"),
                WatchedKind.secretsOfType(DOCKERCONFIGJSON),
                WatchedKind.secretsOfType(DOCKERCFG),
                WatchedKind.secretsOfType(OPAQUE, waypointNamespace),
                WatchedKind.secretsOfType(TLS, waypointNamespace),
                WatchedKind.custom(GATEWAY, "Gateway", "gateways", "v1", "v1beta1"),
                WatchedKind.custom(GATEWAY, "HTTPRoute", "httproutes", "v1", "v1beta1"),
                WatchedKind.custom(GATEWAY, "GRPCRoute", "grpcroutes", "v1", "v1alpha2"),
                WatchedKind.custom(GATEWAY, "TCPRoute", "tcproutes", "v1alpha2"),
                WatchedKind.custom(GATEWAY, "TLSRoute", "tlsroutes", "v1alpha2", "v1alpha3"),
                WatchedKind.custom(GATEWAY, "ReferenceGrant", "referencegrants", "v1beta1", "v1"),
                WatchedKind.custom(SECURITY, "AuthorizationPolicy", "authorizationpolicies", "v1", "v1beta1"),
                WatchedKind.custom(SECURITY, "RequestAuthentication", "requestauthentications", "v1", "v1beta1"),
                WatchedKind.custom(NETWORKING, "ServiceEntry", "serviceentries", "v1", "v1beta1"),
                WatchedKind.custom(NETWORKING, "WorkloadEntry", "workloadentries", "v1", "v1beta1"),
                WatchedKind.custom(NETWORKING, "DestinationRule", "destinationrules", "v1", "v1beta1"),
                // the local rate limit of Istio's "Enabling Rate Limits using Envoy" page
                WatchedKind.custom(NETWORKING, "EnvoyFilter", "envoyfilters", "v1alpha3"),
                WatchedKind.custom("telemetry.istio.io", "Telemetry", "telemetries", "v1", "v1alpha1"),
                WatchedKind.custom("extensions.istio.io", "WasmPlugin", "wasmplugins", "v1alpha1"),
                WatchedKind.custom("extensions.istio.io", "TrafficExtension", "trafficextensions", "v1alpha1"));
    }
}
