package dev.waypoint.authz;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import java.util.Arrays;

/**
 * One AuthorizationPolicy compiled for this waypoint: its rules as matchers, for HTTP requests and
 * for TCP tunnels, and the decision each rule yields, built in advance.
 *
 * @param label {@code ns/name}
 * @param action the tier it is evaluated in (CUSTOM is evaluated as a deny, see {@link AuthzPolicyCompiler})
 * @param dryRun shadow only
 * @param broken the policy could not be compiled and is in its fail-closed form
 * @param provider a CUSTOM policy's resolved ext_authz provider: a matching rule asks it; null for
 *        the other actions, and for a CUSTOM policy whose provider is unknown (a matching rule denies)
 */
record CompiledPolicy(String label, Action action, boolean dryRun, boolean broken, Matcher[] http, Matcher[] tcp,
                      AuthzDecision[] decisions, ExtAuthz.Provider provider, PathIndex.Keys pathKeys) {
    CompiledPolicy(String label, Action action, boolean dryRun, boolean broken, Matcher[] http, Matcher[] tcp,
                   AuthzDecision[] decisions) {
        this(label, action, dryRun, broken, http, tcp, decisions, null, null);
    }

    /** This policy asking {@code p} (null: denying what it matches). */
    CompiledPolicy withProvider(ExtAuthz.Provider p) {
        return new CompiledPolicy(label, action, dryRun, broken, http, tcp, decisions, p, pathKeys);
    }

    /** This policy with the paths its rules can match ({@link PathIndex#keys}), null when any. */
    CompiledPolicy withPathKeys(PathIndex.Keys keys) {
        return new CompiledPolicy(label, action, dryRun, broken, http, tcp, decisions, provider, keys);
    }

    /** The decision of the first rule matching {@code in}, or null. "list entries are OR-ed": the first wins. */
    AuthzDecision match(AuthzInput in, boolean overTcp) {
        Matcher[] rules = overTcp ? tcp : http;
        for (int i = 0; i < rules.length; i++) {
            if (rules[i].matches(in)) {
                return decisions[i];
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return label + " " + action + (dryRun ? " dry-run" : "") + (broken ? " (fail-closed)" : "")
                + (provider != null ? " provider=" + provider.name() : "") + " http="
                + Arrays.toString(http) + " tcp=" + Arrays.toString(tcp);
    }
}
