package dev.waypoint.wasm;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Shared queues ({@code proxy_register_shared_queue}, {@code proxy_resolve_shared_queue},
 * {@code proxy_enqueue_shared_queue}, {@code proxy_dequeue_shared_queue}): named queues every VM of
 * the process can reach, as Envoy keeps them per (VM id, name) across worker threads (Istio leaves
 * the VM id empty). The VM that registered a name last owns it (Envoy's rule): an enqueue runs
 * that VM's {@code proxy_on_queue_ready} on its own event loop. At most {@link #MAX_ITEMS} items
 * wait in one queue (Envoy sets no bound; a plugin that never dequeues must not grow the heap
 * without end): past it, an enqueue answers {@code InternalFailure}.
 *
 * <h2>Threading</h2>
 * Any event loop: concurrent maps and queues, no locks held across calls.
 */
final class SharedQueues {
    static final int MAX_ITEMS = 10_000;

    /** One queue: its items and who is told about them. */
    static final class Queue {
        final int token;
        final ConcurrentLinkedQueue<byte[]> items = new ConcurrentLinkedQueue<>();
        final AtomicInteger size = new AtomicInteger();
        volatile PluginVm owner;

        Queue(int token) {
            this.token = token;
        }
    }

    private final ConcurrentHashMap<String, Queue> byName = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, Queue> byToken = new ConcurrentHashMap<>();
    private final AtomicInteger nextToken = new AtomicInteger(1);

    /** Registers (or takes over) {@code name} for {@code owner}; its token. */
    int register(String vmId, String name, PluginVm owner) {
        Queue q = byName.computeIfAbsent(vmId + "\0" + name, k -> {
            Queue n = new Queue(nextToken.getAndIncrement());
            byToken.put(n.token, n);
            return n;
        });
        q.owner = owner;
        return q.token;
    }

    /** The token of {@code name}, or 0 when nobody registered it. */
    int resolve(String vmId, String name) {
        Queue q = byName.get(vmId + "\0" + name);
        return q == null ? 0 : q.token;
    }

    /** The queue of {@code token}, or null. */
    Queue queue(int token) {
        return byToken.get(token);
    }

    /** Adds {@code data}; false when the queue is full. Telling the owner is the caller's. */
    static boolean offer(Queue q, byte[] data) {
        if (q.size.incrementAndGet() > MAX_ITEMS) {
            q.size.decrementAndGet();
            return false;
        }
        q.items.add(data);
        return true;
    }

    /** The oldest item, or null when empty. */
    static byte[] poll(Queue q) {
        byte[] b = q.items.poll();
        if (b != null) {
            q.size.decrementAndGet();
        }
        return b;
    }
}
