package dev.waypoint.server;

/** Manifest text the end-to-end tests' meshes share. */
public final class E2eManifests {
    private E2eManifests() {}

    /**
     * The waypoint {@code istio-system/waypoint} (a Gateway of class {@code istio-waypoint}, HBONE on
     * 15008, routes from every namespace) and the namespace {@code apps} in ambient mode bound to it,
     * ending with a document separator: a test's own Services, Pods and policies follow.
     */
    public static final String WAYPOINT_AND_APPS = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: istio-system}
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: apps
              labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-system}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: waypoint, namespace: istio-system}
            spec:
              gatewayClassName: istio-waypoint
              listeners:
              - {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}
            ---
            """;
}
