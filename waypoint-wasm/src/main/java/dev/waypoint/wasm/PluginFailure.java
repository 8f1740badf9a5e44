package dev.waypoint.wasm;

/**
 * A plugin trapped, ran past its time budget, exhausted its memory or broke the ABI. Thrown by
 * {@link PluginVm} out of a callback; the VM is unusable afterwards and the plugin's failStrategy
 * decides the request. Internal: never leaves the wasm stage.
 */
final class PluginFailure extends RuntimeException {
    /** What went wrong, for metrics labels: {@code trap}, {@code timeout}, {@code abi}. */
    final String kind;

    PluginFailure(String kind, String message, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
    }
}
