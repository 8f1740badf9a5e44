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
 */
record CompiledPolicy(String label, Action action, boolean dryRun, boolean broken, Matcher[] http, Matcher[] tcp,
                      AuthzDecision[] decisions) {

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
        return label + " " + action + (dryRun ? " dry-run" : "") + (broken ? " (fail-closed)" : "") + " http="
                + Arrays.toString(http) + " tcp=" + Arrays.toString(tcp);
    }
}
