package dev.waypoint.model.extension;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A validated {@code extensions.istio.io/v1alpha1} {@code WasmPlugin}, or the {@code wasm} variant
 * of a {@code TrafficExtension} (same fields, see waypoint-wasm's README). The module is not
 * loaded here: {@link #url()} is fetched and compiled by the wasm stage's compiler, so a module
 * that cannot be loaded never rejects the object (the plugin is reported and its
 * {@link #failStrategy()} decides the traffic).
 *
 * @param kind {@code WasmPlugin} or {@code TrafficExtension}
 * @param targetRefs {@code targetRefs} (singular folded in); a waypoint applies only these
 * @param hasSelector whether {@code selector} was set (a waypoint ignores such objects)
 * @param phase {@code phase}; {@link PluginPhase#UNSPECIFIED} when absent
 * @param priority {@code priority}, higher first within a phase; 0 when absent
 * @param url {@code file://}, {@code http://}, {@code https://} or {@code oci://} (a URL without a
 *        scheme was read as {@code oci://})
 * @param sha256 lower-case hex digest the module must have, or null
 * @param pluginName {@code pluginName}: the plugin's root id; empty when absent
 * @param pluginConfig {@code pluginConfig} as JSON text (as Istio passes it), or null when absent
 * @param failStrategy {@code failStrategy}, {@link FailStrategy#FAIL_CLOSE} by default
 * @param env {@code vmConfig.env} INLINE values by name (HOST values resolved at translation)
 * @param match {@code match}; empty = every request
 * @param imagePullSecret {@code imagePullSecret}: a Secret's name in the plugin's namespace, or null
 * @param pullCredentials that Secret's registry logins when it was found (of type
 *        {@code kubernetes.io/dockerconfigjson} or {@code kubernetes.io/dockercfg}), else null;
 *        shown by no {@code toString} (see {@link RegistryCredentials})
 */
public record WasmPluginSpec(String kind, NamespacedName name, List<PolicyTargetRef> targetRefs, boolean hasSelector,
                             PluginPhase phase, int priority, String url, String sha256, String pluginName,
                             String pluginConfig, FailStrategy failStrategy, Map<String, String> env,
                             List<TrafficSelector> match, SourceRef source, String imagePullSecret,
                             RegistryCredentials pullCredentials) {
    public WasmPluginSpec {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
        targetRefs = List.copyOf(targetRefs);
        Objects.requireNonNull(phase, "phase");
        Objects.requireNonNull(url, "url");
        pluginName = pluginName == null ? "" : pluginName;
        Objects.requireNonNull(failStrategy, "failStrategy");
        env = Map.copyOf(env);
        match = List.copyOf(match);
        Objects.requireNonNull(source, "source");
        if (imagePullSecret == null && pullCredentials != null) {
            throw new IllegalArgumentException("pullCredentials without an imagePullSecret");
        }
    }

    /** A plugin without {@code imagePullSecret}. */
    public WasmPluginSpec(String kind, NamespacedName name, List<PolicyTargetRef> targetRefs, boolean hasSelector,
                          PluginPhase phase, int priority, String url, String sha256, String pluginName,
                          String pluginConfig, FailStrategy failStrategy, Map<String, String> env,
                          List<TrafficSelector> match, SourceRef source) {
        this(kind, name, targetRefs, hasSelector, phase, priority, url, sha256, pluginName, pluginConfig, failStrategy,
                env, match, source, null, null);
    }

    /** This plugin with its {@code imagePullSecret}'s logins resolved ({@code credentials} null: no such Secret). */
    public WasmPluginSpec withPullCredentials(RegistryCredentials credentials) {
        return new WasmPluginSpec(kind, name, targetRefs, hasSelector, phase, priority, url, sha256, pluginName,
                pluginConfig, failStrategy, env, match, source, imagePullSecret, credentials);
    }

    /** {@code failStrategy}. */
    public enum FailStrategy {
        /** Unloadable module: deny (403); runtime failure: 503. Istio's default. */
        FAIL_CLOSE,
        /** Skip the plugin when it cannot be loaded or fails at run time. */
        FAIL_OPEN,
        /** As FAIL_CLOSE for the failing request, and a new VM for the next one. */
        FAIL_RELOAD
    }

    /** {@code WorkloadMode} of a {@code match} entry. */
    public enum Mode { UNDEFINED, CLIENT, SERVER, CLIENT_AND_SERVER }

    /**
     * One {@code match} entry: applies when the mode is right for a waypoint (SERVER-side traffic,
     * see waypoint-wasm's README) and, when {@code ports} is not empty, the called port is one of them.
     */
    public record TrafficSelector(Mode mode, List<Integer> ports) {
        public TrafficSelector {
            Objects.requireNonNull(mode, "mode");
            ports = List.copyOf(ports);
        }
    }

    /**
     * Whether this plugin applies to calls of Service {@code serviceNamespace/serviceName}
     * ({@code serviceName} null: a Pod-addressed call), per {@link PolicyTargetRef#attaches}.
     */
    public boolean attaches(String serviceNamespace, String serviceName, String waypointNamespace, String waypointName,
                            String rootNamespace) {
        return PolicyTargetRef.attaches(targetRefs, name.namespace(), serviceNamespace, serviceName, waypointNamespace,
                waypointName, rootNamespace);
    }
}
