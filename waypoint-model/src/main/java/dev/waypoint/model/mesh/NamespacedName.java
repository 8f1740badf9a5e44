package dev.waypoint.model.mesh;

import java.util.Objects;

/** A Kubernetes object's namespace and name; renders as {@code namespace/name}. */
public record NamespacedName(String namespace, String name) {
    public NamespacedName {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
    }

    /** Parses {@code namespace/name}. */
    public static NamespacedName parse(String text) {
        int slash = text.indexOf('/');
        if (slash <= 0 || slash == text.length() - 1 || text.indexOf('/', slash + 1) >= 0) {
            throw new IllegalArgumentException("name: " + text + " (expected: namespace/name)");
        }
        return new NamespacedName(text.substring(0, slash), text.substring(slash + 1));
    }

    @Override
    public String toString() {
        return namespace + "/" + name;
    }
}
