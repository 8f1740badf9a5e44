package dev.waypoint.kube;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * One kind the waypoint watches through the Kubernetes API.
 *
 * @param group API group ({@code ""} for the core group)
 * @param versions the versions to watch, preferred first; for a custom resource the first one its
 *        CRD serves is watched (or the CRD's storage version when it serves none of them)
 * @param kind {@code HTTPRoute}
 * @param plural {@code httproutes}
 * @param namespaced whether objects live in namespaces
 * @param custom whether the kind comes from a CustomResourceDefinition (watched only while the CRD
 *        exists) rather than being built into every API server
 * @param namespace watch only this namespace (null: all namespaces)
 * @param name watch only the object of this name (null: every object)
 * @param fieldSelector watch only the objects this one {@code field=value} selector matches, sent to
 *        the API server as {@code fieldSelector} and checked again on each object received (null:
 *        every object); only {@code type} is checked locally
 */
public record WatchedKind(String group, List<String> versions, String kind, String plural, boolean namespaced,
                          boolean custom, String namespace, String name, String fieldSelector) {
    public WatchedKind {
        requireNonNull(group, "group");
        versions = List.copyOf(versions);
        if (versions.isEmpty()) {
            throw new IllegalArgumentException("versions: [] (expected: at least one)");
        }
        requireNonNull(kind, "kind");
        requireNonNull(plural, "plural");
        if (fieldSelector != null && fieldSelector.indexOf('=') <= 0) {
            throw new IllegalArgumentException("fieldSelector: " + fieldSelector + " (expected: field=value)");
        }
    }

    /** Without a field selector. */
    public WatchedKind(String group, List<String> versions, String kind, String plural, boolean namespaced,
                       boolean custom, String namespace, String name) {
        this(group, versions, kind, plural, namespaced, custom, namespace, name, null);
    }

    /** Core {@code v1} Secrets of one {@code type} only, in every namespace (registry credentials). */
    static WatchedKind secretsOfType(String type) {
        return new WatchedKind("", List.of("v1"), "Secret", "secrets", true, false, null, null, "type=" + type);
    }

    /**
     * Core {@code v1} Secrets of one {@code type} only, in {@code namespace} only (the TLS material
     * a DestinationRule's {@code credentialName} names, read in the waypoint's own namespace).
     */
    static WatchedKind secretsOfType(String type, String namespace) {
        requireNonNull(namespace, "namespace");
        return new WatchedKind("", List.of("v1"), "Secret", "secrets", true, false, namespace, null, "type=" + type);
    }

    /** The selector's field ({@code type}), or null. */
    String selectorField() {
        return fieldSelector == null ? null : fieldSelector.substring(0, fieldSelector.indexOf('='));
    }

    /** The selector's value ({@code kubernetes.io/dockerconfigjson}), or null. */
    String selectorValue() {
        return fieldSelector == null ? null : fieldSelector.substring(fieldSelector.indexOf('=') + 1);
    }

    /**
     * Whether a 401/403 on this kind means "not readable" (one warning, ready without it, tried
     * again later) rather than an outage: Secrets, which the chart grants only when asked to.
     */
    boolean mayBeForbidden() {
        return group.isEmpty() && kind.equals("Secret");
    }

    /** A built-in kind watched in every namespace. */
    static WatchedKind builtIn(String group, String version, String kind, String plural, boolean namespaced) {
        return new WatchedKind(group, List.of(version), kind, plural, namespaced, false, null, null);
    }

    /** A namespaced custom resource watched in every namespace. */
    static WatchedKind custom(String group, String kind, String plural, String... versions) {
        return new WatchedKind(group, List.of(versions), kind, plural, true, true, null, null);
    }

    /** The name of the CustomResourceDefinition that defines this kind: {@code httproutes.gateway.networking.k8s.io}. */
    public String crdName() {
        return plural + "." + group;
    }

    /** {@code v1} or {@code gateway.networking.k8s.io/v1}. */
    String apiVersion(String version) {
        return group.isEmpty() ? version : group + "/" + version;
    }

    @Override
    public String toString() {
        String k = group.isEmpty() ? kind : kind + "." + group;
        String scope = namespace == null || name != null ? "" : " in " + namespace;
        return fieldSelector == null ? k : k + "(" + fieldSelector + scope + ")";
    }
}
