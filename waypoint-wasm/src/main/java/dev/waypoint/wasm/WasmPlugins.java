package dev.waypoint.wasm;

import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Target;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The compiled wasm part of a snapshot: per {@link PluginPhase}, the plugins in execution order.
 * Istio: "higher priority first within a phase", ties by namespace and name (so the order never
 * depends on file order). Which of them run for a request is decided per request from its target
 * ({@link #applies}): targetRefs as for every waypoint policy, then {@code match}.
 *
 * <h2>Threading</h2>
 * Immutable; read by every event loop.
 */
public final class WasmPlugins {
    /** The snapshot key. */
    public static final SnapshotPart<WasmPlugins> PART = SnapshotPart.of("wasmPlugins", WasmPlugins.class);

    private static final Plugin[] NONE = new Plugin[0];
    private static final Comparator<Plugin> ORDER = Comparator.<Plugin>comparingInt(p -> -p.spec().priority())
            .thenComparing(p -> p.spec().name().namespace())
            .thenComparing(p -> p.spec().name().name())
            .thenComparing(p -> p.spec().kind());

    private final EnumMap<PluginPhase, Plugin[]> byPhase = new EnumMap<>(PluginPhase.class);
    private final List<Plugin> all;
    private final NamespacedName waypoint;
    private final String rootNamespace;

    WasmPlugins(List<Plugin> plugins, NamespacedName waypoint, String rootNamespace) {
        this.all = List.copyOf(plugins);
        this.waypoint = waypoint;
        this.rootNamespace = rootNamespace;
        for (PluginPhase phase : PluginPhase.values()) {
            byPhase.put(phase, plugins.stream().filter(p -> p.spec().phase() == phase).sorted(ORDER)
                    .toArray(Plugin[]::new));
        }
    }

    /** No plugins. */
    public static WasmPlugins empty() {
        return new WasmPlugins(List.of(), new NamespacedName("", ""), "istio-system");
    }

    Plugin[] phase(PluginPhase phase) {
        Plugin[] p = byPhase.get(phase);
        return p == null ? NONE : p;
    }

    List<Plugin> all() {
        return all;
    }

    /** Whether {@code p} runs for {@code request}: attached to its target, and its match (if any) selects it. */
    boolean applies(Plugin p, RequestContext request) {
        return applies(p.spec(), request.target());
    }

    boolean applies(WasmPluginSpec spec, Target target) {
        int port;
        boolean attached;
        if (target instanceof Target.ServiceTarget st) {
            port = st.port().port();
            attached = spec.attaches(st.service().name().namespace(), st.service().name().name(), waypoint.namespace(),
                    waypoint.name(), rootNamespace);
        } else {
            port = target.authority().port();
            String ns = target instanceof Target.WorkloadTarget wt ? wt.pod().name().namespace() : "";
            attached = spec.attaches(ns, null, waypoint.namespace(), waypoint.name(), rootNamespace);
        }
        if (!attached) {
            return false;
        }
        if (spec.match().isEmpty()) {
            return true;
        }
        for (WasmPluginSpec.TrafficSelector m : spec.match()) {
            // a waypoint serves the called side: SERVER traffic (CLIENT selects sidecars' outbound)
            boolean mode = m.mode() != WasmPluginSpec.Mode.CLIENT;
            if (mode && (m.ports().isEmpty() || m.ports().contains(port))) {
                return true;
            }
        }
        return false;
    }

    /** Every plugin with its phase, order and state (loaded, or the load error): for the config dump. */
    public List<Map<String, Object>> debug() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (PluginPhase phase : PluginPhase.values()) {
            for (Plugin p : phase(phase)) {
                out.add(p.debug());
            }
        }
        return out;
    }
}
