package dev.waypoint.authz;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * AuthorizationPolicies → {@link AuthzTable} (STYLE rule 2: the compiled runtime part). Runs on
 * the config executor.
 *
 * <p><b>Attachment</b> ({@link PolicyTargetRef#attaches}): a policy reaches a Service through a
 * {@code Service} targetRef in the Service's namespace, a ServiceEntry through a
 * {@code networking.istio.io} {@code ServiceEntry} targetRef in its namespace
 * ({@link PolicyTargetRef#attachesToServiceEntry}), and every Service, ServiceEntry and Pod-addressed call
 * through a {@code Gateway} targetRef naming this waypoint (in its namespace) or the
 * {@code istio-waypoint} {@code GatewayClass} (from the root namespace). Selector and
 * namespace-wide policies never attach here (the translator noted them).
 *
 * <p><b>A policy that cannot be compiled never widens access</b> (an unknown {@code when} key,
 * a bad CIDR or path template, ...). Reported as an error naming the field, then:
 * <ul>
 *   <li>ALLOW: its rules are dropped, but it still counts as an ALLOW policy, so the default
 *       deny holds: it allows nothing it would have allowed;</li>
 *   <li>DENY and CUSTOM: it denies every request in its scope (fail closed);</li>
 *   <li>AUDIT: it audits nothing.</li>
 * </ul>
 *
 * <p><b>CUSTOM</b>: the policy's {@code provider.name} is looked up among the mesh config's
 * {@code envoyExtAuthzHttp} / {@code envoyExtAuthzGrpc} providers whose {@code service} resolves to
 * a Service port ({@link ExtAuthz#resolve}); a matching rule then asks it (the {@link AuthzFilter}).
 * A provider that is missing, of another kind or unresolvable, and the CUSTOM policies of a target
 * that name two different providers ("max one is supported"), are compiled as Istio compiles them:
 * "a DENY of exactly the requests its rules match". A dry-run CUSTOM policy never asks; its shadow
 * decision counts a match as a deny.
 */
public final class AuthzPolicyCompiler implements PartCompiler<AuthzTable> {
    /** Istio's default root namespace. */
    public static final String DEFAULT_ROOT_NAMESPACE = "istio-system";

    private static final String KIND = "AuthorizationPolicy";

    private final String rootNamespace;
    private final List<String> trustDomainAliases;

    /** With the default root namespace and no trust domain aliases. */
    public AuthzPolicyCompiler() {
        this(DEFAULT_ROOT_NAMESPACE, List.of());
    }

    /**
     * @param rootNamespace where a GatewayClass-targeted policy must live to apply mesh-wide
     * @param trustDomainAliases mesh config {@code trustDomainAliases}: a principal written with
     *        the trust domain or any alias matches peers of all of them
     */
    public AuthzPolicyCompiler(String rootNamespace, List<String> trustDomainAliases) {
        this.rootNamespace = Objects.requireNonNull(rootNamespace, "rootNamespace");
        this.trustDomainAliases = List.copyOf(trustDomainAliases);
    }

    @Override
    public SnapshotPart<AuthzTable> part() {
        return AuthzTable.PART;
    }

    @Override
    public AuthzTable compile(ResourceSet resources, Diagnostics diagnostics) {
        NamespacedName waypoint = resources.waypoint();
        Set<String> trustDomains = new LinkedHashSet<>();
        trustDomains.add(resources.trustDomain());
        trustDomains.addAll(trustDomainAliases);
        // mesh config: trustDomainAliases merge with --trust-domain-alias; a trustDomain that differs
        // from --trust-domain is accepted as one more (the flag names this waypoint's own identity)
        if (resources.meshConfig().trustDomain() != null) {
            trustDomains.add(resources.meshConfig().trustDomain());
        }
        trustDomains.addAll(resources.meshConfig().trustDomainAliases());

        Map<String, ExtAuthz.Provider> providers = ExtAuthz.resolve(resources, diagnostics);
        Integer hops = resources.meshConfig().numTrustedProxies();
        int trustedHops = hops == null ? 0 : hops;
        Set<String> reported = new java.util.HashSet<>();

        // each policy is compiled once (and reported once), then shared by every target it attaches to
        List<AuthorizationPolicySpec> specs = new ArrayList<>();
        List<CompiledPolicy> compiled = new ArrayList<>();
        Set<NamespacedName> serviceNames = new java.util.HashSet<>();
        for (ServiceSpec svc : resources.services()) {
            serviceNames.add(svc.name());
        }
        for (AuthorizationPolicySpec spec : resources.authorizationPolicies()) {
            if (!spec.forWaypoints()) {
                continue;
            }
            if (!PolicyTargetRef.attaches(spec.targetRefs(), spec.name().namespace(), "", null, waypoint.namespace(),
                    waypoint.name(), rootNamespace) && serviceTargets(spec, waypoint).stream().noneMatch(serviceNames::contains)
                    && !attachesToAnyServiceEntry(spec, resources, waypoint)) {
                continue;
            }
            specs.add(spec);
            compiled.add(withProvider(compile(spec, trustDomains, trustedHops, diagnostics), spec, providers, diagnostics));
        }

        List<CompiledPolicy> gatewayWide = new ArrayList<>();
        List<Integer> wideIndexes = new ArrayList<>();
        // policy indexes (ascending) per Service their targetRefs name: a Service's policies are the
        // gateway-wide ones and these, in policy order, without a scan of every policy per Service
        Map<NamespacedName, List<Integer>> byService = new HashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            AuthorizationPolicySpec s = specs.get(i);
            if (PolicyTargetRef.attaches(s.targetRefs(), s.name().namespace(), "", null, waypoint.namespace(),
                    waypoint.name(), rootNamespace)) {
                gatewayWide.add(compiled.get(i));
                wideIndexes.add(i);
            }
            for (NamespacedName target : serviceTargets(s, waypoint)) {
                List<Integer> list = byService.computeIfAbsent(target, k -> new ArrayList<>());
                if (list.isEmpty() || list.get(list.size() - 1) != i) {
                    list.add(i);
                }
            }
        }
        AuthzEngine wide = engine(gatewayWide, diagnostics, reported);
        Map<NamespacedName, AuthzEngine> services = new HashMap<>();
        for (ServiceSpec svc : resources.services()) {
            List<Integer> own = byService.get(svc.name());
            if (own == null) {
                continue; // the gateway-wide engine
            }
            List<CompiledPolicy> mine = new ArrayList<>();
            for (int a = 0, b = 0; a < wideIndexes.size() || b < own.size(); ) {
                int next = b >= own.size() || (a < wideIndexes.size() && wideIndexes.get(a) <= own.get(b))
                        ? wideIndexes.get(a) : own.get(b);
                mine.add(compiled.get(next));
                while (a < wideIndexes.size() && wideIndexes.get(a) == next) {
                    a++;
                }
                while (b < own.size() && own.get(b) == next) {
                    b++;
                }
            }
            if (mine.size() != gatewayWide.size()) {
                services.put(svc.name(), engine(mine, diagnostics, reported));
            }
        }
        Map<NamespacedName, AuthzEngine> entries = new HashMap<>();
        for (ServiceEntrySpec se : resources.serviceEntries()) {
            List<CompiledPolicy> mine = new ArrayList<>();
            for (int i = 0; i < specs.size(); i++) {
                AuthorizationPolicySpec s = specs.get(i);
                if (PolicyTargetRef.attachesToServiceEntry(s.targetRefs(), s.name().namespace(), se.name().namespace(),
                        se.name().name(), waypoint.namespace(), waypoint.name(), rootNamespace)) {
                    mine.add(compiled.get(i));
                }
            }
            if (mine.size() != gatewayWide.size()) {
                entries.put(se.name(), engine(mine, diagnostics, reported));
            }
        }
        return new AuthzTable(services, entries, wide, wide);
    }

    private boolean attachesToAnyServiceEntry(AuthorizationPolicySpec spec, ResourceSet resources, NamespacedName waypoint) {
        for (ServiceEntrySpec se : resources.serviceEntries()) {
            if (PolicyTargetRef.attachesToServiceEntry(spec.targetRefs(), spec.name().namespace(), se.name().namespace(),
                    se.name().name(), waypoint.namespace(), waypoint.name(), rootNamespace)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The Services {@code spec}'s {@code targetRefs} name ({@link PolicyTargetRef.Scope#SERVICE}
     * references: a Service of the policy's own namespace), whether or not they exist.
     */
    private List<NamespacedName> serviceTargets(AuthorizationPolicySpec spec, NamespacedName waypoint) {
        List<NamespacedName> out = new ArrayList<>(1);
        String ns = spec.name().namespace();
        for (PolicyTargetRef ref : spec.targetRefs()) {
            if (ref.scope(ns, waypoint.namespace(), waypoint.name(), rootNamespace) == PolicyTargetRef.Scope.SERVICE) {
                out.add(new NamespacedName(ns, ref.name()));
            }
        }
        return out;
    }

    /** A CUSTOM policy with its provider, when the mesh config has it; reported when it does not. */
    private static CompiledPolicy withProvider(CompiledPolicy p, AuthorizationPolicySpec spec,
                                               Map<String, ExtAuthz.Provider> providers, Diagnostics diagnostics) {
        if (spec.action() != Action.CUSTOM || p.broken()) {
            return p;
        }
        ExtAuthz.Provider provider = providers.get(spec.provider());
        if (provider == null) {
            // Istio: a CUSTOM policy whose provider is "missing/invalid in MeshConfig" is "compiled
            // into a DENY of exactly the requests its rules match"
            diagnostics.warning(spec.source(), KIND, spec.name(), "spec.provider.name", "provider: " + spec.provider()
                    + " (expected: an envoyExtAuthzHttp or envoyExtAuthzGrpc provider of the mesh config whose service "
                    + "resolves); the policy denies every request its rules match");
            return p;
        }
        return p.withProvider(provider);
    }

    private static AuthzEngine engine(List<CompiledPolicy> ps, Diagnostics diagnostics, Set<String> reported) {
        if (ps.isEmpty()) {
            return AuthzEngine.EMPTY;
        }
        Set<String> names = new java.util.TreeSet<>();
        for (CompiledPolicy p : ps) {
            if (p.provider() != null && !p.dryRun()) {
                names.add(p.provider().name());
            }
        }
        boolean tooMany = names.size() > 1;
        List<CompiledPolicy> enforced = new ArrayList<>();
        List<CompiledPolicy> dryRun = new ArrayList<>();
        for (CompiledPolicy p : ps) {
            if (p.provider() != null && (tooMany || p.dryRun())) {
                if (tooMany && reported.add(p.label())) {
                    // Istio: "two different CUSTOM providers on one proxy (max one is supported)"
                    diagnostics.error(dev.waypoint.model.SourceRef.NONE, KIND, NamespacedName.parse(p.label()),
                            "spec.provider.name", "provider: " + p.provider().name() + " (expected: one ext_authz "
                                    + "provider per target; these policies name " + names + "); the policy denies "
                                    + "every request its rules match");
                }
                p = p.withProvider(null);
            }
            (p.dryRun() ? dryRun : enforced).add(p);
        }
        return new AuthzEngine(enforced, dryRun.isEmpty() ? null : new AuthzEngine(dryRun, null));
    }

    /** One policy, for HTTP and for TCP; the fail-closed form when any rule cannot be compiled. */
    static CompiledPolicy compile(AuthorizationPolicySpec spec, Set<String> trustDomains, Diagnostics diagnostics) {
        return compile(spec, trustDomains, 0, diagnostics);
    }

    /** @param trustedHops mesh config {@code numTrustedProxies}, for {@code remote.ip} */
    static CompiledPolicy compile(AuthorizationPolicySpec spec, Set<String> trustDomains, int trustedHops,
                                  Diagnostics diagnostics) {
        String label = spec.name().toString();
        // CUSTOM without an ext_authz client: "provider unknown" → deny what its rules match
        Action tier = spec.action();
        int n = spec.rules().size();
        Matcher[] http = new Matcher[n];
        Matcher[] tcp = new Matcher[n];
        AuthzDecision[] decisions = new AuthzDecision[n];
        RuleCompiler forHttp = new RuleCompiler(tier, false, spec.name().namespace(), trustDomains, trustedHops);
        // a TCP tunnel has no X-Forwarded-For: remote.ip is the source address there
        RuleCompiler forTcp = new RuleCompiler(tier, true, spec.name().namespace(), trustDomains);
        try {
            for (int i = 0; i < n; i++) {
                String path = "spec.rules[" + i + "]";
                http[i] = forHttp.compile(spec.rules().get(i), path);
                tcp[i] = forTcp.compile(spec.rules().get(i), path);
                decisions[i] = decision(label, tier, i);
            }
        } catch (RuleCompiler.Invalid e) {
            String consequence = switch (tier) {
                case ALLOW -> "the policy allows nothing (it still counts as an ALLOW policy)";
                case DENY, CUSTOM -> "the policy denies every request it applies to";
                case AUDIT -> "the policy audits nothing";
            };
            diagnostics.error(spec.source(), KIND, spec.name(), e.field, e.getMessage() + "; " + consequence);
            return failClosed(spec, label, tier);
        }
        for (RuleCompiler.Note note : forHttp.notes()) {
            diagnostics.note(spec.source(), KIND, spec.name(), note.field(), note.message());
        }
        CompiledPolicy p = new CompiledPolicy(label, tier, spec.dryRun(), false, http, tcp, decisions);
        return tier == Action.ALLOW ? p.withPathKeys(PathIndex.keys(spec)) : p;
    }

    private static CompiledPolicy failClosed(AuthorizationPolicySpec spec, String label, Action tier) {
        if (tier == Action.DENY || tier == Action.CUSTOM) {
            Matcher[] all = {Matcher.ANY};
            return new CompiledPolicy(label, tier, spec.dryRun(), true, all, all,
                    new AuthzDecision[] {decision(label, tier, -1)});
        }
        // no rules: it matches nothing, so no path needs it evaluated
        return new CompiledPolicy(label, tier, spec.dryRun(), true, new Matcher[0], new Matcher[0], new AuthzDecision[0])
                .withPathKeys(new PathIndex.Keys(List.of(), List.of()));
    }

    private static AuthzDecision decision(String label, Action tier, int rule) {
        return switch (tier) {
            case ALLOW, AUDIT -> new AuthzDecision.Allow(label, rule);
            case DENY, CUSTOM -> new AuthzDecision.Deny(label, tier, rule);
        };
    }
}
