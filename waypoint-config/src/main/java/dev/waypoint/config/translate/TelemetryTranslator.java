package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.model.telemetry.TelemetrySpec.AccessLogging;
import dev.waypoint.model.telemetry.TelemetrySpec.CustomTag;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import dev.waypoint.model.telemetry.TelemetrySpec.Metrics;
import dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride;
import dev.waypoint.model.telemetry.TelemetrySpec.Mode;
import dev.waypoint.model.telemetry.TelemetrySpec.TagOverride;
import dev.waypoint.model.telemetry.TelemetrySpec.Tracing;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code telemetry.istio.io/v1} (and {@code v1alpha1}, the same schema) {@code Telemetry} →
 * {@link TelemetrySpec}, with the fields of istio/api {@code telemetry/v1/telemetry.proto}.
 * Unknown fields are errors. CEL expressions are kept as strings here and compiled by the
 * telemetry compiler (which reports a bad one on its field).
 *
 * <p>Selector-based objects are kept with a note: a waypoint does not apply them (sidecars do).
 * Fields Istio has that this waypoint does not act on ({@code useRequestIdForTraceSampling},
 * {@code enableIstioTags}, {@code disableContextPropagation},
 * {@code customMetric}) are accepted with a note.
 */
final class TelemetryTranslator {
    private static final Set<String> SPEC_FIELDS = Set.of("selector", "targetRef", "targetRefs", "tracing", "metrics",
            "accessLogging");
    private static final Set<String> METRICS_FIELDS = Set.of("providers", "overrides", "reportingInterval");
    private static final Set<String> OVERRIDE_FIELDS = Set.of("match", "disabled", "tagOverrides");
    private static final Set<String> METRIC_MATCH_FIELDS = Set.of("metric", "customMetric", "mode");
    private static final Set<String> TAG_FIELDS = Set.of("operation", "value");
    private static final Set<String> TRACING_FIELDS = Set.of("match", "providers", "customTags", "disableSpanReporting",
            "randomSamplingPercentage", "useRequestIdForTraceSampling", "enableIstioTags", "disableContextPropagation");
    private static final Set<String> MODE_FIELDS = Set.of("mode");
    private static final Set<String> LOGGING_FIELDS = Set.of("match", "providers", "disabled", "filter");
    private static final Set<String> FILTER_FIELDS = Set.of("expression");
    private static final Set<String> PROVIDER_FIELDS = Set.of("name");
    private static final Set<String> TAG_KINDS = Set.of("literal", "environment", "header");
    private static final String MODES = "CLIENT_AND_SERVER, CLIENT or SERVER";

    private TelemetryTranslator() {}

    static TelemetrySpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.unknownKeys(spec, "spec", SPEC_FIELDS);
        JsonNode selector = ctx.object(spec, "spec", "selector");
        boolean hasSelector = selector != null;
        if (hasSelector) {
            ctx.stringMap(selector, "spec.selector", "matchLabels");
        }
        PolicyTargetRefs.Read targets = PolicyTargetRefs.read(ctx, spec, "Service, Gateway or GatewayClass");
        if (hasSelector && targets.written()) {
            ctx.error("spec.selector", message("selector", render(selector), "only one of selector or targetRefs"));
        } else if (hasSelector) {
            ctx.note("spec.selector", "a waypoint applies Telemetry through targetRefs or namespace-wide "
                    + "(no selector) only; this selector-based object is for sidecars, not applied here");
        }

        List<Metrics> metrics = new ArrayList<>();
        List<JsonNode> ms = ctx.list(spec, "spec", "metrics");
        for (int i = 0; i < ms.size(); i++) {
            String p = index("spec.metrics", i);
            JsonNode n = ctx.element(ms.get(i), p, "metrics[" + i + "]");
            if (n != null) {
                metrics.add(metrics(ctx, n, p));
            }
        }
        List<Tracing> tracing = new ArrayList<>();
        List<JsonNode> ts = ctx.list(spec, "spec", "tracing");
        for (int i = 0; i < ts.size(); i++) {
            String p = index("spec.tracing", i);
            JsonNode n = ctx.element(ts.get(i), p, "tracing[" + i + "]");
            if (n != null) {
                tracing.add(tracing(ctx, n, p));
            }
        }
        List<AccessLogging> logging = new ArrayList<>();
        List<JsonNode> ls = ctx.list(spec, "spec", "accessLogging");
        for (int i = 0; i < ls.size(); i++) {
            String p = index("spec.accessLogging", i);
            JsonNode n = ctx.element(ls.get(i), p, "accessLogging[" + i + "]");
            if (n != null) {
                logging.add(logging(ctx, n, p));
            }
        }
        return new TelemetrySpec(name, targets.refs(), hasSelector, metrics, tracing, logging, ctx.source());
    }

    private static Metrics metrics(ObjectContext ctx, JsonNode n, String p) {
        ctx.unknownKeys(n, p, METRICS_FIELDS);
        // Istio hands it to the stats filter as tcp_reporting_duration: how often open TCP connections
        // report their bytes (metrics themselves are scraped)
        java.time.Duration interval = MeshConfigTranslator.duration(ctx, n, p, "reportingInterval", null);
        if (interval != null && (interval.isNegative() || interval.isZero())) {
            ctx.error(path(p, "reportingInterval"), "reportingInterval: " + child(n, "reportingInterval").asText()
                    + " (expected: a positive duration)");
            interval = null;
        }
        List<MetricsOverride> overrides = new ArrayList<>();
        List<JsonNode> os = ctx.list(n, p, "overrides");
        for (int i = 0; i < os.size(); i++) {
            String op = index(path(p, "overrides"), i);
            JsonNode o = ctx.element(os.get(i), op, "overrides[" + i + "]");
            if (o == null) {
                continue;
            }
            ctx.unknownKeys(o, op, OVERRIDE_FIELDS);
            Metric metric = null;
            Mode mode = Mode.CLIENT_AND_SERVER;
            boolean custom = false;
            JsonNode match = ctx.object(o, op, "match");
            if (match != null) {
                String mp = path(op, "match");
                ctx.unknownKeys(match, mp, METRIC_MATCH_FIELDS);
                String m = ctx.string(match, mp, "metric");
                String cm = ctx.string(match, mp, "customMetric");
                if (m != null && cm != null) {
                    ctx.error(path(mp, "customMetric"), message("customMetric", cm, "only one of metric or customMetric"));
                }
                if (m != null && !m.equals("ALL_METRICS")) {
                    try {
                        metric = Metric.valueOf(m);
                    } catch (IllegalArgumentException e) {
                        ctx.error(path(mp, "metric"), message("metric", m, "ALL_METRICS or one of " + List.of(Metric.values())));
                    }
                }
                if (cm != null) {
                    custom = true;
                    ctx.note(path(mp, "customMetric"), "custom metrics are not defined here; this override does nothing");
                }
                mode = mode(ctx, match, mp);
            }
            Boolean disabled = optionalBool(ctx, o, op, "disabled");
            Map<String, TagOverride> tags = new LinkedHashMap<>();
            JsonNode to = ctx.object(o, op, "tagOverrides");
            if (to != null) {
                String tp = path(op, "tagOverrides");
                to.properties().forEach(e -> {
                    String ep = path(tp, e.getKey());
                    JsonNode t = ctx.element(e.getValue(), ep, e.getKey());
                    if (t == null) {
                        return;
                    }
                    ctx.unknownKeys(t, ep, TAG_FIELDS);
                    String operation = ctx.string(t, ep, "operation");
                    String value = ctx.string(t, ep, "value");
                    if (operation == null || operation.equals("UPSERT")) {
                        if (value == null || value.isEmpty()) {
                            ctx.error(path(ep, "value"), message("value", "missing", "a CEL expression for UPSERT"));
                        } else {
                            tags.put(e.getKey(), new TagOverride(false, value));
                        }
                    } else if (operation.equals("REMOVE")) {
                        tags.put(e.getKey(), new TagOverride(true, null));
                    } else {
                        ctx.error(path(ep, "operation"), message("operation", operation, "UPSERT or REMOVE"));
                    }
                });
            }
            if (!custom) {
                overrides.add(new MetricsOverride(metric, mode, disabled, tags));
            }
        }
        return new Metrics(providers(ctx, n, p), overrides, interval);
    }

    private static Tracing tracing(ObjectContext ctx, JsonNode n, String p) {
        ctx.unknownKeys(n, p, TRACING_FIELDS);
        Mode mode = Mode.CLIENT_AND_SERVER;
        JsonNode match = ctx.object(n, p, "match");
        if (match != null) {
            ctx.unknownKeys(match, path(p, "match"), MODE_FIELDS);
            mode = mode(ctx, match, path(p, "match"));
        }
        Double sampling = null;
        JsonNode s = child(n, "randomSamplingPercentage");
        if (s != null) {
            if (!s.isNumber() || s.doubleValue() < 0 || s.doubleValue() > 100) {
                ctx.error(path(p, "randomSamplingPercentage"),
                        message("randomSamplingPercentage", renderJson(s), "a number from 0 to 100"));
            } else {
                sampling = s.doubleValue();
            }
        }
        Boolean disable = optionalBool(ctx, n, p, "disableSpanReporting");
        for (String f : List.of("useRequestIdForTraceSampling", "enableIstioTags", "disableContextPropagation")) {
            if (child(n, f) != null) {
                optionalBool(ctx, n, p, f);
                ctx.note(path(p, f), "not used by this waypoint");
            }
        }
        Map<String, CustomTag> tags = null;
        JsonNode ct = ctx.object(n, p, "customTags");
        if (ct != null) {
            tags = new LinkedHashMap<>();
            String cp = path(p, "customTags");
            Map<String, CustomTag> out = tags;
            ct.properties().forEach(e -> {
                String ep = path(cp, e.getKey());
                JsonNode t = ctx.element(e.getValue(), ep, e.getKey());
                if (t == null) {
                    return;
                }
                ctx.unknownKeys(t, ep, TAG_KINDS);
                if (t.size() != 1) {
                    ctx.error(ep, message(e.getKey(), render(t), "exactly one of literal, environment or header"));
                    return;
                }
                String kind = t.fieldNames().next();
                JsonNode body = ctx.object(t, ep, kind);
                if (body == null) {
                    return;
                }
                String bp = path(ep, kind);
                CustomTag tag = switch (kind) {
                    case "literal" -> {
                        ctx.unknownKeys(body, bp, Set.of("value"));
                        String v = ctx.requiredString(body, bp, "value", "the tag's value");
                        yield v == null ? null : new CustomTag(CustomTag.Kind.LITERAL, v, null);
                    }
                    case "header" -> {
                        ctx.unknownKeys(body, bp, Set.of("name", "defaultValue"));
                        String v = ctx.requiredString(body, bp, "name", "a request header name");
                        String d = ctx.string(body, bp, "defaultValue");
                        yield v == null ? null : new CustomTag(CustomTag.Kind.HEADER, v.toLowerCase(java.util.Locale.ROOT), d);
                    }
                    case "environment" -> {
                        ctx.unknownKeys(body, bp, Set.of("name", "defaultValue"));
                        String v = ctx.requiredString(body, bp, "name", "an environment variable name");
                        String d = ctx.string(body, bp, "defaultValue");
                        yield v == null ? null : new CustomTag(CustomTag.Kind.ENVIRONMENT, v, d);
                    }
                    default -> null;
                };
                if (tag != null) {
                    out.put(e.getKey(), tag);
                }
            });
        }
        return new Tracing(providers(ctx, n, p), mode, sampling, disable, tags);
    }

    private static AccessLogging logging(ObjectContext ctx, JsonNode n, String p) {
        ctx.unknownKeys(n, p, LOGGING_FIELDS);
        Mode mode = Mode.CLIENT_AND_SERVER;
        JsonNode match = ctx.object(n, p, "match");
        if (match != null) {
            ctx.unknownKeys(match, path(p, "match"), MODE_FIELDS);
            mode = mode(ctx, match, path(p, "match"));
        }
        Boolean disabled = optionalBool(ctx, n, p, "disabled");
        String expression = null;
        JsonNode f = ctx.object(n, p, "filter");
        if (f != null) {
            ctx.unknownKeys(f, path(p, "filter"), FILTER_FIELDS);
            expression = ctx.requiredString(f, path(p, "filter"), "expression", "a CEL expression such as response.code >= 400");
        }
        return new AccessLogging(providers(ctx, n, p), mode, disabled, expression);
    }

    private static List<String> providers(ObjectContext ctx, JsonNode n, String p) {
        List<String> out = new ArrayList<>();
        List<JsonNode> ps = ctx.list(n, p, "providers");
        for (int i = 0; i < ps.size(); i++) {
            String pp = index(path(p, "providers"), i);
            JsonNode e = ctx.element(ps.get(i), pp, "providers[" + i + "]");
            if (e == null) {
                continue;
            }
            ctx.unknownKeys(e, pp, PROVIDER_FIELDS);
            String name = ctx.requiredString(e, pp, "name", "the name of a mesh config extensionProvider, or envoy/prometheus");
            if (name != null) {
                out.add(name);
            }
        }
        return out;
    }

    private static Mode mode(ObjectContext ctx, JsonNode match, String mp) {
        String m = ctx.string(match, mp, "mode");
        if (m == null) {
            return Mode.CLIENT_AND_SERVER;
        }
        try {
            return Mode.valueOf(m);
        } catch (IllegalArgumentException e) {
            ctx.error(path(mp, "mode"), message("mode", m, MODES));
            return Mode.CLIENT_AND_SERVER;
        }
    }

    private static Boolean optionalBool(ObjectContext ctx, JsonNode n, String p, String key) {
        JsonNode v = child(n, key);
        if (v == null) {
            return null;
        }
        if (!v.isBoolean()) {
            ctx.error(path(p, key), message(key, renderJson(v), "true or false"));
            return null;
        }
        return v.booleanValue();
    }
}
