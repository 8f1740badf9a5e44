package dev.waypoint.authz;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The AuthorizationPolicies that apply to one target (a Service, or Pod-addressed traffic),
 * partitioned at compile time into the tiers Istio evaluates in order (STYLE rule 4), plus a
 * shadow engine for the dry-run policies. Immutable; evaluation allocates one small input object
 * and returns decisions built at compile time.
 *
 * <p>The decision procedure (authorization_policy.proto header, shared/spec/authz.md §2):
 * <ol>
 *   <li>"CUSTOM policies whose rules match → ask the ext-authz provider; its deny is final." The
 *       asking is the {@link AuthzFilter}'s ({@link #customMatch}, then {@link #provider}); this
 *       engine's {@link #decide} is the rest of the procedure. A CUSTOM policy whose provider is
 *       unknown (not in the mesh config, not an ext_authz kind, not resolvable, or one of two
 *       different providers on one target) is "compiled into a DENY of exactly the requests its
 *       rules match", and {@link #decide} applies it first. Over TCP no provider is asked: a
 *       matching CUSTOM rule denies the tunnel (fail closed).</li>
 *   <li>"Any DENY policy with a matching rule → 403."</li>
 *   <li>"No ALLOW policy attached → allow."</li>
 *   <li>"Any ALLOW policy with a matching rule → allow."</li>
 *   <li>"Otherwise → 403."</li>
 * </ol>
 * "AUDIT never changes the decision and does not count as an ALLOW policy."
 */
public final class AuthzEngine {
    /** "No ALLOW policy attached → allow." */
    static final AuthzDecision ALLOW_NO_POLICY = new AuthzDecision.Allow(AuthzDecision.NO_POLICY, -1);
    /** "Otherwise → 403": ALLOW policies apply and none matched. */
    static final AuthzDecision DEFAULT_DENY = new AuthzDecision.Deny(null, Action.ALLOW, -1);

    /** ALLOW tiers of at least this many policies are looked up by path ({@link PathIndex}). */
    static final int INDEX_THRESHOLD = 8;

    /** An engine with no policy: everything is allowed. */
    public static final AuthzEngine EMPTY = new AuthzEngine(List.of(), null);

    private final CompiledPolicy[] custom;
    private final CompiledPolicy[] ask;
    private final ExtAuthz.Provider provider;
    private final CompiledPolicy[] deny;
    private final CompiledPolicy[] allow;
    /** The ALLOW tier by path, when it is big enough to be worth it; null: the tier is scanned. */
    private final PathIndex allowIndex;
    private final CompiledPolicy[] audit;
    private final AuthzEngine shadow;

    /**
     * @param enforced the policies that decide, in any order (partitioned here)
     * @param shadow the engine of the dry-run policies, or null when there are none
     */
    AuthzEngine(List<CompiledPolicy> enforced, AuthzEngine shadow) {
        this.custom = enforced.stream().filter(p -> p.action() == Action.CUSTOM && p.provider() == null)
                .toArray(CompiledPolicy[]::new);
        this.ask = enforced.stream().filter(p -> p.action() == Action.CUSTOM && p.provider() != null)
                .toArray(CompiledPolicy[]::new);
        for (CompiledPolicy p : ask) {
            if (!p.provider().equals(ask[0].provider())) {
                throw new IllegalArgumentException("one ext_authz provider per engine: " + p.provider() + ", " + ask[0].provider());
            }
        }
        this.provider = ask.length == 0 ? null : ask[0].provider();
        this.deny = tier(enforced, Action.DENY);
        this.allow = tier(enforced, Action.ALLOW);
        List<PathIndex.Keys> keys = new ArrayList<>(allow.length);
        boolean indexed = false;
        for (CompiledPolicy p : allow) {
            keys.add(p.pathKeys());
            indexed |= p.pathKeys() != null;
        }
        this.allowIndex = allow.length >= INDEX_THRESHOLD && indexed ? new PathIndex(allow, keys) : null;
        this.audit = tier(enforced, Action.AUDIT);
        this.shadow = shadow;
    }

    private static CompiledPolicy[] tier(List<CompiledPolicy> ps, Action action) {
        return ps.stream().filter(p -> p.action() == action).toArray(CompiledPolicy[]::new);
    }

    /** Whether any policy, enforced or dry-run, applies. */
    public boolean isEmpty() {
        return custom.length + ask.length + deny.length + allow.length + audit.length == 0 && shadow == null;
    }

    /** Whether CUSTOM policies ask an ext_authz provider ({@link #provider}) for the requests their rules match. */
    public boolean asks() {
        return ask.length > 0;
    }

    /** The ext_authz provider the CUSTOM policies ask, or null. */
    ExtAuthz.Provider provider() {
        return provider;
    }

    /**
     * The decision of the first asking CUSTOM rule that matches an HTTP request (the provider is
     * to be asked), or null when none matches (the provider is not asked: "requests its rules do
     * not match never reach the server").
     */
    public AuthzDecision customMatch(RequestAttributes request, JwtAuthn jwt) {
        if (ask.length == 0) {
            return null;
        }
        AuthzInput in = new AuthzInput(request, jwt);
        for (CompiledPolicy p : ask) {
            AuthzDecision d = p.match(in, false);
            if (d != null) {
                return d;
            }
        }
        return null;
    }

    /** Decides about an HTTP request; {@code jwt} is what the authn stage validated, or null. */
    public AuthzDecision decide(RequestAttributes request, JwtAuthn jwt) {
        return decide(new AuthzInput(request, jwt), false);
    }

    /**
     * Decides about a TCP tunnel before it is opened (the L4 subset): {@code connection} carries
     * the peer, the source address and the destination; method, path, host and headers are null.
     * Rules were compiled for TCP: HTTP-only fields never match in ALLOW rules and are left out of
     * DENY rules.
     */
    public AuthzDecision decideTcp(RequestAttributes connection) {
        return decide(new AuthzInput(connection, null), true);
    }

    AuthzDecision decide(AuthzInput in, boolean tcp) {
        for (CompiledPolicy p : custom) {
            AuthzDecision d = p.match(in, tcp);
            if (d != null) {
                return d;
            }
        }
        if (tcp) {
            for (CompiledPolicy p : ask) {
                AuthzDecision d = p.match(in, true);
                if (d != null) {
                    return d;
                }
            }
        }
        for (CompiledPolicy p : deny) {
            AuthzDecision d = p.match(in, tcp);
            if (d != null) {
                return d;
            }
        }
        if (allow.length == 0) {
            return ALLOW_NO_POLICY;
        }
        if (allowIndex != null && !tcp) {
            AuthzDecision d = allowIndex.first(in);
            return d != null ? d : DEFAULT_DENY;
        }
        for (CompiledPolicy p : allow) {
            AuthzDecision d = p.match(in, tcp);
            if (d != null) {
                return d;
            }
        }
        return DEFAULT_DENY;
    }

    /** Whether dry-run policies apply: then {@link #shadow} has an answer. */
    public boolean hasShadow() {
        return shadow != null;
    }

    /**
     * What the dry-run policies alone would decide ("evaluated in shadow only (do not block, do not
     * create the default-deny of step 5)"), as Envoy's shadow engine does; null when none apply.
     */
    public AuthzDecision shadow(RequestAttributes request, JwtAuthn jwt) {
        return shadow == null ? null : shadow.decide(new AuthzInput(request, jwt), false);
    }

    /** Whether AUDIT policies apply. */
    public boolean hasAudit() {
        return audit.length > 0;
    }

    /** {@code ns/name} of the first AUDIT policy whose rule matches (the request is to be audit-logged), or null. */
    public String audited(RequestAttributes request, JwtAuthn jwt) {
        if (audit.length == 0) {
            return null;
        }
        AuthzInput in = new AuthzInput(request, jwt);
        for (CompiledPolicy p : audit) {
            if (p.match(in, false) != null) {
                return p.label();
            }
        }
        return null;
    }

    /** For the config dump: policy labels per tier. */
    public Map<String, Object> debug() {
        Map<String, Object> m = new LinkedHashMap<>();
        put(m, "custom", custom);
        if (ask.length > 0) {
            put(m, "custom via " + provider.name(), ask);
        }
        put(m, "deny", deny);
        put(m, "allow", allow);
        put(m, "audit", audit);
        if (shadow != null) {
            m.put("dryRun", shadow.debug());
        }
        return m;
    }

    private static void put(Map<String, Object> m, String key, CompiledPolicy[] ps) {
        if (ps.length > 0) {
            List<String> labels = new ArrayList<>(ps.length);
            for (CompiledPolicy p : ps) {
                labels.add(p.label() + (p.broken() ? " (fail-closed)" : ""));
            }
            m.put(key, labels);
        }
    }

    /** Every tier, policy and compiled rule, one per line (the compiler's golden files). */
    void appendDebug(StringBuilder b, String indent) {
        tier(b, indent, "custom", custom);
        if (ask.length > 0) {
            tier(b, indent, "custom via " + provider, ask);
        }
        tier(b, indent, "deny", deny);
        tier(b, indent, "allow", allow);
        tier(b, indent, "audit", audit);
        if (shadow != null) {
            b.append(indent).append("dry-run:\n");
            shadow.appendDebug(b, indent + "  ");
        }
    }

    private static void tier(StringBuilder b, String indent, String name, CompiledPolicy[] ps) {
        for (CompiledPolicy p : ps) {
            b.append(indent).append(name).append(' ').append(p.label()).append(p.broken() ? " (fail-closed)" : "")
                    .append('\n');
            if (p.http().length == 0) {
                b.append(indent).append("  (no rules: matches nothing)\n");
            }
            for (int i = 0; i < p.http().length; i++) {
                b.append(indent).append("  rule ").append(i).append(" http: ").append(p.http()[i]).append('\n');
                b.append(indent).append("  rule ").append(i).append(" tcp:  ").append(p.tcp()[i]).append('\n');
            }
        }
    }

    @Override
    public String toString() {
        return "AuthzEngine" + debug();
    }
}
