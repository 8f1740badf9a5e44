package dev.waypoint.authz;

import dev.waypoint.authz.Matchers.Address;
import dev.waypoint.authz.Matchers.Attr;
import dev.waypoint.authz.Matchers.Cidr;
import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import dev.waypoint.model.security.AuthorizationPolicySpec.Condition;
import dev.waypoint.model.security.AuthorizationPolicySpec.Operation;
import dev.waypoint.model.security.AuthorizationPolicySpec.Rule;
import dev.waypoint.model.security.AuthorizationPolicySpec.Source;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One policy rule → one {@link Matcher}, quoting shared/spec/authz.md §3 where it implements it.
 * Compiled twice per policy: for HTTP requests, and for TCP tunnels, where "HTTP-only fields make
 * ALLOW rules never match and DENY rules match more broadly" (the HTTP-only field is left out;
 * CUSTOM, compiled as a deny, is treated like DENY).
 *
 * <p>A value that cannot be compiled throws {@link Invalid} naming the field; the caller turns
 * the policy into its fail-closed form.
 */
final class RuleCompiler {
    /** A value the waypoint cannot compile; {@code field} is the JSON path inside {@code spec}. */
    static final class Invalid extends Exception {
        final String field;

        Invalid(String field, String message) {
            super(message, null, false, false);
            this.field = field;
        }
    }

    /** Every {@code when} key the waypoint evaluates (pkg/config/security/security.go ValidateAttribute). */
    static final Set<String> PLAIN_KEYS = Set.of("source.ip", "remote.ip", "source.namespace", "source.principal",
            "source.serviceAccount", "source.trustDomain", "request.auth.principal", "request.auth.audiences",
            "request.auth.presenter", "destination.ip", "destination.port", "connection.sni");

    /**
     * Istio's {@code attrEnvoyFilter} (model.go), "an experimental attribute for checking Envoy
     * Metadata directly": {@code experimental.envoy.filters.<filter>[<key>]}.
     */
    static final String ENVOY_FILTER_PREFIX = "experimental.envoy.filters.";

    /** A remark on a value that compiles: reported as a note, the policy is kept. */
    record Note(String field, String message) {}

    private final Action action;
    private final boolean tcp;
    private final List<Note> notes = new ArrayList<>();
    private final String policyNamespace;
    private final Set<String> trustDomains;
    /** Set when, on TCP, an ALLOW-like rule uses an HTTP-only field: the rule never matches. */
    private boolean never;

    /**
     * @param trustDomains the mesh trust domain and its aliases (empty aliases: just the domain)
     */
    RuleCompiler(Action action, boolean tcp, String policyNamespace, Set<String> trustDomains) {
        this(action, tcp, policyNamespace, trustDomains, 0);
    }

    /**
     * @param trustedHops mesh config {@code numTrustedProxies}: {@code remote.ip} and
     *        {@code remoteIpBlocks} read that many hops from the right of X-Forwarded-For (0: the source address)
     */
    RuleCompiler(Action action, boolean tcp, String policyNamespace, Set<String> trustDomains, int trustedHops) {
        this.action = action;
        this.tcp = tcp;
        this.policyNamespace = policyNamespace;
        this.trustDomains = trustDomains;
        this.trustedHops = trustedHops;
    }

    private final int trustedHops;

    /** The notes of every rule compiled so far, in order. */
    List<Note> notes() {
        return List.copyOf(notes);
    }

    Matcher compile(Rule rule, String path) throws Invalid {
        never = false;
        // "A rule matches when at least one from source matches AND at least one to operation
        // matches AND every when condition matches. Missing from/to/when = no constraint."
        List<Matcher> parts = new ArrayList<>(3);
        if (!rule.from().isEmpty()) {
            List<Matcher> sources = new ArrayList<>();
            for (int i = 0; i < rule.from().size(); i++) {
                sources.add(source(rule.from().get(i), path + ".from[" + i + "].source"));
            }
            parts.add(Matchers.or(sources));
        }
        if (!rule.to().isEmpty()) {
            List<Matcher> ops = new ArrayList<>();
            for (int i = 0; i < rule.to().size(); i++) {
                ops.add(operation(rule.to().get(i), path + ".to[" + i + "].operation"));
            }
            parts.add(Matchers.or(ops));
        }
        for (int i = 0; i < rule.when().size(); i++) {
            parts.add(condition(rule.when().get(i), path + ".when[" + i + "]"));
        }
        return never ? Matcher.NONE : Matchers.and(parts);
    }

    /** Whether an HTTP-only field applies here; on TCP it does not (and an ALLOW-like rule then never matches). */
    private boolean http() {
        if (!tcp) {
            return true;
        }
        if (action == Action.ALLOW || action == Action.AUDIT) {
            never = true;
        }
        return false;
    }

    private interface Leaf {
        Matcher of(String value, String field) throws Invalid;
    }

    /** "list entries are OR-ed; notX is none of"; an absent list is no constraint. */
    private static void field(List<Matcher> and, List<String> values, List<String> notValues, String path, String name,
                              Leaf leaf) throws Invalid {
        if (!values.isEmpty()) {
            and.add(Matchers.or(leaves(values, path + "." + name, leaf)));
        }
        if (!notValues.isEmpty()) {
            String not = "not" + Character.toUpperCase(name.charAt(0)) + name.substring(1);
            and.add(Matchers.not(Matchers.or(leaves(notValues, path + "." + not, leaf))));
        }
    }

    private static List<Matcher> leaves(List<String> values, String path, Leaf leaf) throws Invalid {
        List<Matcher> out = new ArrayList<>(values.size());
        for (int i = 0; i < values.size(); i++) {
            out.add(leaf.of(values.get(i), path + "[" + i + "]"));
        }
        return out;
    }

    // ---- from.source: "Fields inside one source are AND-ed"

    private Matcher source(Source s, String path) throws Invalid {
        List<Matcher> and = new ArrayList<>();
        if (!s.serviceAccounts().isEmpty() || !s.notServiceAccounts().isEmpty()) {
            if (!s.principals().isEmpty() || !s.notPrincipals().isEmpty() || !s.namespaces().isEmpty()
                    || !s.notNamespaces().isEmpty()) {
                // waypoint.md §5: serviceAccounts are "exclusive with principals/namespaces"
                throw new Invalid(path + ".serviceAccounts",
                        "serviceAccounts: set with principals or namespaces (expected: one of them per source)");
            }
        }
        field(and, s.principals(), s.notPrincipals(), path, "principals", this::principal);
        if (!s.requestPrincipals().isEmpty() || !s.notRequestPrincipals().isEmpty()) {
            if (http()) {
                field(and, s.requestPrincipals(), s.notRequestPrincipals(), path, "requestPrincipals",
                        (v, f) -> Matchers.string(Attr.REQUEST_PRINCIPAL, StringMatch.of(v, false)));
            }
        }
        field(and, s.namespaces(), s.notNamespaces(), path, "namespaces", RuleCompiler::namespace);
        field(and, s.serviceAccounts(), s.notServiceAccounts(), path, "serviceAccounts", this::serviceAccount);
        field(and, s.trustDomains(), s.notTrustDomains(), path, "trustDomains", this::trustDomain);
        field(and, s.ipBlocks(), s.notIpBlocks(), path, "ipBlocks", (v, f) -> cidr(Address.SOURCE, v, f));
        field(and, s.remoteIpBlocks(), s.notRemoteIpBlocks(), path, "remoteIpBlocks", (v, f) -> cidr(Address.REMOTE, v, f, trustedHops));
        return Matchers.and(and);
    }

    /**
     * "principals / source.principal: compared with spiffe:// prepended; * compiles to regex .+
     * ... Values without a trust domain are literal." With trust domain aliases, "a principal
     * written with any alias matches peers of the mesh trust domain and of every alias".
     */
    private Matcher principal(String v, String field) {
        List<Matcher> variants = new ArrayList<>();
        for (String p : aliased(v)) {
            variants.add(Matchers.string(Attr.PRINCIPAL, StringMatch.prefixed("spiffe://", p)));
        }
        return Matchers.or(variants);
    }

    /**
     * Istio's {@code trustdomain.Bundle.ReplaceTrustDomainAliases} (pilot/pkg/security/trustdomain/bundle.go),
     * which {@code Model.MigrateTrustDomain} applies to principals and {@code source.principal}, values and
     * notValues alike. A principal {@code <td>/ns/<ns>/sa/<sa>} is rewritten for every member of the trust
     * domain set when its trust domain matches a member ({@code stringMatch}: either side may be a
     * {@code *}, {@code prefix*} or {@code *suffix} pattern) or is {@code cluster.local}, "a pointer to
     * the local trust domain and its aliases" — then the value as written is kept only for a member its
     * {@code *suffix} trust domain matches ({@code replaceTrustDomains}). Anything else (not five
     * segments, trust domain {@code *}, no member matches) is kept as written.
     */
    private Set<String> aliased(String v) {
        String[] parts = v.split("/", -1);
        // isTrustDomainBeingEnforced: "the trust domain is * and it matches to any trust domain"
        if (parts.length != 5 || parts[0].equals("*")) {
            return Set.of(v);
        }
        String td = parts[0];
        if (!td.equals("cluster.local") && trustDomains.stream().noneMatch(member -> trustDomainMatch(td, member))) {
            return Set.of(v);
        }
        Set<String> out = new LinkedHashSet<>();
        for (String member : trustDomains) {
            out.add(suffixMatch(member, td) ? v : member + v.substring(td.length()));
        }
        return out;
    }

    /** trustdomain/util.go {@code stringMatch} for one member: exact, {@code *}, or a pattern on either side. */
    private static boolean trustDomainMatch(String a, String s) {
        return a.equals(s) || s.equals("*") || prefixMatch(a, s) || prefixMatch(s, a) || suffixMatch(a, s)
                || suffixMatch(s, a);
    }

    /** util.go {@code prefixMatch}: {@code pattern} is {@code prefix*} and {@code a} starts with the prefix. */
    private static boolean prefixMatch(String a, String pattern) {
        return pattern.endsWith("*") && a.startsWith(pattern.substring(0, pattern.length() - 1));
    }

    /** util.go {@code suffixMatch}: {@code pattern} is {@code *suffix} and {@code a} ends with the suffix. */
    private static boolean suffixMatch(String a, String pattern) {
        return pattern.startsWith("*") && a.endsWith(pattern.substring(1));
    }

    /** "namespaces / source.namespace: regex .{@literal *}/ns/&lt;ns&gt;/.* on the peer principal (wildcards become .*)". */
    private static Matcher namespace(String v, String field) {
        if (!v.contains("*")) {
            // ".*/ns/<ns>/.*" is "contains /ns/<ns>/": no regex on the request path
            return Matchers.string(Attr.PRINCIPAL, StringMatch.contains("/ns/" + v + "/"));
        }
        return Matchers.string(Attr.PRINCIPAL, StringMatch.regex(".*/ns/" + wildcards(v) + "/.*"));
    }

    /**
     * "serviceAccounts: {@code <ns>/<sa>} or bare {@code <sa>} (= policy namespace); regex
     * {@code spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?} ... No wildcards."
     */
    private Matcher serviceAccount(String v, String field) throws Invalid {
        if (v.contains("*")) {
            throw new Invalid(field, "serviceAccounts: " + v + " (expected: <namespace>/<name> or <name>, no wildcards)");
        }
        int slash = v.indexOf('/');
        String ns = slash < 0 ? policyNamespace : v.substring(0, slash);
        String sa = slash < 0 ? v : v.substring(slash + 1);
        if (ns.isEmpty() || sa.isEmpty() || sa.contains("/")) {
            throw new Invalid(field, "serviceAccounts: " + v + " (expected: <namespace>/<name> or <name>)");
        }
        return Matchers.string(Attr.PRINCIPAL,
                StringMatch.regex("spiffe://.+/ns/" + Pattern.quote(ns) + "/(.+/|)sa/" + Pattern.quote(sa) + "(/.+)?"));
    }

    /**
     * Istio's {@code trustdomain.Bundle.ExpandTrustDomainAliases} (pilot/pkg/security/trustdomain/bundle.go),
     * which {@code Model.MigrateTrustDomain} applies to trustDomains, notTrustDomains and
     * {@code source.trustDomain}: a value that is a member of the trust domain set (exactly; no
     * wildcards, no {@code cluster.local} pointer here) stands for every member.
     */
    private Matcher trustDomain(String v, String field) {
        if (!trustDomains.contains(v)) {
            return trustDomain(v);
        }
        List<Matcher> members = new ArrayList<>(trustDomains.size());
        for (String td : trustDomains) {
            members.add(trustDomain(td));
        }
        return Matchers.or(members);
    }

    /**
     * "trustDomains / source.trustDomain: * any, exact → principal prefix spiffe://&lt;td&gt;/,
     * wildcard → regex spiffe://&lt;a&gt;[^/]*&lt;b&gt;/.*".
     */
    private static Matcher trustDomain(String v) {
        if (v.equals("*")) {
            return Matchers.string(Attr.PRINCIPAL, StringMatch.regex(".+"));
        }
        int star = v.indexOf('*');
        if (star < 0) {
            return Matchers.string(Attr.PRINCIPAL, StringMatch.of("spiffe://" + v + "/*", false));
        }
        String a = v.substring(0, star);
        String b = v.substring(star + 1).replace("*", "");
        return Matchers.string(Attr.PRINCIPAL,
                StringMatch.regex("spiffe://" + Pattern.quote(a) + "[^/]*" + Pattern.quote(b) + "/.*"));
    }

    private static Matcher cidr(Address which, String v, String field) throws Invalid {
        return cidr(which, v, field, 0);
    }

    private static Matcher cidr(Address which, String v, String field, int trustedHops) throws Invalid {
        try {
            return Matchers.cidr(which, Cidr.parse(v), trustedHops);
        } catch (IllegalArgumentException e) {
            throw new Invalid(field, leaf(field) + ": " + v + " (expected: an IP address or CIDR block such as 10.0.0.0/16)");
        }
    }

    // ---- to.operation

    private Matcher operation(Operation o, String path) throws Invalid {
        List<Matcher> and = new ArrayList<>();
        if (!o.hosts().isEmpty() || !o.notHosts().isEmpty()) {
            if (http()) {
                // "hosts: exact/prefix/suffix against :authority, case-insensitive, port included"
                field(and, o.hosts(), o.notHosts(), path, "hosts",
                        (v, f) -> Matchers.string(Attr.HOST, StringMatch.of(v, true)));
            }
        }
        // "ports / destination.port: integer equality"
        field(and, o.ports(), o.notPorts(), path, "ports", RuleCompiler::port);
        if (!o.methods().isEmpty() || !o.notMethods().isEmpty()) {
            if (http()) {
                // "methods: case-sensitive"
                field(and, o.methods(), o.notMethods(), path, "methods",
                        (v, f) -> Matchers.string(Attr.METHOD, StringMatch.of(v, false)));
            }
        }
        if (!o.paths().isEmpty() || !o.notPaths().isEmpty()) {
            if (http()) {
                field(and, o.paths(), o.notPaths(), path, "paths", (v, f) -> Matchers.path(pathMatch(v, f)));
            }
        }
        return Matchers.and(and);
    }

    private static Matcher port(String v, String field) throws Invalid {
        int p = -1;
        if (!v.isEmpty() && v.length() <= 5 && v.chars().allMatch(Character::isDigit)) {
            p = Integer.parseInt(v);
        }
        if (p < 1 || p > 65535) {
            throw new Invalid(field, leaf(field) + ": " + v + " (expected: a port number 1-65535)");
        }
        return Matchers.port(p);
    }

    /**
     * "paths ... Templates: {*} = exactly one non-empty segment, {**} = anything incl. / (must be
     * last operator)"; waypoint.md §5: "no * / { / } elsewhere, nothing else in that segment".
     */
    static StringMatch pathMatch(String v, String field) throws Invalid {
        if (!v.contains("{") && !v.contains("}")) {
            return StringMatch.of(v, false);
        }
        String bad = leaf(field) + ": " + v + " (expected: a path, or a template whose segments are {*} or {**}, "
                + "{**} last)";
        if (!v.startsWith("/")) {
            throw new Invalid(field, bad);
        }
        // pieces: literals (with their slashes) and null for {*}, up to {**}; then the literal tail
        List<String> head = new ArrayList<>();
        StringBuilder literal = new StringBuilder();
        String[] segments = v.substring(1).split("/", -1);
        boolean doubleSeen = false;
        for (String seg : segments) {
            literal.append('/');
            if (seg.equals("{*}") || seg.equals("{**}")) {
                if (doubleSeen) {
                    throw new Invalid(field, bad); // "{**} ... must be last operator"
                }
                head.add(literal.toString());
                literal.setLength(0);
                if (seg.equals("{**}")) {
                    doubleSeen = true;
                } else {
                    head.add(null);
                }
            } else if (seg.contains("{") || seg.contains("}") || seg.contains("*")) {
                throw new Invalid(field, bad);
            } else {
                literal.append(seg);
            }
        }
        if (doubleSeen) {
            return StringMatch.template(head.toArray(String[]::new), true, literal.toString(), v);
        }
        head.add(literal.toString());
        return StringMatch.template(head.toArray(String[]::new), false, "", v);
    }

    // ---- when

    private Matcher condition(Condition c, String path) throws Invalid {
        String key = c.key();
        Leaf leaf = conditionLeaf(key, path + ".key");
        if (leaf == null) {
            return Matcher.ANY; // an HTTP-only key on TCP
        }
        List<Matcher> and = new ArrayList<>(2);
        // "A condition with both values and notValues needs both to hold."
        if (!c.values().isEmpty()) {
            and.add(Matchers.or(leaves(c.values(), path + ".values", leaf)));
        }
        if (!c.notValues().isEmpty()) {
            and.add(Matchers.not(Matchers.or(leaves(c.notValues(), path + ".notValues", leaf))));
        }
        return Matchers.and(and);
    }

    /** The leaf factory for a {@code when} key; null when the key is HTTP-only and this is TCP. */
    private Leaf conditionLeaf(String key, String field) throws Invalid {
        if (key.startsWith("request.headers[")) {
            String name = bracketed(key, "request.headers", field).get(0);
            return http() ? (v, f) -> Matchers.header(name, StringMatch.of(v, false)) : null;
        }
        if (key.startsWith("request.auth.claims[")) {
            List<String> claimPath = bracketed(key, "request.auth.claims", field);
            return http() ? (v, f) -> Matchers.claim(claimPath, StringMatch.of(v, false)) : null;
        }
        if (key.startsWith(ENVOY_FILTER_PREFIX)) {
            return envoyFilter(key, field);
        }
        return switch (key) {
            case "source.ip" -> (v, f) -> cidr(Address.SOURCE, v, f);
            case "remote.ip" -> (v, f) -> cidr(Address.REMOTE, v, f, trustedHops);
            case "destination.ip" -> (v, f) -> cidr(Address.DESTINATION, v, f);
            case "destination.port" -> RuleCompiler::port;
            case "source.principal" -> this::principal;
            case "source.namespace" -> RuleCompiler::namespace;
            case "source.serviceAccount" -> this::serviceAccount;
            case "source.trustDomain" -> this::trustDomain;
            case "connection.sni" -> (v, f) -> Matchers.string(Attr.SNI, StringMatch.of(v, false));
            case "request.auth.principal" -> http()
                    ? (v, f) -> Matchers.string(Attr.REQUEST_PRINCIPAL, StringMatch.of(v, false)) : null;
            case "request.auth.presenter" -> http()
                    ? (v, f) -> Matchers.string(Attr.PRESENTER, StringMatch.of(v, false)) : null;
            case "request.auth.audiences" -> http() ? (v, f) -> Matchers.audiences(StringMatch.of(v, false)) : null;
            default -> throw new Invalid(field, unknownKey(key));
        };
    }

    /**
     * {@code experimental.envoy.filters.<filter>[<key>]}: accepted as ValidateAttribute does
     * (pkg/config/security/security.go, {@code validateMapKey}: "should have format a[b]"). Istio's
     * envoyFilterGenerator (generator.go) turns it into an Envoy RBAC {@code metadata} matcher on the
     * dynamic metadata {@code envoy.filters.<filter>}/{@code <key>}, for HTTP and TCP alike, and a
     * notValues list into {@code not_rule} of that matcher. No filter of this waypoint writes dynamic
     * metadata, and Envoy's metadata matcher is false when the path is absent, so a value never
     * matches and a notValues list always does.
     */
    private Leaf envoyFilter(String key, String field) throws Invalid {
        int open = key.indexOf('[');
        if (!key.endsWith("]") || open < 0 || open >= key.length() - 2) {
            throw new Invalid(field, "key: " + key + " (expected: " + ENVOY_FILTER_PREFIX + "<filter>[<key>])");
        }
        // TODO(handle): Istio's Envoy does write some: the RBAC filters' shadow results
        // (envoy.filters.http.rbac[istio_dry_run_allow_shadow_engine_result] and the like) and an
        // ext_authz server's dynamic_metadata (envoy.filters.http.ext_authz[...]); not modelled here.
        if (!tcp) {
            // compiled for HTTP and for TCP: noted once
            notes.add(new Note(field, "key: " + key + " reads Envoy dynamic metadata, which no filter of this "
                    + "waypoint writes: its values never match, its notValues always do"));
        }
        return (v, f) -> Matcher.NONE;
    }

    private static String unknownKey(String key) {
        if (key.equals("destination.namespace") || key.startsWith("destination.labels") || key.equals("destination.name")
                || key.equals("destination.user")) {
            return "key: " + key + " (expected: a supported attribute; " + key
                    + " is refused by Istio: use the policy's namespace or targetRefs)";
        }
        return "key: " + key + " (expected: request.headers[<name>], request.auth.claims[<name>]..., "
                + ENVOY_FILTER_PREFIX + "<filter>[<key>], or one of "
                + String.join(", ", new java.util.TreeSet<>(PLAIN_KEYS)) + ")";
    }

    /** {@code prefix[a][b]...} → [a, b, ...]; each part non-empty. */
    private static List<String> bracketed(String key, String prefix, String field) throws Invalid {
        List<String> parts = new ArrayList<>();
        int i = prefix.length();
        while (i < key.length()) {
            int close = key.indexOf(']', i);
            if (key.charAt(i) != '[' || close < 0 || close == i + 1) {
                throw new Invalid(field, "key: " + key + " (expected: " + prefix + "[<name>]...)");
            }
            parts.add(key.substring(i + 1, close));
            i = close + 1;
        }
        if (parts.isEmpty() || (prefix.equals("request.headers") && parts.size() != 1)) {
            throw new Invalid(field, "key: " + key + " (expected: " + prefix + "[<name>])");
        }
        return parts;
    }

    /** Regex for a value whose {@code *} are wildcards, the rest literal. */
    private static String wildcards(String v) {
        StringBuilder b = new StringBuilder();
        int start = 0;
        int star;
        while ((star = v.indexOf('*', start)) >= 0) {
            if (star > start) {
                b.append(Pattern.quote(v.substring(start, star)));
            }
            b.append(".*");
            start = star + 1;
        }
        if (start < v.length()) {
            b.append(Pattern.quote(v.substring(start)));
        }
        return b.toString();
    }

    private static String leaf(String field) {
        int dot = field.lastIndexOf('.');
        return dot < 0 ? field : field.substring(dot + 1);
    }
}
