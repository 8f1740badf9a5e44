package dev.waypoint.model.gateway;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.List;
import java.util.Objects;

/**
 * A validated {@code gateway.networking.k8s.io/v1beta1} {@code ReferenceGrant}: lets objects of
 * the {@code from} kinds in the {@code from} namespaces refer to the {@code to} objects in the
 * grant's own namespace.
 */
public record ReferenceGrantSpec(NamespacedName name, List<From> from, List<To> to, SourceRef source) {
    public ReferenceGrantSpec {
        Objects.requireNonNull(name, "name");
        from = List.copyOf(from);
        to = List.copyOf(to);
    }

    /** One {@code spec.from[]}. */
    public record From(String group, String kind, String namespace) {}

    /** One {@code spec.to[]}: {@code name} null for every object of the kind. */
    public record To(String group, String kind, String name) {}

    /**
     * Whether an object of {@code fromGroup/fromKind} in {@code fromNamespace} may refer to the
     * object {@code toGroup/toKind} named {@code toName} in this grant's namespace.
     */
    public boolean allows(String fromGroup, String fromKind, String fromNamespace, String toGroup, String toKind,
                          String toName) {
        boolean fromOk = from.stream().anyMatch(f -> f.group().equals(fromGroup) && f.kind().equals(fromKind)
                && f.namespace().equals(fromNamespace));
        boolean toOk = to.stream().anyMatch(t -> core(t.group()).equals(core(toGroup)) && t.kind().equals(toKind)
                && (t.name() == null || t.name().equals(toName)));
        return fromOk && toOk;
    }

    private static String core(String group) {
        return group.equals("core") ? "" : group;
    }
}
