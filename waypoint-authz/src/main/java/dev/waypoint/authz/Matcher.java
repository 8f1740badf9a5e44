package dev.waypoint.authz;

/**
 * One compiled piece of a policy rule (STYLE rule 3): built once per snapshot, with every value
 * pre-parsed, evaluated per request without allocating. Composites short-circuit.
 */
@FunctionalInterface
interface Matcher {
    /** Whether the request (or TCP tunnel) in {@code in} satisfies this piece. */
    boolean matches(AuthzInput in);

    /** Always true: a missing {@code from}, {@code to} or {@code when}, or the empty rule {@code {}}. */
    Matcher ANY = new Constant(true);

    /** Never true: an ALLOW rule that cannot apply (HTTP-only fields on TCP). */
    Matcher NONE = new Constant(false);

    /** {@link #ANY} and {@link #NONE}. */
    record Constant(boolean value) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            return value;
        }

        @Override
        public String toString() {
            return value ? "any" : "none";
        }
    }
}
