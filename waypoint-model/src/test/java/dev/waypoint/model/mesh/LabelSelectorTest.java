package dev.waypoint.model.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.model.mesh.LabelSelector.Operator;
import dev.waypoint.model.mesh.LabelSelector.Requirement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Kubernetes label selector semantics as a truth table (apimachinery {@code pkg/labels/selector.go}
 * {@code Requirement.Matches}, {@code pkg/apis/meta/v1/helpers.go} {@code LabelSelectorAsSelector}).
 */
class LabelSelectorTest {
    record Case(String name, LabelSelector selector, Map<String, String> labels, boolean matches) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Map<String, String> labels(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    static LabelSelector expr(String key, Operator op, String... values) {
        return new LabelSelector(Map.of(), List.of(new Requirement(key, op, List.of(values))));
    }

    static Stream<Case> cases() {
        LabelSelector teamA = LabelSelector.ofLabels(Map.of("team", "a"));
        LabelSelector envIn = expr("env", Operator.IN, "prod", "staging");
        LabelSelector envNotIn = expr("env", Operator.NOT_IN, "dev", "test");
        LabelSelector envExists = expr("env", Operator.EXISTS);
        LabelSelector envAbsent = expr("env", Operator.DOES_NOT_EXIST);
        LabelSelector both = new LabelSelector(Map.of("team", "a"), List.of(
                new Requirement("env", Operator.IN, List.of("prod")),
                new Requirement("legacy", Operator.DOES_NOT_EXIST, List.of())));
        return Stream.of(
                // "An empty label selector matches all objects."
                new Case("empty selector, no labels", LabelSelector.EVERYTHING, labels(), true),
                new Case("empty selector, some labels", LabelSelector.EVERYTHING, labels("team", "a"), true),
                // matchLabels: the key with exactly that value
                new Case("matchLabels equal", teamA, labels("team", "a", "env", "dev"), true),
                new Case("matchLabels other value", teamA, labels("team", "b"), false),
                new Case("matchLabels key missing", teamA, labels(), false),
                new Case("matchLabels value is case-sensitive", teamA, labels("team", "A"), false),
                // In: "Labels has the Requirement's key and Labels' value for that key is in Requirement's value set"
                new Case("In, first value", envIn, labels("env", "prod"), true),
                new Case("In, second value", envIn, labels("env", "staging"), true),
                new Case("In, other value", envIn, labels("env", "dev"), false),
                new Case("In, key missing", envIn, labels("team", "a"), false),
                new Case("In, empty value is a value", expr("env", Operator.IN, ""), labels("env", ""), true),
                // NotIn: "... or ... Labels does not have the Requirement's key"
                new Case("NotIn, other value", envNotIn, labels("env", "prod"), true),
                new Case("NotIn, listed value", envNotIn, labels("env", "test"), false),
                new Case("NotIn, key missing", envNotIn, labels("team", "a"), true),
                new Case("NotIn, no labels at all", envNotIn, labels(), true),
                // Exists / DoesNotExist look at the key only
                new Case("Exists, key present", envExists, labels("env", "x"), true),
                new Case("Exists, key present with an empty value", envExists, labels("env", ""), true),
                new Case("Exists, key missing", envExists, labels("team", "a"), false),
                new Case("DoesNotExist, key missing", envAbsent, labels("team", "a"), true),
                new Case("DoesNotExist, key present", envAbsent, labels("env", "x"), false),
                // "The requirements are ANDed": matchLabels and every expression
                new Case("AND: all hold", both, labels("team", "a", "env", "prod"), true),
                new Case("AND: matchLabels fails", both, labels("team", "b", "env", "prod"), false),
                new Case("AND: In fails", both, labels("team", "a", "env", "dev"), false),
                new Case("AND: DoesNotExist fails", both, labels("team", "a", "env", "prod", "legacy", "true"), false),
                new Case("AND: two expressions on one key", new LabelSelector(Map.of(), List.of(
                        new Requirement("env", Operator.EXISTS, List.of()),
                        new Requirement("env", Operator.NOT_IN, List.of("dev")))), labels("env", "dev"), false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matches(Case c) {
        assertThat(c.selector().matches(c.labels())).isEqualTo(c.matches());
    }

    @Test
    void rendersInKubectlForm() {
        LabelSelector s = new LabelSelector(Map.of("team", "a", "mesh", "shared"), List.of(
                new Requirement("env", Operator.IN, List.of("prod", "staging")),
                new Requirement("tier", Operator.NOT_IN, List.of("dev")),
                new Requirement("owner", Operator.EXISTS, List.of()),
                new Requirement("legacy", Operator.DOES_NOT_EXIST, List.of())));
        assertThat(s).hasToString("mesh=shared,team=a,env in (prod,staging),tier notin (dev),owner,!legacy");
        assertThat(LabelSelector.EVERYTHING).hasToString("");
        assertThat(LabelSelector.EVERYTHING.isEmpty()).isTrue();
        assertThat(s.isEmpty()).isFalse();
    }

    @Test
    void operatorsAreReadByTheirApiNames() {
        assertThat(Operator.ofApiName("In")).isEqualTo(Operator.IN);
        assertThat(Operator.ofApiName("NotIn")).isEqualTo(Operator.NOT_IN);
        assertThat(Operator.ofApiName("Exists")).isEqualTo(Operator.EXISTS);
        assertThat(Operator.ofApiName("DoesNotExist")).isEqualTo(Operator.DOES_NOT_EXIST);
        assertThat(Operator.ofApiName("in")).as("case-sensitive, as Kubernetes").isNull();
        assertThat(Operator.ofApiName("Gt")).as("a node selector operator, not a label selector one").isNull();
    }

    @Test
    void anInvalidRequirementIsABug() {
        // the translator reports these; building one anyway is a programming error
        assertThatThrownBy(() -> new Requirement("env", Operator.IN, List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("values: [] (expected: one or more for In)");
        assertThatThrownBy(() -> new Requirement("env", Operator.NOT_IN, List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("values: [] (expected: one or more for NotIn)");
        assertThatThrownBy(() -> new Requirement("env", Operator.EXISTS, List.of("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("values: [x] (expected: none for Exists)");
        assertThatThrownBy(() -> new Requirement("env", Operator.DOES_NOT_EXIST, List.of("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("values: [x] (expected: none for DoesNotExist)");
    }
}
