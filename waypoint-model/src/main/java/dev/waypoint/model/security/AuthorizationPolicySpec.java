package dev.waypoint.model.security;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.List;
import java.util.Objects;

/**
 * A validated {@code security.istio.io/v1} (or {@code v1beta1}) {@code AuthorizationPolicy}
 * (istio/api {@code security/v1beta1/authorization_policy.proto}). Values are kept as written
 * (strings, port numbers as strings included): their meaning (prefix/suffix wildcards, the
 * {@code spiffe://} prefix, regexes, CIDRs) is given by the authz compiler, which reports what it
 * cannot compile.
 *
 * @param name namespace and name
 * @param action ALLOW (default), DENY, AUDIT or CUSTOM
 * @param provider {@code provider.name} of a CUSTOM policy, else null
 * @param targetRefs {@code targetRefs}, with the singular {@code targetRef} folded in (first)
 * @param hasSelector whether the policy has a {@code selector}: a waypoint does not enforce it
 * @param dryRun annotation {@code istio.io/dry-run: "true"}: evaluated in shadow only
 * @param rules {@code rules}; empty = the policy matches nothing ("allow-nothing" for ALLOW)
 * @param source where the object came from
 */
public record AuthorizationPolicySpec(NamespacedName name, Action action, String provider,
                                      List<PolicyTargetRef> targetRefs, boolean hasSelector, boolean dryRun,
                                      List<Rule> rules, SourceRef source) {
    public AuthorizationPolicySpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(action, "action");
        targetRefs = List.copyOf(targetRefs);
        rules = List.copyOf(rules);
        Objects.requireNonNull(source, "source");
    }

    /** {@code spec.action}. */
    public enum Action { ALLOW, DENY, AUDIT, CUSTOM }

    /**
     * Whether a waypoint can enforce this policy at all: only {@code targetRefs} policies
     * (shared/spec/authz.md §1: "Waypoints use only targetRefs"). A policy with both (which the CRD
     * forbids) is a targetRefs policy for a waypoint: "With a targetRef present the selector is
     * irrelevant for a waypoint" (policyattachment_test.go).
     */
    public boolean forWaypoints() {
        return !targetRefs.isEmpty();
    }

    /**
     * One rule: "A rule matches when at least one from source matches AND at least one to
     * operation matches AND every when condition matches. Missing from/to/when = no constraint."
     */
    public record Rule(List<Source> from, List<Operation> to, List<Condition> when) {
        public Rule {
            from = List.copyOf(from);
            to = List.copyOf(to);
            when = List.copyOf(when);
        }
    }

    /** {@code rules[].from[].source}: fields AND-ed, list entries OR-ed, {@code not*} = none of. */
    public record Source(List<String> principals, List<String> notPrincipals, List<String> requestPrincipals,
                         List<String> notRequestPrincipals, List<String> namespaces, List<String> notNamespaces,
                         List<String> serviceAccounts, List<String> notServiceAccounts, List<String> trustDomains,
                         List<String> notTrustDomains, List<String> ipBlocks, List<String> notIpBlocks,
                         List<String> remoteIpBlocks, List<String> notRemoteIpBlocks) {
        public Source {
            principals = List.copyOf(principals);
            notPrincipals = List.copyOf(notPrincipals);
            requestPrincipals = List.copyOf(requestPrincipals);
            notRequestPrincipals = List.copyOf(notRequestPrincipals);
            namespaces = List.copyOf(namespaces);
            notNamespaces = List.copyOf(notNamespaces);
            serviceAccounts = List.copyOf(serviceAccounts);
            notServiceAccounts = List.copyOf(notServiceAccounts);
            trustDomains = List.copyOf(trustDomains);
            notTrustDomains = List.copyOf(notTrustDomains);
            ipBlocks = List.copyOf(ipBlocks);
            notIpBlocks = List.copyOf(notIpBlocks);
            remoteIpBlocks = List.copyOf(remoteIpBlocks);
            notRemoteIpBlocks = List.copyOf(notRemoteIpBlocks);
        }
    }

    /** {@code rules[].to[].operation}; ports as written (validated as 1-65535). */
    public record Operation(List<String> hosts, List<String> notHosts, List<String> ports, List<String> notPorts,
                            List<String> methods, List<String> notMethods, List<String> paths, List<String> notPaths) {
        public Operation {
            hosts = List.copyOf(hosts);
            notHosts = List.copyOf(notHosts);
            ports = List.copyOf(ports);
            notPorts = List.copyOf(notPorts);
            methods = List.copyOf(methods);
            notMethods = List.copyOf(notMethods);
            paths = List.copyOf(paths);
            notPaths = List.copyOf(notPaths);
        }
    }

    /** {@code rules[].when[]}: "A condition with both values and notValues needs both to hold." */
    public record Condition(String key, List<String> values, List<String> notValues) {
        public Condition {
            Objects.requireNonNull(key, "key");
            values = List.copyOf(values);
            notValues = List.copyOf(notValues);
        }
    }
}
