package dev.waypoint.wasm;

import com.dylibso.chicory.compiler.MachineFactoryCompiler;
import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Machine;
import com.dylibso.chicory.wasm.Parser;
import com.dylibso.chicory.wasm.WasmModule;
import com.dylibso.chicory.wasm.types.ExternalType;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.extension.WasmPluginSpec;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PartCompiler} for {@link WasmPlugins}: fetches each attached plugin's module
 * ({@link ModuleSource}), checks that it is a proxy-wasm module, and compiles it with Chicory's
 * compiler, once per digest. A module that cannot be fetched, parsed or compiled never fails the
 * generation: it is an error in the diagnostics (so {@code validate} and {@code /config_dump}
 * show it), and the plugin stays in the part without a module, where its failStrategy decides
 * the traffic (FAIL_CLOSE: 403, as Istio's deny-all stand-in; FAIL_OPEN: skipped).
 *
 * <p>Plugins whose spec did not change keep their {@link Plugin} (and so their VMs) across
 * generations; plugins that left the config have their timers stopped.
 *
 * <h2>Threading</h2>
 * Runs on the config executor only (blocking fetches and compilation included); never
 * concurrently with itself.
 */
public final class WasmPluginCompiler implements PartCompiler<WasmPlugins> {
    private static final Logger log = LoggerFactory.getLogger(WasmPluginCompiler.class);

    private final WasmSettings settings;
    private final String rootNamespace;
    private final MeterRegistry registry;
    private final ModuleSource source;
    private final PluginMetrics metrics;
    private final SharedData sharedData = new SharedData();
    private final Map<String, LoadedModule> modules = new HashMap<>();
    private final HttpCallout callout;
    private Map<WasmPluginSpec, Plugin> current = Map.of();
    /** validate and explain: no module is fetched from the network (see {@link #forValidation}). */
    private boolean offline;

    /**
     * @param registry where plugin metrics and failure counts go (the server's /stats/prometheus registry)
     */
    public WasmPluginCompiler(WasmSettings settings, String rootNamespace, MeterRegistry registry) {
        this(settings, rootNamespace, registry, null);
    }

    /**
     * @param callout what serves {@code proxy_http_call}; null: the call answers {@code Unimplemented}
     */
    public WasmPluginCompiler(WasmSettings settings, String rootNamespace, MeterRegistry registry, HttpCallout callout) {
        this.callout = callout;
        this.settings = Objects.requireNonNull(settings, "settings");
        this.rootNamespace = Objects.requireNonNull(rootNamespace, "rootNamespace");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.source = new ModuleSource(settings.cacheDir(), settings.fetchTimeout());
        this.metrics = new PluginMetrics(registry);
    }

    /**
     * For {@code validate} and {@code explain}, which go to no network: {@code file://} modules (and
     * {@code http(s)://} / {@code oci://} ones already cached under their {@code sha256}) are read and
     * compiled, so a broken module is an error there too; a remote one is not fetched, with a note,
     * and its plugin left out (explain runs the request without it). Metrics go nowhere.
     */
    public static WasmPluginCompiler forValidation(String rootNamespace) {
        Path cache = Path.of(System.getProperty("java.io.tmpdir"), "waypoint-wasm-cache");
        WasmPluginCompiler c = new WasmPluginCompiler(WasmSettings.defaults(cache, "", Map.of()), rootNamespace,
                new SimpleMeterRegistry());
        c.offline = true;
        return c;
    }

    @Override
    public SnapshotPart<WasmPlugins> part() {
        return WasmPlugins.PART;
    }

    @Override
    public WasmPlugins compile(ResourceSet resources, Diagnostics diagnostics) {
        Map<WasmPluginSpec, Plugin> next = new HashMap<>();
        List<Plugin> plugins = new ArrayList<>();
        for (WasmPluginSpec spec : resources.wasmPlugins()) {
            if (spec.targetRefs().isEmpty() || spec.hasSelector()) {
                continue; // warned by the translator: attaches to nothing here
            }
            Plugin p = current.get(spec);
            if (offline && notFetchedOffline(spec, diagnostics)) {
                continue;
            }
            if (p == null || p.module() == null) {
                p = load(spec, diagnostics);
            } else if (p.loadError() != null) {
                report(diagnostics, spec, p.loadError());
            }
            next.put(spec, p);
            plugins.add(p);
        }
        for (Map.Entry<WasmPluginSpec, Plugin> e : current.entrySet()) {
            if (next.get(e.getKey()) != e.getValue()) {
                e.getValue().close();
            }
        }
        current = next;
        return new WasmPlugins(plugins, resources.waypoint(), rootNamespace);
    }

    /** Offline (validate, explain): a module that only the network has is noted and its plugin left out. */
    private boolean notFetchedOffline(WasmPluginSpec spec, Diagnostics diagnostics) {
        try {
            if (!source.remote(spec.url(), spec.sha256())) {
                return false;
            }
        } catch (IOException | RuntimeException e) {
            return false; // load() reports it
        }
        String field = spec.kind().equals("TrafficExtension") ? "spec.wasm.url" : "spec.url";
        diagnostics.note(spec.source(), spec.kind(), spec.name(), field, "module " + spec.url()
                + " not fetched: validate and explain use no network (run fetches it; a file:// module, or one cached "
                + "under its sha256, is checked here); explain runs requests without this plugin");
        return true;
    }

    private Plugin load(WasmPluginSpec spec, Diagnostics diagnostics) {
        String error = null;
        LoadedModule module = null;
        try {
            if (spec.imagePullSecret() != null && spec.pullCredentials() == null && spec.url().startsWith("oci://")) {
                throw new IOException("imagePullSecret " + spec.imagePullSecret() + ": no Secret of type "
                        + "kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg of that name in namespace "
                        + spec.name().namespace());
            }
            byte[] bytes = source.fetch(spec.url(), spec.sha256(),
                    spec.url().startsWith("oci://") ? spec.pullCredentials() : null);
            String digest = ModuleSource.sha256(bytes);
            module = modules.get(digest);
            if (module == null) {
                module = compile(digest, bytes, settings.compiler(), settings.maxMemoryPages());
                modules.put(digest, module);
            }
        } catch (IOException | RuntimeException e) {
            error = "module " + spec.url() + " cannot be loaded: " + describe(e);
        }
        if (error != null) {
            report(diagnostics, spec, error);
            log.warn("{} {}: {}", spec.kind(), spec.name(), error);
        }
        return new Plugin(spec, module, error, settings, metrics, sharedData, registry, callout);
    }

    private static void report(Diagnostics diagnostics, WasmPluginSpec spec, String error) {
        String field = spec.kind().equals("TrafficExtension") ? "spec.wasm.url" : "spec.url";
        diagnostics.error(spec.source(), spec.kind(), spec.name(), field, error + " (failStrategy "
                + spec.failStrategy() + ": " + (spec.failStrategy() == WasmPluginSpec.FailStrategy.FAIL_OPEN
                ? "requests skip the plugin)" : "requests are denied with 403)"));
    }

    /** Parses {@code bytes}, checks the proxy-wasm exports, and compiles (or not) to JVM bytecode. */
    static LoadedModule compile(String digest, byte[] bytes, boolean compiler, int maxMemoryPages) {
        WasmModule module = Parser.parse(bytes);
        var memory = module.memorySection();
        if (memory.isPresent() && memory.get().memoryCount() > 0
                && memory.get().getMemory(0).limits().initialPages() > maxMemoryPages) {
            throw new IllegalArgumentException("the module starts with " + memory.get().getMemory(0).limits().initialPages()
                    + " memory pages (expected: at most " + maxMemoryPages + ", 64 KiB each)");
        }
        String abi = null;
        var ex = module.exportSection();
        for (int i = 0; i < ex.exportCount(); i++) {
            String n = ex.getExport(i).name();
            if (ex.getExport(i).exportType() == ExternalType.FUNCTION && n.startsWith("proxy_abi_version_")) {
                abi = n.substring("proxy_abi_version_".length()).replace('_', '.');
            }
        }
        if (abi == null) {
            throw new IllegalArgumentException("not a proxy-wasm module (no proxy_abi_version_* export)");
        }
        if (!abi.equals("0.2.1") && !abi.equals("0.2.0")) {
            throw new IllegalArgumentException("proxy-wasm ABI " + abi + " (expected: 0.2.1 or 0.2.0)");
        }
        Function<Instance, Machine> machine = compiler ? MachineFactoryCompiler.compile(module) : null;
        return new LoadedModule(digest, module, machine, abi);
    }

    /**
     * An exception in words: its message, or (the JDK's HttpClient throws a ConnectException with
     * none when nothing answers) its type and its cause's message; it read "cannot be loaded: null".
     */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t == e ? t.getMessage() : e.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        return e.getClass().getSimpleName();
    }
}
