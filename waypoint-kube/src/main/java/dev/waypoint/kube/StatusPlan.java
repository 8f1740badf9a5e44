package dev.waypoint.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * Decides the status this waypoint owns on each object, from the objects as the API server sent
 * them and the problems of the generation built from them. Pure: no client, no clock (times and
 * {@code observedGeneration} are added when written).
 *
 * <h2>HTTPRoute, GRPCRoute, TCPRoute, TLSRoute</h2>
 * One {@code status.parents[]} entry with our {@code controllerName} per {@code parentRefs}
 * entry that names a Service or a ServiceEntry ({@code networking.istio.io}) this waypoint serves
 * (GAMMA: the Service is the parent), echoing the parentRef as written. Conditions (Gateway API
 * {@code RouteConditionType}):
 * <ul>
 *   <li>{@code Accepted}: {@code True}/{@code Accepted}, or {@code False}/{@code UnsupportedValue}
 *       with the first error when the translator rejected the route, or {@code False}/
 *       {@code NoMatchingParent} with the compiler's warning when that parentRef attaches nowhere
 *       (no such port or sectionName; a ServiceEntry of a namespace that is neither the route's
 *       nor the waypoint's; for a TCPRoute or TLSRoute, a port declared HTTP);</li>
 *   <li>{@code ResolvedRefs}: {@code True}/{@code ResolvedRefs}, or {@code False} with
 *       {@code RefNotPermitted} (a cross-namespace backend no ReferenceGrant allows),
 *       {@code InvalidKind} (not a Service) or {@code BackendNotFound}, with the compiler's words.</li>
 * </ul>
 *
 * <h2>AuthorizationPolicy, RequestAuthentication</h2>
 * istiod writes {@code WaypointAccepted} itself, from its own view of the bindings; we never
 * touch it. We write one condition of our own type, {@code <controller domain>/WaypointAccepted}
 * (Istio's own extra types are domain-prefixed the same way: {@code istio.io/WaypointBound}),
 * with Istio's reasons (pilot/pkg/model/service.go {@code WaypointPolicyReason*}), and only on a
 * policy with a {@code targetRefs} entry that reaches this waypoint: its Gateway, the
 * {@code istio-waypoint} GatewayClass from the root namespace, or a Service or ServiceEntry bound here.
 * {@code True}/{@code Accepted} "bound to NS/NAME" when the policy is enforced, {@code False}/
 * {@code Invalid} with the first error when it was rejected.
 */
final class StatusPlan {
    static final String GATEWAY = "gateway.networking.k8s.io";
    static final String NETWORKING = "networking.istio.io";
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /**
     * Our part of one object's status.
     *
     * @param ours for a route the array of our {@code status.parents} entries (empty: none);
     *        for a policy our condition, or null for none
     */
    record Desired(String kind, String namespace, String name, JsonNode ours) {
        String key() {
            return kind + "/" + namespace + "/" + name;
        }
    }

    private StatusPlan() {}

    /** The kinds whose status is {@code parents[]} (Gateway API routes), not a condition. */
    static boolean isRoute(String kind) {
        return kind.equals("HTTPRoute") || kind.equals("GRPCRoute") || kind.equals("TCPRoute") || kind.equals("TLSRoute");
    }

    static String conditionType(String controllerName) {
        return controllerName.substring(0, controllerName.indexOf('/')) + "/WaypointAccepted";
    }

    static List<Desired> routes(Collection<WireObject> routes, Set<NamespacedName> bound, List<Diagnostics.Problem> problems,
                                String controllerName) {
        return routes(routes, bound, Set.of(), problems, controllerName);
    }

    /**
     * As {@link #routes(Collection, Set, List, String)}, with the ServiceEntries bound here: a
     * {@code networking.istio.io/ServiceEntry} parentRef naming one of them gets an entry too.
     */
    static List<Desired> routes(Collection<WireObject> routes, Set<NamespacedName> bound, Set<NamespacedName> boundEntries,
                                List<Diagnostics.Problem> problems, String controllerName) {
        return routes("HTTPRoute", routes, bound, boundEntries, problems, controllerName);
    }

    /**
     * As above for routes of {@code kind}: {@code HTTPRoute}, {@code GRPCRoute}, {@code TCPRoute} or
     * {@code TLSRoute}, whose status has the same shape ({@code RouteStatus.parents}).
     */
    static List<Desired> routes(String kind, Collection<WireObject> routes, Set<NamespacedName> bound,
                                Set<NamespacedName> boundEntries, List<Diagnostics.Problem> problems, String controllerName) {
        List<Desired> out = new ArrayList<>();
        for (WireObject o : routes) {
            NamespacedName nn = name(o.tree());
            ArrayNode parents = NODES.arrayNode();
            JsonNode refs = o.tree().path("spec").path("parentRefs");
            String error = first(problems, kind, nn, Diagnostics.Severity.ERROR, null);
            for (int p = 0; p < refs.size(); p++) {
                JsonNode ref = refs.get(p);
                String group = ref.path("group").asText(GATEWAY);
                String refKind = ref.path("kind").asText("Gateway");
                boolean service = (group.isEmpty() || group.equals("core")) && refKind.equals("Service");
                boolean serviceEntry = group.equals(NETWORKING) && refKind.equals("ServiceEntry");
                if (!service && !serviceEntry) {
                    continue;
                }
                NamespacedName svc = new NamespacedName(ref.path("namespace").asText(nn.namespace()), ref.path("name").asText(""));
                if (!(service ? bound : boundEntries).contains(svc)) {
                    continue;
                }
                // the compiler's reason this parentRef attaches nowhere (no such port, an entry of a namespace
                // that is neither the route's nor the waypoint's, an HTTP port under a TCPRoute)
                String parentProblem = exact(problems, kind, nn, "spec.parentRefs[" + p + "]");
                ObjectNode entry = parents.addObject();
                entry.set("parentRef", ref.deepCopy());
                entry.put("controllerName", controllerName);
                ArrayNode conditions = entry.putArray("conditions");
                if (error != null) {
                    conditions.add(condition("Accepted", false, "UnsupportedValue", error));
                } else if (parentProblem != null) {
                    conditions.add(condition("Accepted", false, "NoMatchingParent", parentProblem));
                } else {
                    conditions.add(condition("Accepted", true, "Accepted", "Route was valid"));
                }
                String refProblem = first(problems, kind, nn, Diagnostics.Severity.WARNING, ".backendRefs[");
                if (refProblem == null) {
                    conditions.add(condition("ResolvedRefs", true, "ResolvedRefs", "All references resolved"));
                } else {
                    String reason = refProblem.contains("ReferenceGrant") ? "RefNotPermitted"
                            // "<field>: backendRef kind K is not supported": the compilers' words for an unsupported kind
                            : refProblem.contains("backendRef kind ") || refProblem.startsWith("kind")
                            || refProblem.startsWith("group") ? "InvalidKind" : "BackendNotFound";
                    conditions.add(condition("ResolvedRefs", false, reason, refProblem));
                }
            }
            if (!parents.isEmpty()) {
                out.add(new Desired(kind, nn.namespace(), nn.name(), parents));
            }
        }
        return out;
    }

    static List<Desired> policies(String kind, Collection<WireObject> policies, Set<NamespacedName> bound,
                                  Set<NamespacedName> boundEntries, NamespacedName waypoint, String rootNamespace, List<Diagnostics.Problem> problems,
                                  String controllerName) {
        List<Desired> out = new ArrayList<>();
        for (WireObject o : policies) {
            NamespacedName nn = name(o.tree());
            List<JsonNode> refs = new ArrayList<>();
            o.tree().path("spec").path("targetRefs").forEach(refs::add);
            if (o.tree().path("spec").has("targetRef")) {
                refs.add(o.tree().path("spec").path("targetRef"));
            }
            boolean ours = false;
            for (JsonNode r : refs) {
                PolicyTargetRef ref = new PolicyTargetRef(r.path("group").asText(""), r.path("kind").asText(""),
                        r.path("name").asText(""), r.hasNonNull("namespace") ? r.get("namespace").asText() : null);
                switch (ref.scope(nn.namespace(), waypoint.namespace(), waypoint.name(), rootNamespace)) {
                    case GATEWAY, GATEWAY_CLASS -> ours = true;
                    case SERVICE -> ours |= bound.contains(new NamespacedName(nn.namespace(), ref.name()));
                    case SERVICE_ENTRY -> ours |= boundEntries.contains(new NamespacedName(nn.namespace(), ref.name()));
                    case NONE -> { }
                }
            }
            if (!ours) {
                continue;
            }
            String error = first(problems, kind, nn, Diagnostics.Severity.ERROR, null);
            ObjectNode c = error == null ? condition(conditionType(controllerName), true, "Accepted", "bound to " + waypoint)
                    : condition(conditionType(controllerName), false, "Invalid", error);
            out.add(new Desired(kind, nn.namespace(), nn.name(), c));
        }
        return out;
    }

    private static ObjectNode condition(String type, boolean status, String reason, String message) {
        ObjectNode c = NODES.objectNode();
        c.put("type", type);
        c.put("status", status ? "True" : "False");
        c.put("reason", reason);
        c.put("message", message);
        return c;
    }

    private static String first(List<Diagnostics.Problem> problems, String kind, NamespacedName name,
                                Diagnostics.Severity severity, String fieldContains) {
        for (Diagnostics.Problem p : problems) {
            if (p.severity() == severity && kind.equals(p.kind()) && name.equals(p.name())
                    && (fieldContains == null || (p.field() != null && p.field().contains(fieldContains)))) {
                return p.field() == null || p.field().equals("-") ? p.message() : p.field() + ": " + p.message();
            }
        }
        return null;
    }

    /** The first warning of {@code name} on exactly {@code field}, rendered as {@link #first} does, or null. */
    private static String exact(List<Diagnostics.Problem> problems, String kind, NamespacedName name, String field) {
        for (Diagnostics.Problem p : problems) {
            if (p.severity() == Diagnostics.Severity.WARNING && kind.equals(p.kind()) && name.equals(p.name()) && field.equals(p.field())) {
                return p.field() + ": " + p.message();
            }
        }
        return null;
    }

    private static NamespacedName name(JsonNode tree) {
        JsonNode m = tree.path("metadata");
        return new NamespacedName(m.path("namespace").asText("default"), m.path("name").asText(""));
    }
}
