package dev.waypoint.model.request;

import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import java.util.Objects;

/**
 * What AuthorizationPolicy decided about one request or TCP tunnel, with the labels telemetry and
 * logs need (STYLE rule 12: decisions carry their own labels). Instances are built when a snapshot
 * is compiled, one per policy rule, so deciding allocates nothing.
 */
public sealed interface AuthzDecision {
    /** The request slot the {@code authz} stage writes: the enforced decision. */
    RequestKey<AuthzDecision> KEY = RequestKey.of("authz.decision", AuthzDecision.class);

    /** The request slot for the dry-run ({@code istio.io/dry-run}) shadow decision, when a dry-run policy applies. */
    RequestKey<AuthzDecision> SHADOW_KEY = RequestKey.of("authz.shadow", AuthzDecision.class);

    /** The request slot naming ({@code ns/name}) the AUDIT policy whose rule matched: the request is to be audit-logged. */
    RequestKey<String> AUDIT_KEY = RequestKey.of("authz.audit", String.class);

    /** Policy label of an allow that no policy decided ("No ALLOW policy attached → allow"). */
    String NO_POLICY = "no policy";

    /** Whether the request may go on. */
    boolean allowed();

    /**
     * Envoy's {@code response_code_details} style: {@code rbac_access_denied_matched_policy[ns1/deny-y, rule 0]},
     * {@code rbac_access_denied_matched_policy[none]} for the default deny, {@code allowed[ns1/b, rule 0]},
     * {@code allowed[no policy]}.
     */
    String detail();

    /**
     * Allowed.
     *
     * @param policy {@code ns/name} of the ALLOW policy whose rule matched, or {@link #NO_POLICY}
     * @param rule index of the matching rule, -1 with {@link #NO_POLICY}
     */
    record Allow(String policy, int rule) implements AuthzDecision {
        public Allow {
            Objects.requireNonNull(policy, "policy");
        }

        @Override
        public boolean allowed() {
            return true;
        }

        @Override
        public String detail() {
            return rule < 0 ? "allowed[" + policy + "]" : "allowed[" + policy + ", rule " + rule + "]";
        }
    }

    /**
     * Denied.
     *
     * @param policy {@code ns/name} of the CUSTOM or DENY policy whose rule matched; null for the
     *        default deny (ALLOW policies apply and none matched)
     * @param action CUSTOM, DENY, or ALLOW for the default deny
     * @param rule index of the matching rule; -1 for the default deny, and for a policy that could
     *        not be compiled and denies everything it applies to
     */
    record Deny(String policy, Action action, int rule) implements AuthzDecision {
        public Deny {
            Objects.requireNonNull(action, "action");
        }

        @Override
        public boolean allowed() {
            return false;
        }

        @Override
        public String detail() {
            if (policy == null) {
                return "rbac_access_denied_matched_policy[none]";
            }
            return "rbac_access_denied_matched_policy[" + policy + (rule < 0 ? "" : ", rule " + rule) + "]";
        }
    }
}
