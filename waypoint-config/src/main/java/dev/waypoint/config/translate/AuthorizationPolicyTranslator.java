package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import dev.waypoint.model.security.AuthorizationPolicySpec.Condition;
import dev.waypoint.model.security.AuthorizationPolicySpec.Operation;
import dev.waypoint.model.security.AuthorizationPolicySpec.Rule;
import dev.waypoint.model.security.AuthorizationPolicySpec.Source;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code security.istio.io/v1} (and {@code v1beta1}) {@code AuthorizationPolicy} →
 * {@link AuthorizationPolicySpec}. Checks the shape (known fields, types, action, provider,
 * targetRefs, the {@code istio.io/dry-run} annotation); the meaning of the values (wildcards,
 * CIDRs, path templates, {@code when} keys) is checked by the authz compiler, where a policy that
 * cannot be compiled fails closed instead of disappearing (a dropped ALLOW or DENY would widen
 * access).
 *
 * <p>A policy with a {@code selector}, or with no {@code targetRefs}, is valid and kept, with a
 * note: waypoints enforce only {@code targetRefs} policies (shared/spec/authz.md §1).
 */
final class AuthorizationPolicyTranslator {
    static final String DRY_RUN = "istio.io/dry-run";

    private static final Set<String> SPEC = Set.of("selector", "targetRef", "targetRefs", "action", "provider", "rules");
    private static final Set<String> RULE = Set.of("from", "to", "when");
    private static final Set<String> FROM = Set.of("source");
    private static final Set<String> TO = Set.of("operation");
    private static final Set<String> SOURCE = Set.of("principals", "notPrincipals", "requestPrincipals",
            "notRequestPrincipals", "namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts",
            "trustDomains", "notTrustDomains", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks");
    private static final Set<String> OPERATION = Set.of("hosts", "notHosts", "ports", "notPorts", "methods",
            "notMethods", "paths", "notPaths");
    private static final Set<String> CONDITION = Set.of("key", "values", "notValues");
    private static final Set<String> PROVIDER = Set.of("name");
    /** CRD limit (kubebuilder): {@code targetRefs} at most 16. */

    private AuthorizationPolicyTranslator() {}

    static AuthorizationPolicySpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        boolean dryRun = dryRun(ctx, child(tree, "metadata"));
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.unknownKeys(spec, "spec", SPEC);

        Action action = Action.ALLOW;
        String a = ctx.string(spec, "spec", "action");
        if (a != null) {
            try {
                action = Action.valueOf(a);
            } catch (IllegalArgumentException e) {
                ctx.error("spec.action", message("action", a, "ALLOW, DENY, AUDIT or CUSTOM"));
            }
        }
        JsonNode providerNode = ctx.object(spec, "spec", "provider");
        ctx.unknownKeys(providerNode, "spec.provider", PROVIDER);
        String provider = providerNode == null ? null : ctx.string(providerNode, "spec.provider", "name");
        if (action == Action.CUSTOM && (provider == null || provider.isEmpty())) {
            ctx.error("spec.provider.name", message("provider", "missing", "a provider name with action CUSTOM"));
        } else if (action != Action.CUSTOM && providerNode != null) {
            ctx.error("spec.provider", message("provider", render(providerNode), "only with action CUSTOM"));
        }

        JsonNode selector = ctx.object(spec, "spec", "selector");
        PolicyTargetRefs.Read targets = PolicyTargetRefs.read(ctx, spec, "Service, Gateway or GatewayClass");
        List<PolicyTargetRef> refs = targets.refs();
        if (selector != null && !refs.isEmpty()) {
            // CRD CEL rule: "only one of targetRefs or selector can be set"; a waypoint goes by the
            // targetRefs (policyattachment.go), so the policy is kept: dropping it would widen access
            ctx.warning("spec.selector", message("selector", render(selector),
                    "not together with targetRefs; the waypoint ignores the selector"));
        } else if (selector != null) {
            ctx.note("spec.selector", "a waypoint does not enforce selector policies (ztunnel or sidecars do); "
                    + "use targetRefs (Service, Gateway or GatewayClass istio-waypoint) to apply it here");
        } else if (!targets.written()) {
            ctx.note("spec.targetRefs", "no targetRefs: a waypoint does not enforce namespace- or mesh-wide "
                    + "policies; target this waypoint's Gateway or the istio-waypoint GatewayClass to apply it here");
        }

        List<Rule> rules = new ArrayList<>();
        List<JsonNode> rs = ctx.list(spec, "spec", "rules");
        for (int i = 0; i < rs.size(); i++) {
            String p = index("spec.rules", i);
            JsonNode r = ctx.element(rs.get(i), p, "rules[" + i + "]");
            if (r != null) {
                rules.add(rule(ctx, r, p));
            }
        }
        return new AuthorizationPolicySpec(name, action, provider, refs, selector != null, dryRun, rules, ctx.source());
    }

    private static boolean dryRun(ObjectContext ctx, JsonNode metadata) {
        JsonNode annotations = child(metadata, "annotations");
        JsonNode v = child(annotations, DRY_RUN);
        if (v == null) {
            return false;
        }
        String p = path("metadata.annotations", DRY_RUN);
        if (v.isTextual() && (v.textValue().equals("true") || v.textValue().equals("false"))) {
            return v.textValue().equals("true");
        }
        ctx.error(p, message(DRY_RUN, ObjectContext.renderJson(v), "\"true\" or \"false\""));
        return false;
    }

    private static Rule rule(ObjectContext ctx, JsonNode r, String p) {
        ctx.unknownKeys(r, p, RULE);
        List<Source> from = new ArrayList<>();
        List<JsonNode> fs = ctx.list(r, p, "from");
        for (int i = 0; i < fs.size(); i++) {
            String fp = index(path(p, "from"), i);
            JsonNode f = ctx.element(fs.get(i), fp, "from[" + i + "]");
            if (f == null) {
                continue;
            }
            ctx.unknownKeys(f, fp, FROM);
            String sp = path(fp, "source");
            JsonNode s = ctx.object(f, fp, "source");
            ctx.unknownKeys(s, sp, SOURCE);
            from.add(new Source(ctx.stringList(s, sp, "principals"), ctx.stringList(s, sp, "notPrincipals"),
                    ctx.stringList(s, sp, "requestPrincipals"), ctx.stringList(s, sp, "notRequestPrincipals"),
                    ctx.stringList(s, sp, "namespaces"), ctx.stringList(s, sp, "notNamespaces"),
                    ctx.stringList(s, sp, "serviceAccounts"), ctx.stringList(s, sp, "notServiceAccounts"),
                    ctx.stringList(s, sp, "trustDomains"), ctx.stringList(s, sp, "notTrustDomains"),
                    ctx.stringList(s, sp, "ipBlocks"), ctx.stringList(s, sp, "notIpBlocks"),
                    ctx.stringList(s, sp, "remoteIpBlocks"), ctx.stringList(s, sp, "notRemoteIpBlocks")));
        }
        List<Operation> to = new ArrayList<>();
        List<JsonNode> ts = ctx.list(r, p, "to");
        for (int i = 0; i < ts.size(); i++) {
            String tp = index(path(p, "to"), i);
            JsonNode t = ctx.element(ts.get(i), tp, "to[" + i + "]");
            if (t == null) {
                continue;
            }
            ctx.unknownKeys(t, tp, TO);
            String op = path(tp, "operation");
            JsonNode o = ctx.object(t, tp, "operation");
            ctx.unknownKeys(o, op, OPERATION);
            to.add(new Operation(ctx.stringList(o, op, "hosts"), ctx.stringList(o, op, "notHosts"),
                    ports(ctx, o, op, "ports"), ports(ctx, o, op, "notPorts"),
                    ctx.stringList(o, op, "methods"), ctx.stringList(o, op, "notMethods"),
                    ctx.stringList(o, op, "paths"), ctx.stringList(o, op, "notPaths")));
        }
        List<Condition> when = new ArrayList<>();
        List<JsonNode> ws = ctx.list(r, p, "when");
        for (int i = 0; i < ws.size(); i++) {
            String wp = index(path(p, "when"), i);
            JsonNode w = ctx.element(ws.get(i), wp, "when[" + i + "]");
            if (w == null) {
                continue;
            }
            ctx.unknownKeys(w, wp, CONDITION);
            String key = ctx.requiredString(w, wp, "key", "an attribute such as request.headers[x-foo]");
            List<String> values = ctx.stringList(w, wp, "values");
            List<String> notValues = ctx.stringList(w, wp, "notValues");
            if (values.isEmpty() && notValues.isEmpty()) {
                ctx.error(wp, message("when[" + i + "]", key == null ? "-" : key, "at least one of values or notValues"));
            }
            if (key != null) {
                when.add(new Condition(key, values, notValues));
            }
        }
        return new Rule(from, to, when);
    }

    /** {@code ports} are strings in the API ({@code "8080"}); each must be a number 1-65535. */
    private static List<String> ports(ObjectContext ctx, JsonNode o, String op, String key) {
        List<String> ports = ctx.stringList(o, op, key);
        String p = path(op, key);
        for (int i = 0; i < ports.size(); i++) {
            String v = ports.get(i);
            int n = -1;
            if (v.length() <= 5 && v.chars().allMatch(Character::isDigit)) {
                n = Integer.parseInt(v);
            }
            if (n < 1 || n > 65535) {
                ctx.error(index(p, i), message(key + "[" + i + "]", v, "a port number 1-65535"));
            }
        }
        return ports;
    }
}
