package dev.waypoint.kube;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/**
 * How the waypoint reads the Kubernetes API ({@code waypoint run --kube}).
 *
 * @param kubeconfig a kubeconfig file, or null for the in-cluster service account (fabric8's
 *        auto-configuration)
 * @param controllerName the {@code controllerName} of the route status entries this waypoint
 *        writes; entries of any other controller (istiod's) are never touched
 * @param writeStatus whether status is written back at all
 */
public record KubeSettings(Path kubeconfig, String controllerName, boolean writeStatus) {
    /** The controller name used when none is given. */
    public static final String DEFAULT_CONTROLLER_NAME = "waypoint.dev/waypoint-controller";

    public KubeSettings {
        requireNonNull(controllerName, "controllerName");
        if (!controllerName.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+")) {
            throw new IllegalArgumentException("controllerName: " + controllerName
                    + " (expected: a domain-prefixed path such as " + DEFAULT_CONTROLLER_NAME + ")");
        }
    }

    /** In-cluster config (or {@code kubeconfig}), the default controller name, status written. */
    public static KubeSettings defaults(Path kubeconfig) {
        return new KubeSettings(kubeconfig, DEFAULT_CONTROLLER_NAME, true);
    }
}
