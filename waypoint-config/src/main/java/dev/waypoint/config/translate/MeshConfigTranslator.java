package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Istio MeshConfig YAML → {@link MeshConfigSpec} (STYLE rule 2). The input is what sits under the
 * {@code mesh} key of the {@code istio} ConfigMap: {@code istio/api mesh/v1alpha1/config.proto}
 * in its YAML form.
 *
 * <p>Fields this waypoint does not read are ignored: MeshConfig has some eighty fields, and Istio
 * itself decodes it a second time with {@code AllowUnknownFields} when the strict decode fails.
 * Inside an ext_authz provider, where an unread field changes who gets in, an unknown field is a
 * warning. A field that is read but holds a wrong value is an error, and an error rejects the
 * whole mesh config (the caller keeps the last good one): a mesh config is one object.
 *
 * <p>Provider kinds other than the six typed ones are kept as
 * {@link ExtensionProviderSpec.Unsupported}, with a note.
 *
 * <h2>Threading</h2>
 * Pure; runs on the config executor (or the {@code validate} command's thread).
 */
public final class MeshConfigTranslator {
    static final String KIND = "MeshConfig";

    private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
            .build());

    /** Istio's default ext_authz timeout ({@code EnvoyExternalAuthorizationHttpProvider.timeout}). */
    static final Duration DEFAULT_EXT_AUTHZ_TIMEOUT = Duration.ofSeconds(600);
    /** Istio: "The default status is 403 (HTTP Forbidden)". */
    static final int DEFAULT_STATUS_ON_ERROR = 403;

    private static final Set<String> TYPED_KINDS = Set.of("envoyExtAuthzHttp", "envoyExtAuthzGrpc", "zipkin",
            "opentelemetry", "envoyFileAccessLog", "prometheus");
    /** The other oneof members of {@code MeshConfig.ExtensionProvider.provider}. */
    private static final Set<String> OTHER_KINDS = Set.of("stackdriver", "datadog", "lightstep", "skywalking",
            "envoyHttpAls", "envoyTcpAls", "envoyOtelAls", "sds", "stackdriverExporter");
    private static final Set<String> HTTP_FIELDS = Set.of("service", "port", "timeout", "pathPrefix", "failOpen",
            "clearRouteCache", "statusOnError", "includeHeadersInCheck", "includeRequestHeadersInCheck",
            "includeAdditionalHeadersInCheck", "includeRequestBodyInCheck", "headersToUpstreamOnAllow",
            "headersToDownstreamOnDeny", "headersToDownstreamOnAllow");
    private static final Set<String> GRPC_FIELDS = Set.of("service", "port", "timeout", "failOpen", "clearRouteCache",
            "statusOnError", "includeRequestBodyInCheck");
    private static final Set<String> BODY_FIELDS = Set.of("maxRequestBytes", "allowPartialMessage", "packAsBytes");
    private static final String DURATION_EXPECTED = "a duration such as 5s, 500ms or 1m30s";

    private MeshConfigTranslator() {}

    /**
     * Parses and translates MeshConfig YAML text.
     *
     * @param text the YAML
     * @param source what problems point at: the {@code --mesh-config} file, or the ConfigMap
     * @param name the ConfigMap's name for problems, or null for a file
     * @param fieldPrefix prefix of every field path ({@code data.mesh} in a ConfigMap, empty in a file)
     * @return the mesh config, or null when it has an error (reported)
     */
    public static MeshConfigSpec parse(String text, SourceRef source, NamespacedName name, String fieldPrefix,
                                       Diagnostics diagnostics) {
        ObjectContext ctx = new ObjectContext(diagnostics, source, KIND);
        ctx.name(name);
        JsonNode tree;
        try {
            tree = text.isBlank() ? null : YAML.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            int line = at == null ? 0 : at.getLineNr();
            String why = "not valid YAML: " + oneLine(e.getOriginalMessage());
            if (fieldPrefix.isEmpty()) {
                diagnostics.error(new SourceRef(source.file(), line), KIND, name, "-", why);
            } else {
                // the YAML sits in a string of the ConfigMap: its own line numbers start at that string
                ctx.error(fieldPrefix, (line > 0 ? "line " + line + " of the value: " : "") + why);
            }
            return null;
        }
        if (tree == null || tree.isNull() || tree.isMissingNode()) {
            return new MeshConfigSpec(source, null, List.of(), null, List.of(), MeshConfigSpec.DefaultProviders.NONE,
                    null, null, MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null, null, null);
        }
        return translate(ctx, tree, fieldPrefix);
    }

    private static MeshConfigSpec translate(ObjectContext ctx, JsonNode tree, String p) {
        if (!tree.isObject()) {
            ctx.error(p.isEmpty() ? "-" : p, message("mesh", render(tree), "a MeshConfig object"));
            return null;
        }
        String trustDomain = ctx.string(tree, p, "trustDomain");
        List<String> aliases = ctx.stringList(tree, p, "trustDomainAliases");
        String rootNamespace = ctx.string(tree, p, "rootNamespace");
        if (rootNamespace != null && !ObjectContext.isLabel(rootNamespace)) {
            ctx.error(path(p, "rootNamespace"), message("rootNamespace", rootNamespace, ObjectContext.DNS1123_LABEL));
        }
        List<ExtensionProviderSpec> providers = providers(ctx, tree, p);
        MeshConfigSpec.DefaultProviders defaults = defaultProviders(ctx, tree, p, providers);
        MeshConfigSpec.HttpRetry retry = retry(ctx, tree, p);
        String accessLogFile = ctx.string(tree, p, "accessLogFile");
        if (accessLogFile != null && accessLogFile.isEmpty()) {
            accessLogFile = null;
        }
        MeshConfigSpec.AccessLogEncoding encoding = enumValue(ctx, tree, p, "accessLogEncoding",
                MeshConfigSpec.AccessLogEncoding.class, MeshConfigSpec.AccessLogEncoding.TEXT);
        String accessLogFormat = ctx.string(tree, p, "accessLogFormat");
        if (accessLogFormat != null && accessLogFormat.isEmpty()) {
            accessLogFormat = null;
        }
        Boolean enableTracing = null;
        if (child(tree, "enableTracing") != null) {
            enableTracing = ctx.bool(tree, p, "enableTracing", true);
        }

        String dp = path(p, "defaultConfig");
        JsonNode defaultConfig = ctx.object(tree, p, "defaultConfig");
        Double sampling = null;
        Integer trustedProxies = null;
        if (defaultConfig != null) {
            JsonNode tracing = ctx.object(defaultConfig, dp, "tracing");
            JsonNode s = child(tracing, "sampling");
            if (s != null) {
                String sp = path(path(dp, "tracing"), "sampling");
                if (!s.isNumber() || s.doubleValue() < 0 || s.doubleValue() > 100) {
                    ctx.error(sp, message("sampling", renderJson(s), "a percentage from 0.0 to 100.0"));
                } else {
                    sampling = s.doubleValue();
                }
            }
            JsonNode topology = ctx.object(defaultConfig, dp, "gatewayTopology");
            if (child(topology, "numTrustedProxies") != null) {
                trustedProxies = ctx.integer(topology, path(dp, "gatewayTopology"), "numTrustedProxies", 0,
                        Integer.MAX_VALUE, 0);
            }
        }

        MeshConfigSpec.PathNormalization normalization = null;
        JsonNode pn = ctx.object(tree, p, "pathNormalization");
        if (pn != null && child(pn, "normalization") != null) {
            JsonNode n = child(pn, "normalization");
            String np = path(path(p, "pathNormalization"), "normalization");
            String v = n.isTextual() ? n.textValue() : null;
            if ("DEFAULT".equals(v)) {
                normalization = MeshConfigSpec.PathNormalization.BASE; // Istio: "DEFAULT: BASE"
            } else {
                normalization = parseEnum(MeshConfigSpec.PathNormalization.class, v);
                if (normalization == null) {
                    ctx.error(np, message("normalization", renderJson(n),
                            "DEFAULT, NONE, BASE, MERGE_SLASHES or DECODE_AND_MERGE_SLASHES"));
                }
            }
        }
        Duration connectTimeout = connectTimeout(ctx, tree, p);
        TrafficPolicySpec.TcpKeepaliveSpec tcpKeepalive = tcpKeepalive(ctx, tree, p);
        TrafficPolicySpec.LocalityLbSpec localityLb = DestinationRuleTranslator.locality(ctx,
                ctx.object(tree, p, "localityLbSetting"), path(p, "localityLbSetting"));
        boolean h2Upgrade = false;
        JsonNode h2 = child(tree, "h2UpgradePolicy");
        if (h2 != null) {
            String v = h2.isTextual() ? h2.textValue() : null;
            if ("UPGRADE".equals(v)) {
                h2Upgrade = true;
            } else if (!"DO_NOT_UPGRADE".equals(v)) {
                ctx.error(path(p, "h2UpgradePolicy"), message("h2UpgradePolicy", renderJson(h2), "DO_NOT_UPGRADE or UPGRADE"));
            }
        }
        if (ctx.failed()) {
            return null;
        }
        return new MeshConfigSpec(ctx.source(), trustDomain == null || trustDomain.isEmpty() ? null : trustDomain,
                aliases, rootNamespace, providers, defaults, retry, accessLogFile, encoding, accessLogFormat,
                enableTracing, sampling, trustedProxies, normalization, connectTimeout, tcpKeepalive, localityLb, h2Upgrade);
    }

    private static List<ExtensionProviderSpec> providers(ObjectContext ctx, JsonNode tree, String p) {
        String lp = path(p, "extensionProviders");
        List<JsonNode> nodes = ctx.list(tree, p, "extensionProviders");
        List<ExtensionProviderSpec> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            String ep = index(lp, i);
            JsonNode n = ctx.element(nodes.get(i), ep, "extensionProviders[" + i + "]");
            if (n == null) {
                continue;
            }
            String name = ctx.requiredString(n, ep, "name", "a provider name");
            List<String> kinds = new ArrayList<>();
            n.fieldNames().forEachRemaining(f -> {
                if (!f.equals("name")) {
                    kinds.add(f);
                }
            });
            if (name == null) {
                continue;
            }
            if (!names.add(name)) {
                // Istio's ValidateMeshConfig: "duplicate extension provider name"
                ctx.error(path(ep, "name"), message("name", name, "unique among extensionProviders"));
                continue;
            }
            if (kinds.size() != 1) {
                ctx.error(ep, message("extensionProviders[" + i + "]", kinds.isEmpty() ? "no provider" : String.join(", ", kinds),
                        "exactly one provider kind, such as envoyExtAuthzHttp or zipkin"));
                continue;
            }
            String kind = kinds.get(0);
            String kp = path(ep, kind);
            JsonNode body = ctx.object(n, ep, kind);
            if (body == null && child(n, kind) != null) {
                continue; // not an object: reported
            }
            if (!TYPED_KINDS.contains(kind)) {
                if (!OTHER_KINDS.contains(kind)) {
                    ctx.warning(kp, message(kind, "unknown provider kind", "one of " + String.join(", ",
                            new java.util.TreeSet<>(TYPED_KINDS))));
                } else {
                    ctx.note(kp, kind + " providers are not supported by this waypoint; policies or telemetry "
                            + "naming '" + name + "' treat it as unsupported");
                }
                out.add(new ExtensionProviderSpec.Unsupported(name, kind));
                continue;
            }
            ExtensionProviderSpec spec = switch (kind) {
                case "envoyExtAuthzHttp" -> extAuthzHttp(ctx, name, body, kp);
                case "envoyExtAuthzGrpc" -> extAuthzGrpc(ctx, name, body, kp);
                case "zipkin" -> new ExtensionProviderSpec.Zipkin(name, service(ctx, body, kp), ctx.port(body, kp, "port"),
                        ctx.integer(body, kp, "maxTagLength", 0, Integer.MAX_VALUE, 0),
                        ctx.bool(body, kp, "enable64bitTraceId", false));
                case "opentelemetry" -> openTelemetry(ctx, name, body, kp);
                case "envoyFileAccessLog" -> fileAccessLog(ctx, name, body, kp);
                default -> new ExtensionProviderSpec.Prometheus(name);
            };
            out.add(spec);
        }
        return out;
    }

    private static String service(ObjectContext ctx, JsonNode body, String kp) {
        String s = ctx.requiredString(body, kp, "service", "a hostname such as authz.foo.svc.cluster.local or foo/authz");
        return s == null ? "" : s;
    }

    private static ExtensionProviderSpec extAuthzHttp(ObjectContext ctx, String name, JsonNode b, String kp) {
        warnUnknown(ctx, b, kp, HTTP_FIELDS);
        if (child(b, "includeHeadersInCheck") != null) {
            ctx.warning(path(kp, "includeHeadersInCheck"),
                    "deprecated by Istio and not read; use includeRequestHeadersInCheck");
        }
        String service = service(ctx, b, kp);
        int port = ctx.port(b, kp, "port");
        Duration timeout = duration(ctx, b, kp, "timeout", DEFAULT_EXT_AUTHZ_TIMEOUT);
        String pathPrefix = ctx.string(b, kp, "pathPrefix");
        if (pathPrefix != null && !pathPrefix.isEmpty() && !pathPrefix.startsWith("/")) {
            // Istio's validation: "pathPrefix should begin with `/`"
            ctx.error(path(kp, "pathPrefix"), message("pathPrefix", pathPrefix, "a path starting with /"));
        }
        return new ExtensionProviderSpec.EnvoyExtAuthzHttp(name, service, port, timeout, pathPrefix,
                ctx.bool(b, kp, "failOpen", false), statusOnError(ctx, b, kp),
                headerNames(ctx, b, kp, "includeRequestHeadersInCheck"), ctx.stringMap(b, kp, "includeAdditionalHeadersInCheck"),
                body(ctx, b, kp), headerNames(ctx, b, kp, "headersToUpstreamOnAllow"),
                headerNames(ctx, b, kp, "headersToDownstreamOnAllow"), headerNames(ctx, b, kp, "headersToDownstreamOnDeny"));
    }

    private static ExtensionProviderSpec extAuthzGrpc(ObjectContext ctx, String name, JsonNode b, String kp) {
        warnUnknown(ctx, b, kp, GRPC_FIELDS);
        String service = service(ctx, b, kp);
        int port = ctx.port(b, kp, "port");
        Duration timeout = duration(ctx, b, kp, "timeout", DEFAULT_EXT_AUTHZ_TIMEOUT);
        return new ExtensionProviderSpec.EnvoyExtAuthzGrpc(name, service, port, timeout,
                ctx.bool(b, kp, "failOpen", false), statusOnError(ctx, b, kp), body(ctx, b, kp));
    }

    private static ExtensionProviderSpec openTelemetry(ObjectContext ctx, String name, JsonNode b, String kp) {
        String service = service(ctx, b, kp);
        int port = ctx.port(b, kp, "port");
        int maxTag = ctx.integer(b, kp, "maxTagLength", 0, Integer.MAX_VALUE, 0);
        JsonNode http = ctx.object(b, kp, "http");
        String hp = path(kp, "http");
        String httpPath = null;
        Duration httpTimeout = null;
        Map<String, String> headers = new LinkedHashMap<>();
        if (http != null) {
            httpPath = ctx.string(http, hp, "path");
            httpTimeout = duration(ctx, http, hp, "timeout", null);
            List<JsonNode> hs = ctx.list(http, hp, "headers");
            for (int i = 0; i < hs.size(); i++) {
                String ip = index(path(hp, "headers"), i);
                JsonNode h = ctx.element(hs.get(i), ip, "headers[" + i + "]");
                if (h == null) {
                    continue;
                }
                String hn = ctx.requiredString(h, ip, "name", "a header name");
                String hv = ctx.string(h, ip, "value");
                if (hn != null && hv != null) {
                    headers.put(hn, hv);
                }
            }
            if (httpPath == null) {
                httpPath = "/v1/traces"; // the OTLP/HTTP default path
            }
        }
        return new ExtensionProviderSpec.OpenTelemetry(name, service, port, maxTag, httpPath, httpTimeout, headers);
    }

    private static ExtensionProviderSpec fileAccessLog(ObjectContext ctx, String name, JsonNode b, String kp) {
        String file = ctx.string(b, kp, "path");
        JsonNode format = ctx.object(b, kp, "logFormat");
        String fp = path(kp, "logFormat");
        String text = ctx.string(format, fp, "text");
        Map<String, String> labels = new LinkedHashMap<>();
        JsonNode l = ctx.object(format, fp, "labels");
        if (l != null) {
            l.properties().forEach(e -> labels.put(e.getKey(),
                    e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString()));
        }
        if (text != null && l != null) {
            ctx.error(fp, message("logFormat", "text and labels", "one of text or labels"));
        }
        return new ExtensionProviderSpec.EnvoyFileAccessLog(name, file == null || file.isEmpty() ? "/dev/stdout" : file,
                text, labels);
    }

    private static ExtensionProviderSpec.RequestBody body(ObjectContext ctx, JsonNode b, String kp) {
        JsonNode n = ctx.object(b, kp, "includeRequestBodyInCheck");
        if (n == null) {
            return null;
        }
        String bp = path(kp, "includeRequestBodyInCheck");
        warnUnknown(ctx, n, bp, BODY_FIELDS);
        return new ExtensionProviderSpec.RequestBody(ctx.integer(n, bp, "maxRequestBytes", 0, Integer.MAX_VALUE, 0),
                ctx.bool(n, bp, "allowPartialMessage", false), ctx.bool(n, bp, "packAsBytes", false));
    }

    /** {@code statusOnError} is a string in the proto ({@code "503"}); an integer is read too. */
    private static int statusOnError(ObjectContext ctx, JsonNode b, String kp) {
        JsonNode n = child(b, "statusOnError");
        if (n == null) {
            return DEFAULT_STATUS_ON_ERROR;
        }
        String v = n.isTextual() ? n.textValue().trim() : n.isIntegralNumber() ? n.asText() : "";
        try {
            int status = Integer.parseInt(v);
            if (status >= 200 && status <= 599) {
                return status;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        ctx.error(path(kp, "statusOnError"), message("statusOnError", renderJson(n), "an HTTP status 200-599"));
        return DEFAULT_STATUS_ON_ERROR;
    }

    /** Header names, lower-cased (HTTP/2 and Envoy compare them so); each must be a token. */
    private static List<String> headerNames(ObjectContext ctx, JsonNode b, String kp, String key) {
        List<String> raw = ctx.stringList(b, kp, key);
        List<String> out = new ArrayList<>(raw.size());
        for (int i = 0; i < raw.size(); i++) {
            String h = raw.get(i);
            if (!h.chars().allMatch(c -> c > 32 && c < 127 && "()<>@,;\\\"/[]?={}".indexOf(c) < 0)) {
                ctx.error(index(path(kp, key), i), message(key + "[" + i + "]", h, "a header name"));
            } else {
                out.add(h.toLowerCase(java.util.Locale.ROOT));
            }
        }
        return out;
    }

    private static MeshConfigSpec.DefaultProviders defaultProviders(ObjectContext ctx, JsonNode tree, String p,
                                                                    List<ExtensionProviderSpec> providers) {
        JsonNode n = ctx.object(tree, p, "defaultProviders");
        if (n == null) {
            return MeshConfigSpec.DefaultProviders.NONE;
        }
        String dp = path(p, "defaultProviders");
        List<String> metrics = ctx.stringList(n, dp, "metrics");
        List<String> tracing = ctx.stringList(n, dp, "tracing");
        List<String> logging = ctx.stringList(n, dp, "accessLogging");
        Set<String> known = new HashSet<>();
        providers.forEach(x -> known.add(x.name()));
        for (String[] field : new String[][] {{"metrics"}, {"tracing"}, {"accessLogging"}}) {
            List<String> names = field[0].equals("metrics") ? metrics : field[0].equals("tracing") ? tracing : logging;
            for (int i = 0; i < names.size(); i++) {
                // Istio ships "prometheus" and "envoy" as built-in names
                String name = names.get(i);
                if (!known.contains(name) && !name.equals("prometheus") && !name.equals("envoy")) {
                    ctx.warning(index(path(dp, field[0]), i), message(field[0] + "[" + i + "]", name,
                            "the name of an extensionProviders entry"));
                }
            }
        }
        return new MeshConfigSpec.DefaultProviders(metrics, tracing, logging);
    }

    private static MeshConfigSpec.HttpRetry retry(ObjectContext ctx, JsonNode tree, String p) {
        JsonNode n = ctx.object(tree, p, "defaultHttpRetryPolicy");
        if (n == null) {
            return null;
        }
        String rp = path(p, "defaultHttpRetryPolicy");
        int attempts = ctx.integer(n, rp, "attempts", 0, Integer.MAX_VALUE, 0);
        Duration perTry = duration(ctx, n, rp, "perTryTimeout", null);
        if (perTry != null && perTry.isZero()) {
            ctx.error(path(rp, "perTryTimeout"), message("perTryTimeout", "0s", "a positive duration"));
        }
        String retryOn = ctx.string(n, rp, "retryOn");
        return new MeshConfigSpec.HttpRetry(attempts, perTry, retryOn == null || retryOn.isEmpty() ? null : retryOn);
    }

    /**
     * {@code connectTimeout}, checked as Istio's {@code ValidateConnectTimeout}
     * ({@code pkg/config/validation/agent/validation.go}): whole milliseconds, from 1 ms to 1 h.
     * Null when not written (Istio's default applies, 10 s).
     */
    private static Duration connectTimeout(ObjectContext ctx, JsonNode tree, String p) {
        JsonNode n = child(tree, "connectTimeout");
        Duration d = duration(ctx, tree, p, "connectTimeout", null);
        if (d == null) {
            return null;
        }
        if (!wholeMillis(d) || d.compareTo(Duration.ofHours(1)) > 0) {
            ctx.error(path(p, "connectTimeout"), message("connectTimeout", renderJson(n),
                    "a duration from 1ms to 1h, in whole milliseconds"));
            return null;
        }
        return d;
    }

    /**
     * {@code tcpKeepalive} ({@code ConnectionPoolSettings.TCPSettings.TcpKeepalive}): {@code probes},
     * {@code time}, {@code interval}; the durations checked as Istio's {@code ValidateDuration} (at
     * least 1 ms, whole milliseconds). An empty object is SO_KEEPALIVE with the system's probe
     * settings, as Istio's {@code setKeepAliveSettings} makes it. Null when not written.
     */
    private static TrafficPolicySpec.TcpKeepaliveSpec tcpKeepalive(ObjectContext ctx, JsonNode tree, String p) {
        JsonNode n = ctx.object(tree, p, "tcpKeepalive");
        if (n == null) {
            return null;
        }
        String kp = path(p, "tcpKeepalive");
        ctx.unknownKeys(n, kp, Set.of("probes", "time", "interval"));
        int probes = ctx.integer(n, kp, "probes", 0, Integer.MAX_VALUE, 0);
        return new TrafficPolicySpec.TcpKeepaliveSpec(probes, keepaliveDuration(ctx, n, kp, "time"),
                keepaliveDuration(ctx, n, kp, "interval"));
    }

    private static Duration keepaliveDuration(ObjectContext ctx, JsonNode n, String kp, String key) {
        Duration d = duration(ctx, n, kp, key, null);
        if (d != null && !wholeMillis(d)) {
            ctx.error(path(kp, key), message(key, renderJson(child(n, key)), "a duration of at least 1ms, in whole milliseconds"));
            return null;
        }
        return d;
    }

    /** Istio's {@code ValidateDuration}: "duration must be greater than 1ms", "only durations to ms precision". */
    private static boolean wholeMillis(Duration d) {
        return d.compareTo(Duration.ofMillis(1)) >= 0 && d.getNano() % 1_000_000 == 0;
    }

    private static void warnUnknown(ObjectContext ctx, JsonNode node, String p, Set<String> known) {
        node.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                ctx.warning(path(p, f), message(f, "unknown field, ignored", "one of "
                        + String.join(", ", new java.util.TreeSet<>(known))));
            }
        });
    }

    private static <E extends Enum<E>> E enumValue(ObjectContext ctx, JsonNode parent, String p, String key,
                                                   Class<E> type, E dflt) {
        JsonNode n = child(parent, key);
        if (n == null) {
            return dflt;
        }
        E v = parseEnum(type, n.isTextual() ? n.textValue() : null);
        if (v == null) {
            List<String> names = new ArrayList<>();
            for (E e : type.getEnumConstants()) {
                names.add(e.name());
            }
            ctx.error(path(p, key), message(key, renderJson(n), String.join(" or ", names)));
            return dflt;
        }
        return v;
    }

    private static <E extends Enum<E>> E parseEnum(Class<E> type, String v) {
        if (v == null) {
            return null;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(v)) {
                return e;
            }
        }
        return null;
    }

    /**
     * A protobuf Duration as Istio reads it from YAML: Go's {@code time.ParseDuration} form
     * ({@code 5s}, {@code 1.5s}, {@code 500ms}, {@code 1m30s}); {@code dflt} when absent.
     */
    static Duration duration(ObjectContext ctx, JsonNode parent, String p, String key, Duration dflt) {
        JsonNode n = child(parent, key);
        if (n == null) {
            return dflt;
        }
        Duration d = n.isTextual() ? parseDuration(n.textValue()) : null;
        if (d == null) {
            ctx.error(path(p, key), message(key, renderJson(n), DURATION_EXPECTED));
            return dflt;
        }
        return d;
    }

    /** Parses a Go-style duration; null when it is not one. */
    static Duration parseDuration(String s) {
        return GoDuration.parse(s);
    }

    private static String oneLine(String message) {
        if (message == null) {
            return "not valid YAML";
        }
        String first = message.split("\\R")[0].strip();
        return first.isEmpty() ? "not valid YAML" : first;
    }
}
