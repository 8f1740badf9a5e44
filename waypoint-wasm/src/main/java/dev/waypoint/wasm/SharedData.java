package dev.waypoint.wasm;

import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code proxy_get_shared_data} / {@code proxy_set_shared_data}: key-value pairs every VM of the
 * process sees (Envoy keeps them per VM id across worker threads; Istio leaves the VM id empty,
 * so one space). Each value carries a CAS number: a set with a non-zero CAS that is not the
 * current one is refused.
 *
 * <h2>Threading</h2>
 * Any event loop; a {@link ConcurrentHashMap}: reads take no lock, a write locks one bin.
 */
final class SharedData {
    /** A value with its CAS number. */
    record Entry(byte[] value, int cas) {}

    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
    /** The shared queues of the same VMs (one space too). */
    final SharedQueues queues = new SharedQueues();

    Entry get(String key) {
        return entries.get(key);
    }

    /** Stores {@code value} under {@code key}; false on a CAS mismatch. */
    boolean set(String key, byte[] value, int cas) {
        boolean[] ok = {true};
        entries.compute(key, (k, old) -> {
            if (cas != 0 && old != null && old.cas() != cas) {
                ok[0] = false;
                return old;
            }
            int next = old == null ? 1 : old.cas() + 1;
            return new Entry(value, next == 0 ? 1 : next);
        });
        return ok[0];
    }
}
