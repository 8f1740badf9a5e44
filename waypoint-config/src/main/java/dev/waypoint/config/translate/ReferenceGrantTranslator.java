package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.index;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.ArrayList;
import java.util.List;

/** {@code gateway.networking.k8s.io/v1beta1} (and {@code v1}) {@code ReferenceGrant} → {@link ReferenceGrantSpec}. */
final class ReferenceGrantTranslator {
    private ReferenceGrantTranslator() {}

    static ReferenceGrantSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.knownFields(spec, "spec", java.util.Set.of("from", "to"));
        List<ReferenceGrantSpec.From> from = new ArrayList<>();
        List<JsonNode> fs = ctx.list(spec, "spec", "from");
        for (int i = 0; i < fs.size(); i++) {
            String p = index("spec.from", i);
            JsonNode f = ctx.element(fs.get(i), p, "from[" + i + "]");
            if (f == null) {
                continue;
            }
            String group = ctx.string(f, p, "group");
            String kind = ctx.requiredString(f, p, "kind", "a kind such as HTTPRoute");
            String ns = ctx.requiredString(f, p, "namespace", "a namespace");
            if (kind != null && ns != null) {
                from.add(new ReferenceGrantSpec.From(group == null ? "" : group, kind, ns));
            }
        }
        List<ReferenceGrantSpec.To> to = new ArrayList<>();
        List<JsonNode> ts = ctx.list(spec, "spec", "to");
        for (int i = 0; i < ts.size(); i++) {
            String p = index("spec.to", i);
            JsonNode t = ctx.element(ts.get(i), p, "to[" + i + "]");
            if (t == null) {
                continue;
            }
            String group = ctx.string(t, p, "group");
            String kind = ctx.requiredString(t, p, "kind", "a kind such as Service");
            String n = ctx.string(t, p, "name");
            if (kind != null) {
                to.add(new ReferenceGrantSpec.To(group == null ? "" : group, kind, n == null || n.isEmpty() ? null : n));
            }
        }
        return new ReferenceGrantSpec(name, from, to, ctx.source());
    }
}
