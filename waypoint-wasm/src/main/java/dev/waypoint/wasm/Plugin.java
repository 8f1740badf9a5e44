package dev.waypoint.wasm;

import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.extension.WasmPluginSpec.FailStrategy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WasmPlugin at run time: its spec, its loaded module (or why it could not be loaded), and
 * one {@link PluginVm} per event loop, made on the loop's first request. Kept across config
 * generations while its module, config and settings stay the same, so VMs (and what plugins keep
 * in them) live on.
 *
 * <h2>Threading</h2>
 * Immutable but for the VM map, which each event loop reads and writes only for itself (keyed by
 * its thread; {@link ConcurrentHashMap} for the map's own structure).
 */
final class Plugin {
    private static final Logger log = LoggerFactory.getLogger("dev.waypoint.wasm.plugin");

    private final WasmPluginSpec spec;
    private final String name;
    private final LoadedModule module;
    private final String loadError;
    private final byte[] pluginConfiguration;
    private final WasmSettings settings;
    private final PluginMetrics metrics;
    private final SharedData sharedData;
    private final MeterRegistry registry;
    private final HttpCallout callout;
    private final ConcurrentHashMap<Thread, Object> vms = new ConcurrentHashMap<>();

    Plugin(WasmPluginSpec spec, LoadedModule module, String loadError, WasmSettings settings, PluginMetrics metrics,
           SharedData sharedData, MeterRegistry registry, HttpCallout callout) {
        this.callout = callout;
        this.spec = spec;
        // Istio names a plugin's filter <namespace>.<name>
        this.name = spec.name().namespace() + "." + spec.name().name();
        this.module = module;
        this.loadError = loadError;
        this.pluginConfiguration = spec.pluginConfig() == null ? new byte[0]
                : spec.pluginConfig().getBytes(StandardCharsets.UTF_8);
        this.settings = settings;
        this.metrics = metrics;
        this.sharedData = sharedData;
        this.registry = registry;
    }

    WasmPluginSpec spec() {
        return spec;
    }

    String name() {
        return name;
    }

    String rootId() {
        return spec.pluginName();
    }

    LoadedModule module() {
        return module;
    }

    /** Why the module could not be fetched or compiled, or null. */
    String loadError() {
        return loadError;
    }

    byte[] pluginConfiguration() {
        return pluginConfiguration;
    }

    byte[] vmConfiguration() {
        return new byte[0];
    }

    Map<String, String> env() {
        return spec.env();
    }

    WasmSettings settings() {
        return settings;
    }

    PluginMetrics metrics() {
        return metrics;
    }

    SharedData sharedData() {
        return sharedData;
    }

    /** What serves {@code proxy_http_call}, or null. */
    HttpCallout callout() {
        return callout;
    }

    Logger log() {
        return log;
    }

    FailStrategy failStrategy() {
        return spec.failStrategy();
    }

    /**
     * This event loop's VM, started on first use.
     *
     * @throws PluginFailure if the module was not loaded, or the VM could not start or failed
     *         earlier (FAIL_RELOAD: a failed VM is replaced by a new one instead)
     */
    PluginVm vm() {
        if (module == null) {
            throw new PluginFailure("load", loadError, null);
        }
        Thread t = Thread.currentThread();
        Object v = vms.get(t);
        if (v instanceof PluginVm vm && (!vm.failed() || failStrategy() != FailStrategy.FAIL_RELOAD)) {
            if (vm.failed()) {
                throw new PluginFailure("failed", "the plugin VM failed earlier: " + vm.failure(), null);
            }
            return vm;
        }
        if (v instanceof String failure && failStrategy() != FailStrategy.FAIL_RELOAD) {
            throw new PluginFailure("start", failure, null);
        }
        if (v instanceof PluginVm old) {
            old.close();
        }
        try {
            PluginVm vm = PluginVm.start(this);
            vms.put(t, vm);
            return vm;
        } catch (PluginFailure e) {
            vms.put(t, e.getMessage());
            log.warn("wasm plugin {} could not start on {} ({}): {}", name, t.getName(), spec.failStrategy(),
                    e.getMessage());
            throw new PluginFailure("start", e.getMessage(), e);
        }
    }

    /** Counts and logs a failure of this plugin. */
    void failed(PluginFailure e, String where) {
        Counter.builder("waypoint_wasm_plugin_failures").description("proxy-wasm plugin failures, by plugin and kind")
                .tag("plugin", name).tag("kind", e.kind).register(registry).increment();
        if (e.kind.equals("failed") || e.kind.equals("load") || e.kind.equals("start")) {
            // reported once already (when it failed, or by the compiler): not once per request
            log.debug("wasm plugin {} unusable in {} ({}): {}", name, where, spec.failStrategy(), e.getMessage());
        } else {
            log.warn("wasm plugin {} failed in {} ({}): {}", name, where, spec.failStrategy(), e.getMessage());
        }
    }

    /** Stops the timers of every VM (the plugin left the config). */
    void close() {
        vms.values().forEach(v -> {
            if (v instanceof PluginVm vm) {
                vm.close();
            }
        });
    }

    /** For the config dump. */
    Map<String, Object> debug() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("kind", spec.kind());
        m.put("name", spec.name().toString());
        m.put("phase", spec.phase().name());
        m.put("priority", spec.priority());
        m.put("url", spec.url());
        m.put("rootId", spec.pluginName());
        m.put("failStrategy", spec.failStrategy().name());
        m.put("state", module != null ? "loaded" : "failed");
        if (module != null) {
            m.put("sha256", module.sha256());
            m.put("abi", module.abi());
        } else {
            m.put("error", loadError);
        }
        return m;
    }
}
