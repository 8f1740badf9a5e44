package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The {@code targetRef} / {@code targetRefs} of an Istio policy object (AuthorizationPolicy,
 * RequestAuthentication; later Telemetry and WasmPlugin), read the same way for every kind:
 * {@code group}, {@code kind}, {@code name}, {@code namespace}; unknown keys are errors; the list
 * holds at most 16 entries (the CRDs' {@code maxItems}); the singular and the list together are
 * warned about (the CRDs' CEL rule refuses them) and both used; a {@code namespace} other than the
 * policy's own attaches to nothing (warned); a group/kind other than Istio's four targets (Service,
 * ServiceEntry, Gateway, GatewayClass) is an error, as Istio's validation makes it.
 */
final class PolicyTargetRefs {
    private static final Set<String> FIELDS = Set.of("group", "kind", "name", "namespace");
    /** CRD {@code maxItems} of {@code targetRefs}. */
    static final int MAX = 16;

    private PolicyTargetRefs() {}

    /**
     * What {@code spec} says.
     *
     * @param refs the valid references, singular first
     * @param written whether {@code targetRef} or a non-empty {@code targetRefs} was written at all
     *        (even if every entry was invalid)
     */
    record Read(List<PolicyTargetRef> refs, boolean written) {}

    static Read read(ObjectContext ctx, JsonNode spec, String kinds) {
        List<PolicyTargetRef> refs = new ArrayList<>();
        JsonNode single = ctx.object(spec, "spec", "targetRef");
        if (single != null) {
            PolicyTargetRef r = one(ctx, single, "spec.targetRef", kinds);
            if (r != null) {
                refs.add(r);
            }
        }
        List<JsonNode> many = ctx.list(spec, "spec", "targetRefs");
        if (single != null && !many.isEmpty()) {
            // Istio's CRD refuses both; a manifest that has them still attaches through both (dropping
            // the object could widen access when it is a DENY policy)
            ctx.warning("spec.targetRef", message("targetRef", ObjectContext.render(single),
                    "only one of targetRef or targetRefs; both are used"));
        }
        if (many.size() > MAX) {
            ctx.error("spec.targetRefs", message("targetRefs", many.size() + " entries", "at most " + MAX));
        }
        for (int i = 0; i < many.size(); i++) {
            String p = index("spec.targetRefs", i);
            JsonNode n = ctx.element(many.get(i), p, "targetRefs[" + i + "]");
            PolicyTargetRef r = n == null ? null : one(ctx, n, p, kinds);
            if (r != null) {
                refs.add(r);
            }
        }
        return new Read(refs, single != null || !many.isEmpty());
    }

    private static PolicyTargetRef one(ObjectContext ctx, JsonNode n, String p, String kinds) {
        ctx.unknownKeys(n, p, FIELDS);
        String group = ctx.string(n, p, "group");
        String kind = ctx.requiredString(n, p, "kind", "a kind such as " + kinds);
        String name = ctx.requiredString(n, p, "name", "the name of the target");
        String namespace = ctx.string(n, p, "namespace");
        if (namespace != null && !namespace.isEmpty() && ctx.name() != null && !namespace.equals(ctx.name().namespace())) {
            ctx.warning(path(p, "namespace"), message("namespace", namespace,
                    "the policy's own namespace " + ctx.name().namespace() + "; this reference attaches to nothing"));
        }
        if (kind != null && !ALLOWED.contains((group == null ? "" : group) + "/" + kind)) {
            // validatePolicyTargetReference: "targetRef must be to one of [Service ServiceEntry Gateway
            // GatewayClass] but was group/kind": Istio refuses the object, so a policy is never
            // silently attached to nothing (a DENY lost without a word)
            ctx.error(path(p, "kind"), message("targetRef", (group == null ? "" : group) + "/" + kind,
                    "one of Service (group \"\"), networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway "
                            + "or gateway.networking.k8s.io/GatewayClass, as Istio's validation requires"));
            return null;
        }
        return kind == null || name == null ? null : new PolicyTargetRef(group, kind, name, namespace);
    }

    /** {@code group/kind} of the targets Istio allows ({@code allowedTargetRefs} in its validation). */
    private static final Set<String> ALLOWED = Set.of("/Service", "networking.istio.io/ServiceEntry",
            "gateway.networking.k8s.io/Gateway", "gateway.networking.k8s.io/GatewayClass");
}
