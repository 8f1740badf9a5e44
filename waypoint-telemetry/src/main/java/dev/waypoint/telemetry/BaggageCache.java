package dev.waypoint.telemetry;

import java.util.Map;

/**
 * The last {@code baggage} value parsed, and its members: a tunnel's baggage is its CONNECT's
 * (one value for every request on it, usually the same value for every tunnel from one source
 * workload), so telemetry parses it once instead of per request (a split, ~15 strings and a
 * HashMap: ~1.6 KB per request in FullChainBench). One entry, replaced when a different value
 * comes; the parsed map is immutable, so event-loop threads share it safely.
 */
final class BaggageCache {
    private record Entry(String header, Map<String, String> members) { }

    private volatile Entry last;

    /** {@link Baggage#parse} of {@code header}, from the cache when it is the last value seen. */
    Map<String, String> parse(String header) {
        if (header == null || header.isEmpty()) {
            return Map.of();
        }
        Entry e = last;
        if (e != null && (e.header() == header || e.header().equals(header))) {
            return e.members();
        }
        Map<String, String> members = Map.copyOf(Baggage.parse(header));
        last = new Entry(header, members);
        return members;
    }
}
