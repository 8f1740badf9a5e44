package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.extension.WasmPluginSpec.FailStrategy;
import dev.waypoint.model.extension.WasmPluginSpec.Mode;
import dev.waypoint.model.extension.WasmPluginSpec.TrafficSelector;
import dev.waypoint.model.mesh.NamespacedName;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code extensions.istio.io/v1alpha1} {@code WasmPlugin}, and the {@code wasm} variant of
 * {@code TrafficExtension}, → {@link WasmPluginSpec}. Field meanings follow Istio's
 * {@code extensions/v1alpha1/wasm.proto} (shared/spec/waypoint.md §8): a {@code url} without a
 * scheme is {@code oci://}; {@code sha256} is 64 hex digits and must equal an {@code @sha256:}
 * digest in the url; {@code pluginConfig} is passed to the plugin as JSON text;
 * {@code failStrategy} defaults to FAIL_CLOSE; {@code vmConfig.env} HOST values are read from this
 * process's environment (as Istio reads the proxy's), INLINE values as written.
 *
 * <p>A {@code TrafficExtension} carries {@code targetRefs}, {@code selector}, {@code phase},
 * {@code priority} and {@code match} at the top of its spec and the module under {@code wasm}
 * ({@code url}, {@code sha256}, {@code pluginName}, {@code pluginConfig}, {@code failStrategy},
 * {@code vmConfig}, {@code imagePullPolicy}, {@code imagePullSecret}, {@code type}); a {@code lua}
 * extension is an error: no Lua runtime runs here.
 *
 * <p>Only the shape is checked here; whether the module can be fetched and compiled is the wasm
 * compiler's business, and a module that cannot never rejects the object.
 */
final class WasmPluginTranslator {
    private static final Set<String> MODULE_FIELDS = Set.of("url", "sha256", "imagePullPolicy", "imagePullSecret",
            "verificationKey", "pluginConfig", "pluginName", "failStrategy", "vmConfig", "type");
    private static final Set<String> ATTACH_FIELDS = Set.of("selector", "targetRef", "targetRefs", "phase", "priority",
            "match");
    private static final Set<String> EXTENSION_FIELDS = Set.of("selector", "targetRef", "targetRefs", "phase",
            "priority", "match", "wasm", "lua");
    private static final Set<String> MATCH_FIELDS = Set.of("mode", "ports");
    private static final Set<String> PORT_FIELDS = Set.of("number");
    private static final Set<String> ENV_FIELDS = Set.of("name", "valueFrom", "value");
    private static final Set<String> VM_FIELDS = Set.of("env");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
    private static final ObjectMapper JSON = new ObjectMapper();

    private WasmPluginTranslator() {}

    /** A {@code WasmPlugin}. */
    static WasmPluginSpec wasmPlugin(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        java.util.HashSet<String> known = new java.util.HashSet<>(MODULE_FIELDS);
        known.addAll(ATTACH_FIELDS);
        ctx.unknownKeys(spec, "spec", known);
        return read(ctx, "WasmPlugin", spec, spec, "spec", name);
    }

    /** A {@code TrafficExtension}: its {@code wasm} variant, or an error for {@code lua}. */
    static WasmPluginSpec trafficExtension(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.unknownKeys(spec, "spec", EXTENSION_FIELDS);
        JsonNode wasm = ctx.object(spec, "spec", "wasm");
        JsonNode lua = child(spec, "lua");
        if (lua != null) {
            ctx.error("spec.lua", message("lua", render(lua), "a wasm extension; Lua extensions are not supported "
                    + "by this waypoint (no Lua runtime for the JVM is used)"));
            return null;
        }
        if (wasm == null) {
            ctx.error("spec.wasm", message("wasm", "missing", "a wasm module: {url: ...}"));
            return null;
        }
        ctx.unknownKeys(wasm, "spec.wasm", MODULE_FIELDS);
        return read(ctx, "TrafficExtension", spec, wasm, "spec.wasm", name);
    }

    private static WasmPluginSpec read(ObjectContext ctx, String kind, JsonNode spec, JsonNode module, String mp,
                                       NamespacedName name) {
        JsonNode selector = ctx.object(spec, "spec", "selector");
        PolicyTargetRefs.Read targets = PolicyTargetRefs.read(ctx, spec, "Service or Gateway");
        if (selector != null && targets.written()) {
            ctx.error("spec.selector", message("selector", render(selector), "only one of selector or targetRefs"));
        } else if (selector != null) {
            ctx.warning("spec.selector", "a waypoint applies " + kind + " through targetRefs only; this "
                    + "selector-based object is for sidecars and gateways, not here");
        } else if (!targets.written()) {
            ctx.warning("spec.targetRefs", "missing: a waypoint applies " + kind + " through targetRefs only; "
                    + "it attaches to nothing here");
        }

        PluginPhase phase = phase(ctx, spec);
        int priority = priority(ctx, spec);
        List<TrafficSelector> match = match(ctx, spec);

        String url = ctx.requiredString(module, mp, "url", "a module URL: file://, http://, https:// or oci://");
        String sha256 = ctx.string(module, mp, "sha256");
        if (sha256 != null && !SHA256.matcher(sha256).matches()) {
            ctx.error(path(mp, "sha256"), message("sha256", sha256, "64 hexadecimal digits"));
            sha256 = null;
        } else if (sha256 != null) {
            sha256 = sha256.toLowerCase(Locale.ROOT);
        }
        if (url != null) {
            url = url(ctx, url, sha256, path(mp, "url"));
        }
        String pluginName = ctx.string(module, mp, "pluginName");
        String pluginConfig = null;
        JsonNode config = child(module, "pluginConfig");
        if (config != null && !config.isNull()) {
            if (!config.isObject()) {
                ctx.error(path(mp, "pluginConfig"), message("pluginConfig", renderJson(config), "an object"));
            } else {
                try {
                    // Istio marshals the Struct to JSON and hands the text to the plugin
                    pluginConfig = JSON.writeValueAsString(config);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    ctx.error(path(mp, "pluginConfig"), message("pluginConfig", render(config), "JSON"));
                }
            }
        }
        FailStrategy fail = FailStrategy.FAIL_CLOSE;
        String fs = ctx.string(module, mp, "failStrategy");
        if (fs != null) {
            try {
                fail = FailStrategy.valueOf(fs);
            } catch (IllegalArgumentException e) {
                ctx.error(path(mp, "failStrategy"), message("failStrategy", fs, "FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD"));
            }
        }
        String type = ctx.string(module, mp, "type");
        if (type != null && !type.equals("HTTP") && !type.equals("UNSPECIFIED_PLUGIN_TYPE")) {
            ctx.error(path(mp, "type"), message("type", type, "HTTP; NETWORK plugins are not supported here"));
        }
        String pullPolicy = ctx.string(module, mp, "imagePullPolicy");
        if (pullPolicy != null && !Set.of("UNSPECIFIED_POLICY", "IfNotPresent", "Always").contains(pullPolicy)) {
            ctx.error(path(mp, "imagePullPolicy"), message("imagePullPolicy", pullPolicy, "IfNotPresent or Always"));
        }
        String pullSecret = ctx.string(module, mp, "imagePullSecret");
        if (pullSecret != null && pullSecret.isEmpty()) {
            pullSecret = null;
        } else if (pullSecret != null && !ObjectContext.isSubdomain(pullSecret)) {
            ctx.error(path(mp, "imagePullSecret"), message("imagePullSecret", pullSecret,
                    "the name of a Secret in the plugin's namespace"));
            pullSecret = null;
        } else if (pullSecret != null && url != null && !url.startsWith("oci://")) {
            ctx.warning(path(mp, "imagePullSecret"), "ignored: only oci:// modules are pulled with registry logins");
        }
        if (child(module, "verificationKey") != null) {
            ctx.warning(path(mp, "verificationKey"), "ignored (unimplemented in Istio too)");
        }
        Map<String, String> env = env(ctx, module, mp);
        if (url == null) {
            return null;
        }
        return new WasmPluginSpec(kind, name, targets.refs(), selector != null, phase, priority, url, sha256,
                pluginName, pluginConfig, fail, env, match, ctx.source(), pullSecret, null);
    }

    private static PluginPhase phase(ObjectContext ctx, JsonNode spec) {
        String p = ctx.string(spec, "spec", "phase");
        if (p == null || p.equals("UNSPECIFIED_PHASE")) {
            return PluginPhase.UNSPECIFIED;
        }
        return switch (p) {
            case "AUTHN" -> PluginPhase.AUTHN;
            case "AUTHZ" -> PluginPhase.AUTHZ;
            case "STATS" -> PluginPhase.STATS;
            default -> {
                ctx.error("spec.phase", message("phase", p, "AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE"));
                yield PluginPhase.UNSPECIFIED;
            }
        };
    }

    private static int priority(ObjectContext ctx, JsonNode spec) {
        JsonNode n = child(spec, "priority");
        if (n == null || n.isNull()) {
            return 0;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            ctx.error("spec.priority", message("priority", renderJson(n), "a 32-bit integer"));
            return 0;
        }
        return n.intValue();
    }

    private static List<TrafficSelector> match(ObjectContext ctx, JsonNode spec) {
        List<TrafficSelector> out = new ArrayList<>();
        List<JsonNode> items = ctx.list(spec, "spec", "match");
        for (int i = 0; i < items.size(); i++) {
            String p = index("spec.match", i);
            JsonNode m = ctx.element(items.get(i), p, "match[" + i + "]");
            if (m == null) {
                continue;
            }
            ctx.unknownKeys(m, p, MATCH_FIELDS);
            Mode mode = Mode.UNDEFINED;
            String ms = ctx.string(m, p, "mode");
            if (ms != null) {
                try {
                    mode = Mode.valueOf(ms);
                } catch (IllegalArgumentException e) {
                    ctx.error(path(p, "mode"), message("mode", ms, "UNDEFINED, CLIENT, SERVER or CLIENT_AND_SERVER"));
                }
            }
            List<Integer> ports = new ArrayList<>();
            List<JsonNode> ps = ctx.list(m, p, "ports");
            for (int j = 0; j < ps.size(); j++) {
                String pp = index(path(p, "ports"), j);
                JsonNode port = ctx.element(ps.get(j), pp, "ports[" + j + "]");
                if (port == null) {
                    continue;
                }
                ctx.unknownKeys(port, pp, PORT_FIELDS);
                int number = ctx.port(port, pp, "number");
                if (number > 0) {
                    ports.add(number);
                } else if (child(port, "number") == null) {
                    ctx.error(path(pp, "number"), message("number", "missing", "a port number 1-65535"));
                }
            }
            out.add(new TrafficSelector(mode, ports));
        }
        return out;
    }

    private static String url(ObjectContext ctx, String url, String sha256, String p) {
        String u = url.contains("://") ? url : "oci://" + url;
        try {
            URI uri = new URI(u);
            String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
            switch (scheme) {
                case "file" -> {
                    if (uri.getPath() == null || uri.getPath().isEmpty()) {
                        ctx.error(p, message("url", url, "file:///absolute/path.wasm"));
                        return null;
                    }
                }
                case "http", "https" -> {
                    if (uri.getHost() == null) {
                        ctx.error(p, message("url", url, "an http(s) URL with a host"));
                        return null;
                    }
                    if (sha256 == null) {
                        ctx.warning(p, "no sha256: the fetched module is not verified");
                    }
                }
                case "oci" -> {
                    int at = u.indexOf("@sha256:");
                    if (at >= 0 && sha256 != null && !u.substring(at + 8).equalsIgnoreCase(sha256)) {
                        ctx.error(p, message("url", url, "a digest equal to sha256 " + sha256));
                        return null;
                    }
                }
                default -> {
                    ctx.error(p, message("url", url, "a file://, http://, https:// or oci:// URL"));
                    return null;
                }
            }
            return u;
        } catch (URISyntaxException | NullPointerException e) {
            ctx.error(p, message("url", url, "a file://, http://, https:// or oci:// URL"));
            return null;
        }
    }

    private static Map<String, String> env(ObjectContext ctx, JsonNode module, String mp) {
        Map<String, String> env = new LinkedHashMap<>();
        JsonNode vm = ctx.object(module, mp, "vmConfig");
        if (vm == null) {
            return env;
        }
        String vp = path(mp, "vmConfig");
        ctx.unknownKeys(vm, vp, VM_FIELDS);
        List<JsonNode> items = ctx.list(vm, vp, "env");
        for (int i = 0; i < items.size(); i++) {
            String p = index(path(vp, "env"), i);
            JsonNode e = ctx.element(items.get(i), p, "env[" + i + "]");
            if (e == null) {
                continue;
            }
            ctx.unknownKeys(e, p, ENV_FIELDS);
            String name = ctx.requiredString(e, p, "name", "an environment variable name");
            String from = ctx.string(e, p, "valueFrom");
            String value = ctx.string(e, p, "value");
            if (name == null) {
                continue;
            }
            if (from == null || from.equals("INLINE")) {
                env.put(name, value == null ? "" : value);
            } else if (from.equals("HOST")) {
                String v = System.getenv(name);
                if (v != null) {
                    env.put(name, v);
                }
            } else {
                ctx.error(path(p, "valueFrom"), message("valueFrom", from, "INLINE or HOST"));
            }
        }
        return env;
    }
}
