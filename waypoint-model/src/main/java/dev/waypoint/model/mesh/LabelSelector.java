package dev.waypoint.model.mesh;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A Kubernetes {@code metav1.LabelSelector}, validated: {@code matchLabels} plus
 * {@code matchExpressions}, evaluated against an object's labels as
 * {@code metav1.LabelSelectorAsSelector} and {@code labels.Requirement.Matches} do
 * (kubernetes/apimachinery {@code pkg/apis/meta/v1/helpers.go}, {@code pkg/labels/selector.go}).
 *
 * <p>"The requirements are ANDed": every {@code matchLabels} entry and every expression must match.
 * "An empty label selector matches all objects." A selector this type holds is always valid: the
 * translator reports an unknown operator, {@code In}/{@code NotIn} without values and
 * {@code Exists}/{@code DoesNotExist} with values before one is built.
 *
 * <p>Immutable; {@link #matches} allocates nothing.
 *
 * @param matchLabels {@code key: value} pairs, each the same as an {@code In} with one value
 * @param matchExpressions the requirements, in the order they were written
 */
public record LabelSelector(Map<String, String> matchLabels, List<Requirement> matchExpressions) {
    /** The empty selector {@code {}}, which matches every object. */
    public static final LabelSelector EVERYTHING = new LabelSelector(Map.of(), List.of());

    public LabelSelector {
        matchLabels = Map.copyOf(Objects.requireNonNull(matchLabels, "matchLabels"));
        matchExpressions = List.copyOf(Objects.requireNonNull(matchExpressions, "matchExpressions"));
    }

    /** A selector of {@code matchLabels} only. */
    public static LabelSelector ofLabels(Map<String, String> matchLabels) {
        return new LabelSelector(matchLabels, List.of());
    }

    /** Whether {@code labels} satisfy every {@code matchLabels} entry and every expression. */
    public boolean matches(Map<String, String> labels) {
        for (Map.Entry<String, String> e : matchLabels.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        for (Requirement r : matchExpressions) {
            if (!r.matches(labels)) {
                return false;
            }
        }
        return true;
    }

    /** Whether this is {@code {}}, which matches every object. */
    public boolean isEmpty() {
        return matchLabels.isEmpty() && matchExpressions.isEmpty();
    }

    /**
     * kubectl's {@code -l} form: {@code team=a,env in (prod,staging),!legacy}; {@code matchLabels}
     * sorted by key, then the expressions as written; empty for {@link #EVERYTHING}.
     */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        new TreeMap<>(matchLabels).forEach((k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append('=').append(v));
        for (Requirement r : matchExpressions) {
            b.append(b.length() == 0 ? "" : ",").append(r);
        }
        return b.toString();
    }

    /** A {@code matchExpressions[].operator}, named as the API writes it. */
    public enum Operator {
        IN("In"),
        NOT_IN("NotIn"),
        EXISTS("Exists"),
        DOES_NOT_EXIST("DoesNotExist");

        private final String apiName;

        Operator(String apiName) {
            this.apiName = apiName;
        }

        /** {@code In}, {@code NotIn}, {@code Exists} or {@code DoesNotExist}. */
        public String apiName() {
            return apiName;
        }

        /** The operator spelled {@code name} (case-sensitive, as Kubernetes reads it), or null. */
        public static Operator ofApiName(String name) {
            for (Operator o : values()) {
                if (o.apiName.equals(name)) {
                    return o;
                }
            }
            return null;
        }

        /**
         * Whether the operator needs values: "If the operator is In or NotIn, the values array must
         * be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty."
         */
        public boolean takesValues() {
            return this == IN || this == NOT_IN;
        }
    }

    /**
     * One {@code matchExpressions} entry.
     *
     * @param key the label key
     * @param operator how the key's value is compared
     * @param values one or more for {@code In} and {@code NotIn}, none otherwise
     */
    public record Requirement(String key, Operator operator, List<String> values) {
        public Requirement {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(operator, "operator");
            values = List.copyOf(Objects.requireNonNull(values, "values"));
            if (operator.takesValues() == values.isEmpty()) {
                throw new IllegalArgumentException("values: " + values + " (expected: "
                        + (operator.takesValues() ? "one or more" : "none") + " for " + operator.apiName() + ")");
            }
        }

        /**
         * {@code labels.Requirement.Matches}: In needs the key with one of the values; "The operator
         * is DoesNotExist or NotIn and Labels does not have the Requirement's key" matches.
         */
        public boolean matches(Map<String, String> labels) {
            return switch (operator) {
                case IN -> {
                    String v = labels.get(key);
                    yield v != null && values.contains(v);
                }
                case NOT_IN -> {
                    String v = labels.get(key);
                    yield v == null || !values.contains(v);
                }
                case EXISTS -> labels.containsKey(key);
                case DOES_NOT_EXIST -> !labels.containsKey(key);
            };
        }

        /** kubectl's form: {@code env in (prod,staging)}, {@code env notin (dev)}, {@code env}, {@code !env}. */
        @Override
        public String toString() {
            return switch (operator) {
                case IN -> key + " in (" + String.join(",", values) + ")";
                case NOT_IN -> key + " notin (" + String.join(",", values) + ")";
                case EXISTS -> key;
                case DOES_NOT_EXIST -> "!" + key;
            };
        }
    }
}
