package dev.waypoint.authz;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An index over the ALLOW tier by request path, built with the engine: "Any ALLOW policy with a
 * matching rule → allow", and the decision names the first such policy in the tier's order, so
 * the index only narrows which policies are evaluated, never the order. A policy is indexed when
 * every `to` operation of every rule lists {@code paths} that are exact or prefix ({@code /a*})
 * values: such a policy can only match a request whose path (query removed) equals one of them or
 * starts with one. Others (no {@code to}, an operation without {@code paths}, suffix, presence or
 * template paths) are evaluated for every request.
 *
 * <p>Lookup walks a character trie along the path: the policies of each prefix ending on the way,
 * and of the exact path at its end, plus the unindexed ones, each list in tier order; the answer
 * is the matching policy with the smallest position. Allocates nothing.
 */
final class PathIndex {
    /** The path values a policy can match, or null when it cannot be indexed. */
    record Keys(List<String> exact, List<String> prefixes) {}

    private final CompiledPolicy[] policies;
    private final int[] always;
    private final Node root;

    private static final class Node {
        final TreeMap<Character, Node> build = new TreeMap<>();
        final List<Integer> prefixBuild = new ArrayList<>();
        final List<Integer> exactBuild = new ArrayList<>();
        char[] keys = new char[0];
        Node[] children = new Node[0];
        int[] prefix = new int[0];
        int[] exact = new int[0];

        Node child(char c) {
            int i = Arrays.binarySearch(keys, c);
            return i < 0 ? null : children[i];
        }

        void freeze() {
            keys = new char[build.size()];
            children = new Node[build.size()];
            int i = 0;
            for (Map.Entry<Character, Node> e : build.entrySet()) {
                keys[i] = e.getKey();
                children[i++] = e.getValue();
                e.getValue().freeze();
            }
            prefix = prefixBuild.stream().distinct().sorted().mapToInt(Integer::intValue).toArray();
            exact = exactBuild.stream().distinct().sorted().mapToInt(Integer::intValue).toArray();
            build.clear();
        }
    }

    /** Which paths the rules of {@code spec} can match; null when some rule matches other paths too. */
    static Keys keys(AuthorizationPolicySpec spec) {
        List<String> exact = new ArrayList<>();
        List<String> prefixes = new ArrayList<>();
        for (AuthorizationPolicySpec.Rule rule : spec.rules()) {
            if (rule.to().isEmpty()) {
                return null;
            }
            for (AuthorizationPolicySpec.Operation op : rule.to()) {
                if (op.paths().isEmpty()) {
                    return null;
                }
                for (String v : op.paths()) {
                    // the forms of StringMatch.of, exactly: "*" presence, "*x" suffix, "x*" prefix, else exact
                    if (v.contains("{") || v.contains("}") || v.equals("*") || v.startsWith("*")) {
                        return null;
                    }
                    if (v.endsWith("*")) {
                        prefixes.add(v.substring(0, v.length() - 1));
                    } else {
                        exact.add(v);
                    }
                }
            }
        }
        return new Keys(List.copyOf(exact), List.copyOf(prefixes));
    }

    /**
     * @param policies the ALLOW tier, in order
     * @param keys per policy, its {@link #keys}, or null
     */
    PathIndex(CompiledPolicy[] policies, List<Keys> keys) {
        this.policies = policies;
        Node r = new Node();
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < policies.length; i++) {
            Keys k = keys.get(i);
            if (k == null) {
                all.add(i);
                continue;
            }
            for (String p : k.prefixes()) {
                node(r, p).prefixBuild.add(i);
            }
            for (String e : k.exact()) {
                node(r, e).exactBuild.add(i);
            }
        }
        r.freeze();
        this.root = r;
        this.always = all.stream().mapToInt(Integer::intValue).toArray();
    }

    private static Node node(Node r, String s) {
        Node n = r;
        for (int i = 0; i < s.length(); i++) {
            n = n.build.computeIfAbsent(s.charAt(i), c -> new Node());
        }
        return n;
    }

    /** The decision of the first policy of the tier that matches {@code in} (an HTTP request), or null. */
    AuthzDecision first(AuthzInput in) {
        int best = scan(always, in, Integer.MAX_VALUE);
        String p = in.path();
        if (p != null) {
            int end = in.pathEnd();
            Node n = root;
            best = scan(n.prefix, in, best);
            if (end == 0) {
                best = scan(n.exact, in, best);
            }
            for (int i = 0; i < end && n != null; i++) {
                n = n.child(p.charAt(i));
                if (n != null) {
                    best = scan(n.prefix, in, best);
                    if (i == end - 1) {
                        best = scan(n.exact, in, best);
                    }
                }
            }
        }
        // the winner's rule decision (evaluated once more: the lookup keeps no state, as an index
        // is shared by every event loop and the input stays small)
        return best == Integer.MAX_VALUE ? null : policies[best].match(in, false);
    }

    /** The position of the first policy of {@code ordinals} (tier order) that matches, if before {@code best}; else {@code best}. */
    private int scan(int[] ordinals, AuthzInput in, int best) {
        for (int o : ordinals) {
            if (o >= best) {
                return best;
            }
            if (policies[o].match(in, false) != null) {
                return o;
            }
        }
        return best;
    }

    /** For the config dump. */
    @Override
    public String toString() {
        return "PathIndex(" + policies.length + " policies, " + always.length + " unindexed)";
    }
}
