package dev.waypoint.model.request;

import java.util.List;

/**
 * A request's or response's header block as the stages see it: names are case-insensitive,
 * values are strings, several values per name keep their order. Mutations write through to the
 * message being forwarded. Confined to the request's event loop.
 */
public interface HeadersView {
    /** The first value of {@code name}, or null. */
    String get(CharSequence name);

    /** Every value of {@code name}, in order; empty when absent. */
    List<String> getAll(CharSequence name);

    /** Whether {@code name} is present. */
    boolean contains(CharSequence name);

    /** Replaces every value of {@code name} with {@code value}. */
    void set(CharSequence name, String value);

    /** Adds one more value of {@code name}. */
    void add(CharSequence name, String value);

    /** Removes every value of {@code name}. */
    void remove(CharSequence name);

    /**
     * Calls {@code action} with every header, in order (proxy-wasm plugins read the whole map).
     * Views that cannot list their headers throw {@link UnsupportedOperationException}.
     */
    default void forEach(java.util.function.BiConsumer<String, String> action) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot list its headers");
    }
}
