package dev.waypoint.config.translate;

import java.util.Objects;

/**
 * The identity of a Kubernetes object: API group, kind, namespace and name. The version is not
 * part of it, so a {@code v1beta1} and a {@code v1} Gateway of the same name are the same object,
 * as the API server sees them.
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}.
 *
 * @param group API group, empty for the core group
 * @param namespace the namespace, empty for cluster-scoped kinds
 */
public record ResourceKey(String group, String kind, String namespace, String name) {
    public ResourceKey {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
    }

    @Override
    public String toString() {
        String k = group.isEmpty() ? kind : kind + "." + group;
        return namespace.isEmpty() ? k + " " + name : k + " " + namespace + "/" + name;
    }
}
