package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.L4RouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code gateway.networking.k8s.io/v1alpha2} and {@code v1} {@code TCPRoute} and {@code TLSRoute} (and
 * {@code v1alpha3} TLSRoute) → {@link L4RouteSpec}, with the CRD's limits: 1-16 rules (v1: exactly
 * one), 1-16 backendRefs per rule, TLSRoute {@code hostnames} RFC 1123 names with an optional leading
 * {@code *.} label (no IPs: "IPs are not allowed in SNI hostnames per RFC 6066"), at most 16
 * (v1alpha3 and v1: at least one). Defaults as for HTTPRoute: parent group
 * {@code gateway.networking.k8s.io} kind {@code Gateway}, backend kind {@code Service}, weight 1,
 * namespaces the route's own.
 */
final class L4RouteTranslator {
    private static final Set<String> SPEC = Set.of("parentRefs", "hostnames", "rules", "useDefaultGateways");
    private static final Set<String> PARENT = Set.of("group", "kind", "namespace", "name", "port", "sectionName");
    private static final Set<String> RULE = Set.of("name", "backendRefs");
    private static final Set<String> BACKEND = Set.of("group", "kind", "namespace", "name", "port", "weight");
    private static final Pattern HOSTNAME = Pattern.compile(
            "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
    private static final Pattern IPV4 = Pattern.compile("^[0-9.]+$");

    private L4RouteTranslator() {}

    /**
     * @param version the apiVersion's version: TLSRoute {@code v1alpha3} and {@code v1} require
     *        {@code hostnames}; {@code v1} of both kinds allows one rule (the CRDs' {@code maxItems})
     */
    static L4RouteSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name, L4RouteSpec.Kind kind,
                                 String version) {
        boolean hostnamesRequired = version.equals("v1alpha3") || version.equals("v1");
        int maxRules = version.equals("v1") ? 1 : 16;
        Instant created = null;
        JsonNode ts = child(child(tree, "metadata"), "creationTimestamp");
        if (ts != null) {
            try {
                created = Instant.parse(ts.asText());
            } catch (DateTimeParseException e) {
                ctx.error("metadata.creationTimestamp", message("creationTimestamp", ts.asText(), "an RFC 3339 time"));
            }
        }
        JsonNode spec = ctx.object(tree, "", "spec");
        if (spec == null) {
            ctx.error("spec", message("spec", "missing", "an object with rules"));
            return null;
        }
        ctx.knownFields(spec, "spec", kind == L4RouteSpec.Kind.TLS ? SPEC : Set.of("parentRefs", "rules", "useDefaultGateways"));
        List<ParentRefSpec> parents = new ArrayList<>();
        List<JsonNode> ps = ctx.list(spec, "spec", "parentRefs");
        for (int i = 0; i < ps.size(); i++) {
            String p = index("spec.parentRefs", i);
            JsonNode n = ctx.element(ps.get(i), p, "parentRefs[" + i + "]");
            if (n == null) {
                continue;
            }
            ctx.knownFields(n, p, PARENT);
            String group = orDefault(ctx.string(n, p, "group"), "gateway.networking.k8s.io");
            String parentKind = orDefault(ctx.string(n, p, "kind"), "Gateway");
            String ns = orDefault(ctx.string(n, p, "namespace"), name.namespace());
            String parent = ctx.requiredString(n, p, "name", "the parent's name");
            int port = child(n, "port") == null ? 0 : ctx.port(n, p, "port");
            String section = ctx.string(n, p, "sectionName");
            if (parent != null) {
                parents.add(new ParentRefSpec(group, parentKind, ns, parent, port, section));
            }
        }
        List<String> hostnames = new ArrayList<>();
        if (kind == L4RouteSpec.Kind.TLS) {
            List<String> hs = ctx.stringList(spec, "spec", "hostnames");
            if (hs.size() > 16) {
                ctx.error("spec.hostnames", message("hostnames", hs.size() + " entries", "at most 16"));
            }
            if (hostnamesRequired && hs.isEmpty()) {
                ctx.error("spec.hostnames", message("hostnames", "missing", "1-16 SNI host names"));
            }
            for (int i = 0; i < hs.size(); i++) {
                String h = hs.get(i).toLowerCase(Locale.ROOT);
                if (IPV4.matcher(h).matches() || h.contains(":") || !HOSTNAME.matcher(h).matches() || h.length() > 253) {
                    ctx.error(index("spec.hostnames", i), message("hostnames[" + i + "]", hs.get(i),
                            "a DNS name, optionally with a leading '*.' label; not an IP"));
                } else {
                    hostnames.add(h);
                }
            }
        }
        List<L4RouteSpec.Rule> rules = new ArrayList<>();
        List<JsonNode> rs = ctx.list(spec, "spec", "rules");
        if (rs.isEmpty() || rs.size() > maxRules) {
            ctx.error("spec.rules", message("rules", rs.isEmpty() ? "missing" : rs.size() + " entries",
                    maxRules == 1 ? "exactly 1 rule in " + version : "1-16 rules"));
        }
        for (int i = 0; i < rs.size(); i++) {
            String p = index("spec.rules", i);
            JsonNode n = ctx.element(rs.get(i), p, "rules[" + i + "]");
            if (n == null) {
                continue;
            }
            ctx.knownFields(n, p, RULE);
            String ruleName = ctx.string(n, p, "name");
            List<BackendRefSpec> backends = new ArrayList<>();
            List<JsonNode> bs = ctx.list(n, p, "backendRefs");
            if (bs.isEmpty() || bs.size() > 16) {
                ctx.error(path(p, "backendRefs"), message("backendRefs", bs.isEmpty() ? "missing" : bs.size() + " entries",
                        "1-16 backendRefs"));
            }
            for (int j = 0; j < bs.size(); j++) {
                String bp = index(path(p, "backendRefs"), j);
                JsonNode b = ctx.element(bs.get(j), bp, "backendRefs[" + j + "]");
                if (b == null) {
                    continue;
                }
                ctx.knownFields(b, bp, BACKEND);
                String group = orDefault(ctx.string(b, bp, "group"), "");
                String backendKind = orDefault(ctx.string(b, bp, "kind"), "Service");
                String ns = orDefault(ctx.string(b, bp, "namespace"), name.namespace());
                String backend = ctx.requiredString(b, bp, "name", "a backend name");
                int port = child(b, "port") == null ? 0 : ctx.port(b, bp, "port");
                int weight = ctx.integer(b, bp, "weight", 0, 1_000_000, 1);
                if (backend != null) {
                    backends.add(new BackendRefSpec(group, backendKind, ns, backend, port, weight, List.of()));
                }
            }
            rules.add(new L4RouteSpec.Rule(ruleName, backends));
        }
        return new L4RouteSpec(kind, name, created, parents, hostnames, rules, ctx.source());
    }

    private static String orDefault(String v, String dflt) {
        return v == null ? dflt : v;
    }
}
