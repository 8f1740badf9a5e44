package dev.waypoint.authz;

import dev.waypoint.model.SourceRef;
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
import java.util.Map;
import org.yaml.snakeyaml.Yaml;

/**
 * AuthorizationPolicy YAML (as maps) → {@link AuthorizationPolicySpec}, for tests: this module
 * may not use waypoint-config's translator (stage rule), and the case file is already valid.
 */
final class Specs {
    private Specs() {}

    static AuthorizationPolicySpec parse(String yaml) {
        return of(new Yaml().load(yaml));
    }

    @SuppressWarnings("unchecked")
    static AuthorizationPolicySpec of(Map<String, Object> obj) {
        Map<String, Object> md = (Map<String, Object>) obj.get("metadata");
        Map<String, Object> spec = (Map<String, Object>) obj.getOrDefault("spec", Map.of());
        if (spec == null) {
            spec = Map.of();
        }
        Map<String, Object> ann = (Map<String, Object>) md.getOrDefault("annotations", Map.of());
        boolean dryRun = ann != null && "true".equals(ann.get("istio.io/dry-run"));
        List<PolicyTargetRef> refs = new ArrayList<>();
        if (spec.get("targetRef") instanceof Map<?, ?> r) {
            refs.add(ref((Map<String, Object>) r));
        }
        for (Object r : list(spec.get("targetRefs"))) {
            refs.add(ref((Map<String, Object>) r));
        }
        List<Rule> rules = new ArrayList<>();
        for (Object r : list(spec.get("rules"))) {
            Map<String, Object> rule = r == null ? Map.of() : (Map<String, Object>) r;
            List<Source> from = new ArrayList<>();
            for (Object f : list(rule.get("from"))) {
                Map<String, Object> s = (Map<String, Object>) ((Map<String, Object>) f).getOrDefault("source", Map.of());
                from.add(new Source(strs(s, "principals"), strs(s, "notPrincipals"), strs(s, "requestPrincipals"),
                        strs(s, "notRequestPrincipals"), strs(s, "namespaces"), strs(s, "notNamespaces"),
                        strs(s, "serviceAccounts"), strs(s, "notServiceAccounts"), strs(s, "trustDomains"),
                        strs(s, "notTrustDomains"), strs(s, "ipBlocks"), strs(s, "notIpBlocks"),
                        strs(s, "remoteIpBlocks"), strs(s, "notRemoteIpBlocks")));
            }
            List<Operation> to = new ArrayList<>();
            for (Object t : list(rule.get("to"))) {
                Map<String, Object> o = (Map<String, Object>) ((Map<String, Object>) t).getOrDefault("operation", Map.of());
                to.add(new Operation(strs(o, "hosts"), strs(o, "notHosts"), strs(o, "ports"), strs(o, "notPorts"),
                        strs(o, "methods"), strs(o, "notMethods"), strs(o, "paths"), strs(o, "notPaths")));
            }
            List<Condition> when = new ArrayList<>();
            for (Object w : list(rule.get("when"))) {
                Map<String, Object> c = (Map<String, Object>) w;
                when.add(new Condition((String) c.get("key"), strs(c, "values"), strs(c, "notValues")));
            }
            rules.add(new Rule(from, to, when));
        }
        String action = (String) spec.getOrDefault("action", "ALLOW");
        Map<String, Object> provider = (Map<String, Object>) spec.get("provider");
        String ns = (String) md.getOrDefault("namespace", "default");
        return new AuthorizationPolicySpec(new NamespacedName(ns, (String) md.get("name")), Action.valueOf(action),
                provider == null ? null : (String) provider.get("name"), refs, spec.get("selector") != null, dryRun,
                rules, SourceRef.NONE);
    }

    private static PolicyTargetRef ref(Map<String, Object> r) {
        return new PolicyTargetRef((String) r.get("group"), (String) r.get("kind"), (String) r.get("name"),
                (String) r.get("namespace"));
    }

    private static List<?> list(Object o) {
        return o == null ? List.of() : (List<?>) o;
    }

    private static List<String> strs(Map<String, Object> m, String key) {
        List<String> out = new ArrayList<>();
        for (Object o : list(m.get(key))) {
            out.add(String.valueOf(o));
        }
        return out;
    }
}
