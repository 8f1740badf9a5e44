package dev.waypoint.wasm;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Process settings of the wasm stage (not mesh config).
 *
 * @param cacheDir where fetched modules are kept, one file per sha256 ({@code <sha256>.wasm})
 * @param maxMemoryPages the most 64 KiB pages one plugin instance may grow its memory to
 * @param callbackBudget how long one request callback may run before it is stopped and counted as failed
 * @param startBudget the same for instantiation, {@code proxy_on_vm_start} and {@code proxy_on_configure}
 * @param fetchTimeout how long an http(s) module download may take
 * @param compiler run modules through Chicory's compiler (Wasm to JVM bytecode); false: the interpreter
 * @param clock {@code proxy_get_current_time_nanoseconds} and WASI clocks
 * @param nodeId the {@code node.id} property
 * @param nodeMetadata the {@code node.metadata} property ({@code NAMESPACE}, {@code NAME}, ...)
 */
public record WasmSettings(Path cacheDir, int maxMemoryPages, Duration callbackBudget, Duration startBudget,
                           Duration fetchTimeout, boolean compiler, Clock clock, String nodeId,
                           Map<String, String> nodeMetadata) {
    public WasmSettings {
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (maxMemoryPages < 1 || maxMemoryPages > 65536) {
            throw new IllegalArgumentException("maxMemoryPages: " + maxMemoryPages + " (expected: 1-65536)");
        }
        Objects.requireNonNull(callbackBudget, "callbackBudget");
        Objects.requireNonNull(startBudget, "startBudget");
        Objects.requireNonNull(fetchTimeout, "fetchTimeout");
        Objects.requireNonNull(clock, "clock");
        nodeId = nodeId == null ? "" : nodeId;
        nodeMetadata = Map.copyOf(nodeMetadata);
    }

    /**
     * Defaults: modules cached under {@code cacheDir}, 256 pages (16 MiB) per instance, 500 ms per
     * request callback, 5 s to start, 30 s per download, the compiler.
     */
    public static WasmSettings defaults(Path cacheDir, String nodeId, Map<String, String> nodeMetadata) {
        return new WasmSettings(cacheDir, 256, Duration.ofMillis(500), Duration.ofSeconds(5), Duration.ofSeconds(30),
                true, Clock.systemUTC(), nodeId, nodeMetadata);
    }

    /** A copy with {@code compiler} changed. */
    public WasmSettings withCompiler(boolean compiler) {
        return new WasmSettings(cacheDir, maxMemoryPages, callbackBudget, startBudget, fetchTimeout, compiler, clock,
                nodeId, nodeMetadata);
    }

    /** A copy with {@code callbackBudget} changed. */
    public WasmSettings withCallbackBudget(Duration budget) {
        return new WasmSettings(cacheDir, maxMemoryPages, budget, startBudget, fetchTimeout, compiler, clock, nodeId,
                nodeMetadata);
    }

    long callbackBudgetNanos() {
        return callbackBudget.toNanos();
    }

    long startBudgetNanos() {
        return startBudget.toNanos();
    }
}
