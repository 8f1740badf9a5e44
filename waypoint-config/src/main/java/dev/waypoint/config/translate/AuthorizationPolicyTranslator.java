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
 * <p>Also refused as Istio's validation refuses them ({@code ValidateAuthorizationPolicy},
 * pkg/config/validation/validation.go): a DENY or CUSTOM policy without {@code rules}, an empty
 * or missing {@code from[].source} or {@code to[].operation}, and in a CUSTOM policy the source
 * identity fields and the identity and {@code request.auth.*} {@code when} keys.
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
    /**
     * Source fields Istio refuses with action CUSTOM: validation.go, {@code check(len(src.Namespaces)
     * != 0, "From.Namespaces")} ... {@code "%s is currently not supported with CUSTOM action"}.
     */
    private static final List<String> CUSTOM_UNSUPPORTED_SOURCE = List.of("principals", "notPrincipals",
            "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces", "serviceAccounts",
            "notServiceAccounts", "trustDomains", "notTrustDomains");
    /** {@code when} keys Istio refuses with action CUSTOM (validation.go), besides every {@code request.auth.*}. */
    private static final Set<String> CUSTOM_UNSUPPORTED_KEYS = Set.of("source.namespace", "source.serviceAccount",
            "source.trustDomain", "source.principal");
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
        if (rs.isEmpty() && (action == Action.DENY || action == Action.CUSTOM)) {
            // validation.go: "DENY action without `rules` is meaningless as it will never be triggered,
            // add an empty rule `{}` if you want it be triggered for every request" (and the same for
            // CUSTOM). An error, not a warning: the object is refused. `rules: []` is no rules (protojson
            // leaves an empty list nil, which is what Istio tests)
            JsonNode written = child(spec, "rules");
            ctx.error("spec.rules", message("rules", written == null ? "missing" : render(written),
                    "at least one rule with action " + action + ", which otherwise never applies; "
                            + "rules: [{}] applies it to every request"));
        }
        for (int i = 0; i < rs.size(); i++) {
            String p = index("spec.rules", i);
            JsonNode r = ctx.element(rs.get(i), p, "rules[" + i + "]");
            if (r != null) {
                rules.add(rule(ctx, r, p, action));
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

    private static Rule rule(ObjectContext ctx, JsonNode r, String p, Action action) {
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
            Source source = new Source(ctx.stringList(s, sp, "principals"), ctx.stringList(s, sp, "notPrincipals"),
                    ctx.stringList(s, sp, "requestPrincipals"), ctx.stringList(s, sp, "notRequestPrincipals"),
                    ctx.stringList(s, sp, "namespaces"), ctx.stringList(s, sp, "notNamespaces"),
                    ctx.stringList(s, sp, "serviceAccounts"), ctx.stringList(s, sp, "notServiceAccounts"),
                    ctx.stringList(s, sp, "trustDomains"), ctx.stringList(s, sp, "notTrustDomains"),
                    ctx.stringList(s, sp, "ipBlocks"), ctx.stringList(s, sp, "notIpBlocks"),
                    ctx.stringList(s, sp, "remoteIpBlocks"), ctx.stringList(s, sp, "notRemoteIpBlocks"));
            // validation.go: "`from.source` must not be nil" and "`from.source` must not be empty":
            // an empty source would match every request (a DENY would deny everything)
            if (s == null) {
                ctx.error(sp, message("source", "missing", "a source with at least one field"));
            } else if (!anyWritten(s)) {
                ctx.error(sp, message("source", render(s), "at least one field; an empty source matches every "
                        + "request: leave out from instead"));
            }
            if (action == Action.CUSTOM && s != null) {
                for (String field : CUSTOM_UNSUPPORTED_SOURCE) {
                    JsonNode v = child(s, field);
                    if (v != null && v.isArray() && !v.isEmpty()) {
                        ctx.error(path(sp, field), message(field, render(v), "not with action CUSTOM (Istio: "
                                + "\"is currently not supported with CUSTOM action\")"));
                    }
                }
            }
            from.add(source);
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
            Operation operation = new Operation(ctx.stringList(o, op, "hosts"), ctx.stringList(o, op, "notHosts"),
                    ports(ctx, o, op, "ports"), ports(ctx, o, op, "notPorts"),
                    ctx.stringList(o, op, "methods"), ctx.stringList(o, op, "notMethods"),
                    ctx.stringList(o, op, "paths"), ctx.stringList(o, op, "notPaths"));
            // validation.go: "`to.operation` must not be nil" and "`to.operation` must not be empty"
            if (o == null) {
                ctx.error(op, message("operation", "missing", "an operation with at least one field"));
            } else if (!anyWritten(o)) {
                ctx.error(op, message("operation", render(o), "at least one field; an empty operation matches every "
                        + "request: leave out to instead"));
            }
            to.add(operation);
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
            if (key != null && action == Action.CUSTOM
                    && (CUSTOM_UNSUPPORTED_KEYS.contains(key) || key.startsWith("request.auth."))) {
                // validation.go: check(strings.HasPrefix(when.Key, "request.auth."), when.Key) and the
                // source.* identity keys: "%s is currently not supported with CUSTOM action"
                ctx.error(path(wp, "key"), message("key", key, "not with action CUSTOM (Istio: "
                        + "\"is currently not supported with CUSTOM action\")"));
            }
            if (key != null) {
                when.add(new Condition(key, values, notValues));
            }
        }
        return new Rule(from, to, when);
    }

    /**
     * Whether {@code node} has a field with something in it, as Istio counts them
     * ({@code len(src.Principals) == 0 && ...}): a non-empty list, or a value that is not a list
     * (reported by its reader). An element that is refused, and an unknown field (reported),
     * count too: the object is refused for them already.
     */
    private static boolean anyWritten(JsonNode node) {
        for (var it = node.fields(); it.hasNext(); ) {
            JsonNode v = it.next().getValue();
            if (v != null && !v.isNull() && !(v.isArray() && v.isEmpty())) {
                return true;
            }
        }
        return false;
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
