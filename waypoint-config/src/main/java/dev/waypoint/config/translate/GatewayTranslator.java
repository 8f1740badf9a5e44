package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.isLabelKey;
import static dev.waypoint.config.translate.ObjectContext.isLabelValue;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;
import static dev.waypoint.config.translate.ObjectContext.renderJson;
import static dev.waypoint.config.translate.ObjectContext.stringExpected;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.LabelSelector;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code gateway.networking.k8s.io/v1} (and {@code v1beta1}) {@code Gateway} → {@link GatewaySpec}. */
final class GatewayTranslator {
    private static final Set<String> SELECTOR_FIELDS = Set.of("matchLabels", "matchExpressions");
    private static final Set<String> EXPRESSION_FIELDS = Set.of("key", "operator", "values");
    private static final String OPERATORS = "In, NotIn, Exists or DoesNotExist";
    private static final String LABEL_KEY = "a label key: an optional DNS subdomain prefix and /, then 1-63 "
            + "characters [A-Za-z0-9_.-] starting and ending alphanumeric";
    private static final String LABEL_VALUE = "a label value: at most 63 characters [A-Za-z0-9_.-] starting and "
            + "ending alphanumeric, or empty";

    private GatewayTranslator() {}

    static GatewaySpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name, Map<String, String> labels) {
        JsonNode spec = ctx.object(tree, "", "spec");
        String className = ctx.requiredString(spec, "spec", "gatewayClassName", "a GatewayClass name such as istio-waypoint");

        List<GatewaySpec.Listener> listeners = new ArrayList<>();
        JsonNode chosen = null;
        String chosenPath = null;
        boolean chosenIsHbone = false;
        List<JsonNode> ls = ctx.list(spec, "spec", "listeners");
        for (int i = 0; i < ls.size(); i++) {
            String p = index("spec.listeners", i);
            JsonNode l = ctx.element(ls.get(i), p, "listeners[" + i + "]");
            if (l == null) {
                continue;
            }
            String listenerName = ctx.requiredString(l, p, "name", "a listener name");
            int port = ctx.port(l, p, "port");
            String protocol = ctx.requiredString(l, p, "protocol", "a protocol such as HBONE");
            listeners.add(new GatewaySpec.Listener(listenerName == null ? "" : listenerName, port,
                    protocol == null ? "" : protocol));
            // a waypoint has one HBONE listener; its allowedRoutes decide which namespaces may bind
            if (chosen == null || ("HBONE".equals(protocol) && !chosenIsHbone)) {
                chosen = l;
                chosenPath = p;
                chosenIsHbone = "HBONE".equals(protocol);
            }
        }

        String from = "Same";
        LabelSelector selector = LabelSelector.EVERYTHING;
        if (chosen != null) {
            String ap = path(chosenPath, "allowedRoutes");
            String np = path(ap, "namespaces");
            JsonNode namespaces = ctx.object(ctx.object(chosen, chosenPath, "allowedRoutes"), ap, "namespaces");
            // Gateway API: "From indicates where Routes will be selected for this Gateway" (default Same)
            String f = ctx.string(namespaces, np, "from");
            if (f != null) {
                switch (f) {
                    case "All", "Same", "Selector" -> from = f;
                    default -> ctx.error(path(np, "from"), message("from", f, "All, Same or Selector"));
                }
            }
            if (from.equals("Selector")) {
                selector = selector(ctx, namespaces, np);
            }
        }
        return new GatewaySpec(name, className == null ? "" : className, labels, listeners, from, selector,
                ctx.source());
    }

    /**
     * {@code selector}, a {@code metav1.LabelSelector}: "Selector must be specified when From is set
     * to type Selector". Istio evaluates it with {@code metav1.LabelSelectorAsSelector}
     * (pilot/pkg/serviceregistry/ambient/waypoints.go {@code makeWaypointSelector}), so what that
     * refuses is an error here: a label key or value Kubernetes would not accept, an unknown
     * operator, {@code In}/{@code NotIn} without values, {@code Exists}/{@code DoesNotExist} with
     * values. An unknown field is an error too: dropping it would select more namespaces than asked.
     */
    private static LabelSelector selector(ObjectContext ctx, JsonNode namespaces, String np) {
        String sp = path(np, "selector");
        JsonNode selector = ctx.object(namespaces, np, "selector");
        if (selector == null) {
            ctx.error(sp, message("selector", "missing", "a label selector when from is Selector"));
            return LabelSelector.EVERYTHING;
        }
        ctx.knownFields(selector, sp, SELECTOR_FIELDS);
        Map<String, String> matchLabels = ctx.stringMap(selector, sp, "matchLabels");
        String lp = path(sp, "matchLabels");
        matchLabels.forEach((k, v) -> {
            if (!isLabelKey(k)) {
                ctx.error(path(lp, k), message("matchLabels", k, LABEL_KEY));
            } else if (!isLabelValue(v)) {
                ctx.error(path(lp, k), message(k, v, LABEL_VALUE));
            }
        });
        List<LabelSelector.Requirement> requirements = new ArrayList<>();
        String ep = path(sp, "matchExpressions");
        List<JsonNode> expressions = ctx.list(selector, sp, "matchExpressions");
        for (int i = 0; i < expressions.size(); i++) {
            LabelSelector.Requirement r = requirement(ctx, expressions.get(i), index(ep, i), i);
            if (r != null) {
                requirements.add(r);
            }
        }
        return new LabelSelector(matchLabels, requirements);
    }

    /** One {@code matchExpressions[i]}; null when bad (reported). */
    private static LabelSelector.Requirement requirement(ObjectContext ctx, JsonNode node, String p, int i) {
        JsonNode e = ctx.element(node, p, "matchExpressions[" + i + "]");
        if (e == null) {
            return null;
        }
        ctx.knownFields(e, p, EXPRESSION_FIELDS);
        boolean ok = true;
        String key = ctx.requiredString(e, p, "key", LABEL_KEY);
        if (key != null && !isLabelKey(key)) {
            ctx.error(path(p, "key"), message("key", key, LABEL_KEY));
            ok = false;
        }
        String op = ctx.requiredString(e, p, "operator", OPERATORS);
        LabelSelector.Operator operator = op == null ? null : LabelSelector.Operator.ofApiName(op);
        if (op != null && operator == null) {
            ctx.error(path(p, "operator"), message("operator", op, OPERATORS));
        }
        List<String> values = new ArrayList<>();
        String vp = path(p, "values");
        List<JsonNode> nodes = ctx.list(e, p, "values");
        for (int j = 0; j < nodes.size(); j++) {
            JsonNode v = nodes.get(j);
            if (!v.isTextual() || !isLabelValue(v.textValue())) {
                ctx.error(index(vp, j), message("values[" + j + "]", renderJson(v), stringExpected(v, LABEL_VALUE)));
                ok = false;
            } else {
                values.add(v.textValue());
            }
        }
        if (operator != null && operator.takesValues() && nodes.isEmpty()) {
            // labels.NewRequirement: "for 'in', 'notin' operators, values set can't be empty"
            JsonNode written = child(e, "values");
            ctx.error(vp, message("values", written == null ? "missing" : render(written),
                    "one or more label values for " + op));
            ok = false;
        } else if (operator != null && !operator.takesValues() && !nodes.isEmpty()) {
            // labels.NewRequirement: "values set must be empty for exists and does not exist"
            ctx.error(vp, message("values", render(child(e, "values")), "no values for " + op));
            ok = false;
        }
        return ok && key != null && operator != null ? new LabelSelector.Requirement(key, operator, values) : null;
    }
}
