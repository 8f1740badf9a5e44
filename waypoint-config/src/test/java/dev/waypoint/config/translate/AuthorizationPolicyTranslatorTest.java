package dev.waypoint.config.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import dev.waypoint.model.security.AuthorizationPolicySpec.Action;
import dev.waypoint.model.security.PolicyTargetRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class AuthorizationPolicyTranslatorTest {
    @TempDir
    Path dir;

    private record Result(ResourceSet resources, List<String> problems) {}

    private Result translate(String yaml) throws IOException {
        Files.writeString(dir.resolve("p.yaml"), yaml);
        DirectoryContent content = ConfigSources.yamlDirectory(dir).read();
        List<WireObject> wire = content.files().stream().flatMap(f -> f.objects().stream()).toList();
        Diagnostics d = new Diagnostics();
        List<TranslatedObject> objects = ResourceTranslator.translate(wire, d);
        return new Result(ResourceTranslator.resourceSet(new NamespacedName("ns1", "waypoint"), "cluster.local", objects),
                d.problems().stream().map(Object::toString).toList());
    }

    private static String policy(String spec) {
        return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: ns1}\nspec:\n"
                + spec.stripIndent().lines().map(l -> "  " + l).reduce("", (a, b) -> a + b + "\n");
    }

    private static final String REF = "targetRefs: [{kind: Service, group: '', name: b}]\n";

    record Case(String name, String yaml, boolean kept, List<String> problems) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        String p = "p.yaml:1: AuthorizationPolicy ns1/p: ";
        return Stream.of(
                new Case("allow-nothing is valid", policy(REF), true, List.of()),
                new Case("unknown spec field", policy(REF + "actions: DENY\n"), false,
                        List.of(p + "spec.actions: actions: unknown field (expected: one of action, provider, rules, selector, targetRef, targetRefs)")),
                new Case("unknown source field", policy(REF + "rules: [{from: [{source: {principal: [a]}}]}]\n"), false,
                        List.of(p + "spec.rules[0].from[0].source.principal: principal: unknown field (expected: one of ipBlocks, "
                                + "namespaces, notIpBlocks, notNamespaces, notPrincipals, notRemoteIpBlocks, notRequestPrincipals, "
                                + "notServiceAccounts, notTrustDomains, principals, remoteIpBlocks, requestPrincipals, serviceAccounts, "
                                + "trustDomains)")),
                new Case("bad action", policy(REF + "action: REJECT\n"), false,
                        List.of(p + "spec.action: action: REJECT (expected: ALLOW, DENY, AUDIT or CUSTOM)")),
                new Case("CUSTOM without provider", policy(REF + "action: CUSTOM\nrules: [{}]\n"), false,
                        List.of(p + "spec.provider.name: provider: missing (expected: a provider name with action CUSTOM)")),
                // Istio's ValidateAuthorizationPolicy (pkg/config/validation/validation.go) refuses these:
                // errors, so the object is rejected (its last good version, if any, keeps serving)
                new Case("DENY without rules (Istio: \"DENY action without `rules` is meaningless\")",
                        policy(REF + "action: DENY\n"), false,
                        List.of(p + "spec.rules: rules: missing (expected: at least one rule with action DENY, which "
                                + "otherwise never applies; rules: [{}] applies it to every request)")),
                new Case("DENY with rules: [] is no rules", policy(REF + "action: DENY\nrules: []\n"), false,
                        List.of(p + "spec.rules: rules: [] (expected: at least one rule with action DENY, which "
                                + "otherwise never applies; rules: [{}] applies it to every request)")),
                new Case("DENY with an empty rule: deny-all, valid", policy(REF + "action: DENY\nrules: [{}]\n"), true, List.of()),
                new Case("AUDIT without rules is valid", policy(REF + "action: AUDIT\n"), true, List.of()),
                new Case("CUSTOM without rules (Istio: \"CUSTOM action without `rules` is meaningless\")",
                        policy(REF + "action: CUSTOM\nprovider: {name: ext}\n"), false,
                        List.of(p + "spec.rules: rules: missing (expected: at least one rule with action CUSTOM, which "
                                + "otherwise never applies; rules: [{}] applies it to every request)")),
                new Case("empty source (Istio: \"`from.source` must not be empty\")",
                        policy(REF + "action: DENY\nrules: [{from: [{source: {}}]}]\n"), false,
                        List.of(p + "spec.rules[0].from[0].source: source: {} (expected: at least one field; an empty "
                                + "source matches every request: leave out from instead)")),
                new Case("source with only empty lists is empty", policy(REF + "rules: [{from: [{source: {principals: []}}]}]\n"),
                        false, List.of(p + "spec.rules[0].from[0].source: source: {\"principals\":[]} (expected: at least one "
                                + "field; an empty source matches every request: leave out from instead)")),
                new Case("from without source (Istio: \"`from.source` must not be nil\")",
                        policy(REF + "action: DENY\nrules: [{from: [{}]}]\n"), false,
                        List.of(p + "spec.rules[0].from[0].source: source: missing (expected: a source with at least one field)")),
                new Case("source with one field is valid",
                        policy(REF + "action: DENY\nrules: [{from: [{source: {notIpBlocks: [10.0.0.0/8]}}]}]\n"), true, List.of()),
                new Case("empty operation (Istio: \"`to.operation` must not be empty\")",
                        policy(REF + "rules: [{to: [{operation: {}}]}]\n"), false,
                        List.of(p + "spec.rules[0].to[0].operation: operation: {} (expected: at least one field; an empty "
                                + "operation matches every request: leave out to instead)")),
                new Case("to without operation (Istio: \"`to.operation` must not be nil\")",
                        policy(REF + "rules: [{to: [{}]}]\n"), false,
                        List.of(p + "spec.rules[0].to[0].operation: operation: missing (expected: an operation with at least one field)")),
                new Case("operation with one field is valid", policy(REF + "rules: [{to: [{operation: {notMethods: [GET]}}]}]\n"),
                        true, List.of()),
                new Case("CUSTOM with a request.auth.* when key (Istio: \"not supported with CUSTOM action\")",
                        policy(REF + "action: CUSTOM\nprovider: {name: ext}\n"
                                + "rules: [{when: [{key: 'request.auth.claims[group]', values: [admin]}]}]\n"), false,
                        List.of(p + "spec.rules[0].when[0].key: key: request.auth.claims[group] (expected: not with action "
                                + "CUSTOM (Istio: \"is currently not supported with CUSTOM action\"))")),
                new Case("CUSTOM with a source.principal when key", policy(REF + "action: CUSTOM\nprovider: {name: ext}\n"
                                + "rules: [{when: [{key: source.principal, values: [a]}]}]\n"), false,
                        List.of(p + "spec.rules[0].when[0].key: key: source.principal (expected: not with action "
                                + "CUSTOM (Istio: \"is currently not supported with CUSTOM action\"))")),
                new Case("CUSTOM with source principals and requestPrincipals", policy(REF + "action: CUSTOM\nprovider: {name: ext}\n"
                                + "rules: [{from: [{source: {principals: [a], requestPrincipals: ['*']}}]}]\n"), false,
                        List.of(p + "spec.rules[0].from[0].source.principals: principals: [\"a\"] (expected: not with action "
                                        + "CUSTOM (Istio: \"is currently not supported with CUSTOM action\"))",
                                p + "spec.rules[0].from[0].source.requestPrincipals: requestPrincipals: [\"*\"] (expected: not with "
                                        + "action CUSTOM (Istio: \"is currently not supported with CUSTOM action\"))")),
                new Case("CUSTOM with ipBlocks, paths and a header condition is valid",
                        policy(REF + "action: CUSTOM\nprovider: {name: ext}\nrules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}], "
                                + "to: [{operation: {paths: [/admin*]}}], when: [{key: 'request.headers[x-a]', values: [b]}]}]\n"),
                        true, List.of()),
                new Case("DENY with a request.auth.* when key is valid",
                        policy(REF + "action: DENY\nrules: [{when: [{key: 'request.auth.claims[group]', values: [admin]}]}]\n"),
                        true, List.of()),
                new Case("provider without CUSTOM", policy(REF + "provider: {name: x}\n"), false,
                        List.of(p + "spec.provider: provider: {\"name\":\"x\"} (expected: only with action CUSTOM)")),
                new Case("port not a number", policy(REF + "rules: [{to: [{operation: {ports: ['80a']}}]}]\n"), false,
                        List.of(p + "spec.rules[0].to[0].operation.ports[0]: ports[0]: 80a (expected: a port number 1-65535)")),
                new Case("port out of range", policy(REF + "rules: [{to: [{operation: {notPorts: ['0']}}]}]\n"), false,
                        List.of(p + "spec.rules[0].to[0].operation.notPorts[0]: notPorts[0]: 0 (expected: a port number 1-65535)")),
                new Case("port written as a number", policy(REF + "rules: [{to: [{operation: {ports: [80]}}]}]\n"), false,
                        List.of(p + "spec.rules[0].to[0].operation.ports[0]: ports[0]: 80 (expected: a non-empty string; 80 unquoted is a number in YAML: quote it)")),
                new Case("empty string value", policy(REF + "rules: [{to: [{operation: {paths: ['']}}]}]\n"), false,
                        List.of(p + "spec.rules[0].to[0].operation.paths[0]: paths[0]: \"\" (expected: a non-empty string)")),
                new Case("condition without values", policy(REF + "rules: [{when: [{key: source.ip}]}]\n"), false,
                        List.of(p + "spec.rules[0].when[0]: when[0]: source.ip (expected: at least one of values or notValues)")),
                new Case("condition without key", policy(REF + "rules: [{when: [{values: [a]}]}]\n"), false,
                        List.of(p + "spec.rules[0].when[0].key: key: missing (expected: an attribute such as request.headers[x-foo])")),
                new Case("targetRef to a Gateway without its group (Istio's validation refuses it)",
                        policy("action: DENY\nrules: [{}]\ntargetRefs: [{kind: Gateway, name: waypoint}]\n"), false,
                        List.of(p + "spec.targetRefs[0].kind: targetRef: /Gateway (expected: one of Service (group \"\"), "
                                + "networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway or "
                                + "gateway.networking.k8s.io/GatewayClass, as Istio's validation requires)")),
                new Case("targetRef to a Pod", policy("targetRefs: [{kind: Pod, name: b}]\n"), false,
                        List.of(p + "spec.targetRefs[0].kind: targetRef: /Pod (expected: one of Service (group \"\"), "
                                + "networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway or "
                                + "gateway.networking.k8s.io/GatewayClass, as Istio's validation requires)")),
                new Case("targetRef without kind", policy("targetRefs: [{name: b}]\n"), false,
                        List.of(p + "spec.targetRefs[0].kind: kind: missing (expected: a kind such as Service, Gateway or GatewayClass)")),
                new Case("selector and targetRefs: kept, the selector ignored", policy(REF + "selector: {matchLabels: {app: b}}\n"),
                        true, List.of("p.yaml:1: warning: AuthorizationPolicy ns1/p: spec.selector: selector: "
                                + "{\"matchLabels\":{\"app\":\"b\"}} (expected: not together with targetRefs; the waypoint "
                                + "ignores the selector)")),
                new Case("bad dry-run annotation", """
                        apiVersion: security.istio.io/v1beta1
                        kind: AuthorizationPolicy
                        metadata: {name: p, namespace: ns1, annotations: {istio.io/dry-run: "yes"}}
                        spec: {targetRefs: [{kind: Service, name: b}]}
                        """, false,
                        List.of(p + "metadata.annotations['istio.io/dry-run']: istio.io/dry-run: \"yes\" (expected: \"true\" or \"false\")")),
                new Case("selector policy kept with a note", policy("selector: {matchLabels: {app: b}}\n"), true,
                        List.of("p.yaml:1: note: AuthorizationPolicy ns1/p: spec.selector: a waypoint does not enforce selector "
                                + "policies (ztunnel or sidecars do); use targetRefs (Service, Gateway or GatewayClass "
                                + "istio-waypoint) to apply it here")),
                new Case("namespace-wide policy kept with a note", policy("action: DENY\nrules: [{}]\n"), true,
                        List.of("p.yaml:1: note: AuthorizationPolicy ns1/p: spec.targetRefs: no targetRefs: a waypoint does not "
                                + "enforce namespace- or mesh-wide policies; target this waypoint's Gateway or the "
                                + "istio-waypoint GatewayClass to apply it here")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void validatesShape(Case c) throws IOException {
        Result r = translate(c.yaml());
        assertThat(r.problems()).containsExactlyElementsOf(c.problems());
        assertThat(r.resources().authorizationPolicies()).hasSize(c.kept() ? 1 : 0);
    }

    @Test
    void readsEveryField() throws IOException {
        Result r = translate("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata:
                  name: p
                  namespace: ns1
                  annotations: {istio.io/dry-run: "true"}
                spec:
                  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}
                  targetRefs: [{kind: Service, name: b}]
                  action: DENY
                  rules:
                  - from:
                    - source:
                        principals: [cluster.local/ns/ns1/sa/a]
                        notNamespaces: [ns2]
                        ipBlocks: [10.0.0.0/8]
                        requestPrincipals: ["*"]
                    to:
                    - operation: {methods: [GET], paths: [/a/*], ports: ["8080"], hosts: [b.ns1]}
                    when:
                    - {key: "request.headers[x-foo]", values: [bar], notValues: [baz]}
                  - {}
                """);
        assertThat(r.problems()).containsExactly("p.yaml:1: warning: AuthorizationPolicy ns1/p: spec.targetRef: targetRef: "
                + "{\"group\":\"gateway.networking.k8s.io\",\"kind\":\"Gateway\",\"name\":\"waypoint\"} "
                + "(expected: only one of targetRef or targetRefs; both are used)");
        AuthorizationPolicySpec p = r.resources().authorizationPolicies().get(0);
        assertThat(p.action()).isEqualTo(Action.DENY);
        assertThat(p.dryRun()).isTrue();
        assertThat(p.forWaypoints()).isTrue();
        assertThat(p.targetRefs()).containsExactly(
                new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null),
                new PolicyTargetRef("", "Service", "b", null));
        assertThat(p.rules()).hasSize(2);
        var rule = p.rules().get(0);
        assertThat(rule.from().get(0).principals()).containsExactly("cluster.local/ns/ns1/sa/a");
        assertThat(rule.from().get(0).notNamespaces()).containsExactly("ns2");
        assertThat(rule.from().get(0).ipBlocks()).containsExactly("10.0.0.0/8");
        assertThat(rule.from().get(0).requestPrincipals()).containsExactly("*");
        assertThat(rule.to().get(0).ports()).containsExactly("8080");
        assertThat(rule.to().get(0).hosts()).containsExactly("b.ns1");
        assertThat(rule.when().get(0).key()).isEqualTo("request.headers[x-foo]");
        assertThat(rule.when().get(0).notValues()).containsExactly("baz");
        assertThat(p.rules().get(1).from()).isEmpty();
    }
}
