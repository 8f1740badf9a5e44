package dev.waypoint.model.mesh;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Labelled objects (pods, WorkloadEntries) of each namespace, indexed by label {@code key=value},
 * so that a selector is answered from the smallest candidate list instead of a scan of every
 * object of the namespace: compilers that matched every Service against every pod were quadratic
 * in the size of a namespace (10,000 Services in one namespace: 8.9 s per config generation).
 *
 * <p>{@link #select} keeps the order the objects were added in and uses Kubernetes' equality-based
 * semantics: every selector entry must equal the object's label; an empty selector selects every
 * object of the namespace (what the scan it replaces did).
 *
 * @param <T> the labelled object
 */
public final class LabelIndex<T> {
    private final Map<String, List<T>> byNamespace = new HashMap<>();
    /** namespace -> label key -> label value -> objects, in insertion order. */
    private final Map<String, Map<String, Map<String, List<T>>>> byLabel = new HashMap<>();
    private final Function<T, Map<String, String>> labels;

    private LabelIndex(Function<T, Map<String, String>> labels) {
        this.labels = labels;
    }

    /** An index of {@code items}, each in the namespace {@code namespace} gives, with {@code labels}. */
    public static <T> LabelIndex<T> of(Iterable<T> items, Function<T, String> namespace,
                                       Function<T, Map<String, String>> labels) {
        LabelIndex<T> index = new LabelIndex<>(labels);
        for (T item : items) {
            String ns = namespace.apply(item);
            index.byNamespace.computeIfAbsent(ns, k -> new ArrayList<>()).add(item);
            Map<String, Map<String, List<T>>> mine = index.byLabel.computeIfAbsent(ns, k -> new HashMap<>());
            for (Map.Entry<String, String> e : labels.apply(item).entrySet()) {
                mine.computeIfAbsent(e.getKey(), k -> new HashMap<>())
                        .computeIfAbsent(e.getValue(), k -> new ArrayList<>()).add(item);
            }
        }
        return index;
    }

    /** The pods of a resource set, by {@link PodSpec#labels()}. */
    public static LabelIndex<PodSpec> pods(Iterable<PodSpec> pods) {
        return of(pods, p -> p.name().namespace(), PodSpec::labels);
    }

    /** Every object of {@code namespace}, in insertion order. */
    public List<T> all(String namespace) {
        return byNamespace.getOrDefault(namespace, List.of());
    }

    /** The objects of {@code namespace} whose labels match every entry of {@code selector}, in insertion order. */
    public List<T> select(String namespace, Map<String, String> selector) {
        if (selector.isEmpty()) {
            return all(namespace);
        }
        Map<String, Map<String, List<T>>> mine = byLabel.get(namespace);
        if (mine == null) {
            return List.of();
        }
        List<T> smallest = null;
        for (Map.Entry<String, String> e : selector.entrySet()) {
            List<T> c = mine.getOrDefault(e.getKey(), Map.of()).get(e.getValue());
            if (c == null) {
                return List.of();
            }
            if (smallest == null || c.size() < smallest.size()) {
                smallest = c;
            }
        }
        if (selector.size() == 1) {
            return smallest;
        }
        List<T> out = new ArrayList<>(smallest.size());
        for (T item : smallest) {
            if (matches(selector, labels.apply(item))) {
                out.add(item);
            }
        }
        return out;
    }

    /** Equality-based selector match: every entry of {@code selector} equals the label of that key. */
    public static boolean matches(Map<String, String> selector, Map<String, String> labels) {
        for (Map.Entry<String, String> e : selector.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }
}
