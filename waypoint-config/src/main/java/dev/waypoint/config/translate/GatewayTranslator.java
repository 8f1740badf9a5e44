package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code gateway.networking.k8s.io/v1} (and {@code v1beta1}) {@code Gateway} → {@link GatewaySpec}. */
final class GatewayTranslator {
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
        Map<String, String> selector = Map.of();
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

    /** {@code selector.matchLabels}; "Selector must be specified when From is set to type Selector". */
    private static Map<String, String> selector(ObjectContext ctx, JsonNode namespaces, String np) {
        String sp = path(np, "selector");
        JsonNode selector = ctx.object(namespaces, np, "selector");
        if (selector == null) {
            ctx.error(sp, message("selector", "missing", "a label selector when from is Selector"));
            return Map.of();
        }
        JsonNode expressions = child(selector, "matchExpressions");
        if (expressions != null) {
            // dropping them would select more namespaces than the user asked for
            ctx.error(path(sp, "matchExpressions"), message("matchExpressions", render(expressions),
                    "matchLabels only; matchExpressions is not supported"));
        }
        return ctx.stringMap(selector, sp, "matchLabels");
    }
}
