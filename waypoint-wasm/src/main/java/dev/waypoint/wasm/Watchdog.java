package dev.waypoint.wasm;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Stops plugin callbacks that run past their budget. Chicory's compiled code checks the thread's
 * interrupt flag at loop back-edges and calls ({@code ChicoryInterruptedException}), so a callback
 * is stopped by interrupting the thread running it. One daemon thread for the process (started
 * with the first plugin VM) polls the running callbacks every 1 to 5 ms; nothing on the data path
 * waits for it.
 *
 * <h2>Threading</h2>
 * A {@link Call} is started and finished by the event loop running the plugin; the watchdog only
 * moves it from RUNNING to INTERRUPTING to INTERRUPTED. {@link Call#finish} waits (spins) out an
 * interrupt in flight and clears the flag, so a late interrupt never leaks into the event loop.
 */
final class Watchdog {
    private static final int IDLE = 0;
    private static final int RUNNING = 1;
    private static final int INTERRUPTING = 2;
    private static final int INTERRUPTED = 3;

    private static final Set<Call> RUNNING_CALLS = ConcurrentHashMap.newKeySet();
    private static final Thread THREAD;

    static {
        THREAD = new Thread(Watchdog::loop, "wasm-watchdog");
        THREAD.setDaemon(true);
        THREAD.start();
    }

    private Watchdog() {}

    /** One VM's callback slot: reused for every callback of that VM. */
    static final class Call {
        private final AtomicInteger state = new AtomicInteger(IDLE);
        private volatile Thread thread;
        private volatile long deadline;

        /** Starts the budget of a callback on the current thread. */
        void start(long budgetNanos) {
            thread = Thread.currentThread();
            deadline = System.nanoTime() + budgetNanos;
            state.set(RUNNING);
            RUNNING_CALLS.add(this);
        }

        /** Ends the callback; returns whether the watchdog stopped it. Clears the interrupt it caused. */
        boolean finish() {
            RUNNING_CALLS.remove(this);
            if (state.compareAndSet(RUNNING, IDLE)) {
                return false;
            }
            while (state.get() == INTERRUPTING) {
                Thread.onSpinWait();
            }
            Thread.interrupted(); // the watchdog's interrupt, not anyone else's business
            state.set(IDLE);
            return true;
        }

        private void check(long now) {
            if (now - deadline > 0 && state.compareAndSet(RUNNING, INTERRUPTING)) {
                thread.interrupt();
                state.set(INTERRUPTED);
            }
        }
    }

    private static void loop() {
        while (true) {
            boolean busy = !RUNNING_CALLS.isEmpty();
            if (busy) {
                long now = System.nanoTime();
                for (Call c : RUNNING_CALLS) {
                    c.check(now);
                }
            }
            // 1 ms while callbacks run, 5 ms when none does: budgets are tens of ms, so a late look costs little
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(busy ? 1 : 5));
        }
    }
}
