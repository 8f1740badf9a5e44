package dev.waypoint.config.yaml;

/**
 * One instance per distinct short string among those recently seen: a direct-mapped table, as
 * Jackson's JSON parser canonicalizes field names (its YAML parser does not). SnakeYAML makes a new
 * {@code String} for every scalar, and the domain records keep many of them (a namespace in every
 * object of its file, label keys and values, port names, the Service name a Pod's labels, selector
 * and account repeat), so one generation of 10,000 Services and Pods held ~200,000 strings (issue 17).
 * A string evicted from its slot is simply not shared; nothing else depends on it.
 *
 * <h2>Threading</h2>
 * One per parse; not thread-safe.
 */
final class StringCache {
    private static final int SLOTS = 2048; // a power of two
    private static final int MAX_LENGTH = 64;

    private final String[] table = new String[SLOTS];

    /** The instance this cache holds equal to {@code s}, or {@code s} itself (then held, if short). */
    String canonical(String s) {
        if (s == null || s.length() > MAX_LENGTH) {
            return s;
        }
        int h = s.hashCode();
        int slot = (h ^ (h >>> 16)) & (SLOTS - 1);
        String held = table[slot];
        if (s.equals(held)) {
            return held;
        }
        table[slot] = s;
        return s;
    }
}
