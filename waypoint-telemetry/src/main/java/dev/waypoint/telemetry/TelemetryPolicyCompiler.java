package dev.waypoint.telemetry;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.model.telemetry.TelemetrySpec.AccessLogging;
import dev.waypoint.model.telemetry.TelemetrySpec.CustomTag;
import dev.waypoint.model.telemetry.TelemetrySpec.Metric;
import dev.waypoint.model.telemetry.TelemetrySpec.MetricsOverride;
import dev.waypoint.model.telemetry.TelemetrySpec.Tracing;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Compiles the Telemetry API ({@code telemetry.istio.io}) into {@link TelemetryPolicies}: for each
 * Service (and for Pod-addressed calls) the Telemetry objects that apply, merged as Istio merges
 * them (istio/istio {@code pilot/pkg/model/telemetry.go}), CEL expressions compiled once.
 *
 * <p><b>Which objects, in which order</b> (later ones override earlier ones):
 * <ol>
 *   <li>the first namespace-wide (no selector, no targetRefs) Telemetry of the root namespace;</li>
 *   <li>that of the waypoint's namespace, when it is not the root namespace;</li>
 *   <li>that of the called Service's namespace, when it is neither ("if proxy.IsWaypointProxy()
 *       && svc != nil && namespace != svc.Attributes.Namespace");</li>
 *   <li>the targetRefs objects that attach ({@code GatewayClass istio-waypoint} from the root
 *       namespace, this waypoint's {@code Gateway}, the called {@code Service}), in that order and
 *       in input order within a namespace. Istio looks for them in the Service's namespace only;
 *       here a Gateway- or GatewayClass-attached object also reaches Services of other namespaces,
 *       as an AuthorizationPolicy does.</li>
 * </ol>
 * Selector-based objects do not apply at a waypoint.
 *
 * <p><b>Merge</b>, a waypoint reporting as {@code SERVER} (settings with mode {@code CLIENT}
 * are skipped):
 * <ul>
 *   <li>metrics ({@code mergeMetrics}): the providers in scope are the last non-empty
 *       {@code providers} list, else MeshConfig {@code defaultProviders.metrics}, else
 *       {@code prometheus} (this waypoint always serves its Prometheus registry). Overrides apply in
 *       order per metric; an {@code ALL_METRICS} disable turns everything off until a later
 *       override of any metric turns the filter back on. No {@code prometheus} provider in scope:
 *       no metrics;</li>
 *   <li>tracing ({@code Tracing}): {@code randomSamplingPercentage}, {@code disableSpanReporting}
 *       and {@code customTags} (as a whole) are overridden by each later entry that sets them;</li>
 *   <li>access logging ({@code mergeLogs}): per provider, the last entry naming it (or inheriting
 *       it) decides {@code disabled} and {@code filter}.</li>
 * </ul>
 *
 * <p>A CEL expression that does not compile is an error on its field; that Telemetry's last good
 * compiled version keeps serving (or, for its first version, the object is not applied).
 */
public final class TelemetryPolicyCompiler implements PartCompiler<TelemetryPolicies> {
    private final String rootNamespace;
    /** The last version of each Telemetry whose expressions compiled. */
    private final Map<NamespacedName, Compiled> lastGood = new ConcurrentHashMap<>();

    /** One Telemetry with its expressions compiled. */
    record Compiled(TelemetrySpec spec, Map<String, TelemetryCel.Expression> filters) {}

    public TelemetryPolicyCompiler(String rootNamespace) {
        this.rootNamespace = rootNamespace;
    }

    @Override
    public SnapshotPart<TelemetryPolicies> part() {
        return TelemetryPolicies.PART;
    }

    @Override
    public TelemetryPolicies compile(ResourceSet resources, Diagnostics diagnostics) {
        if (resources.telemetries().isEmpty()) {
            lastGood.clear();
            return TelemetryPolicies.NONE;
        }
        String root = resources.meshConfig().rootNamespace() != null ? resources.meshConfig().rootNamespace()
                : rootNamespace;
        List<Compiled> compiled = new ArrayList<>();
        for (TelemetrySpec t : resources.telemetries()) {
            checkProviders(t, resources.meshConfig(), diagnostics);
            Compiled c = compileOne(t, diagnostics);
            if (c != null) {
                compiled.add(c);
            }
        }
        // a deleted Telemetry has no last good version to fall back to
        Set<NamespacedName> present = new java.util.HashSet<>();
        resources.telemetries().forEach(t -> present.add(t.name()));
        lastGood.keySet().retainAll(present);
        NamespacedName waypoint = resources.waypoint();
        Map<NamespacedName, TelemetryPolicies.Effective> byService = new HashMap<>();
        for (ServiceSpec s : resources.services()) {
            List<Compiled> applicable = applicable(compiled, root, waypoint, s.name());
            if (!applicable.isEmpty()) {
                byService.put(s.name(), merge(applicable, resources.meshConfig()));
            }
        }
        List<Compiled> forPods = applicable(compiled, root, waypoint, null);
        return new TelemetryPolicies(byService, forPods.isEmpty() ? null : merge(forPods, resources.meshConfig()));
    }

    private Compiled compileOne(TelemetrySpec t, Diagnostics diagnostics) {
        Map<String, TelemetryCel.Expression> filters = new HashMap<>();
        boolean bad = false;
        for (int i = 0; i < t.accessLogging().size(); i++) {
            String f = t.accessLogging().get(i).filter();
            if (f != null) {
                String field = "spec.accessLogging[" + i + "].filter.expression";
                try {
                    filters.put(f, TelemetryCel.compile(f));
                } catch (IllegalArgumentException e) {
                    bad = true;
                    diagnostics.error(t.source(), "Telemetry", t.name(), field, "not a valid CEL expression: "
                            + e.getMessage() + lastGoodNote(t.name()));
                }
            }
        }
        for (int i = 0; i < t.metrics().size(); i++) {
            List<MetricsOverride> os = t.metrics().get(i).overrides();
            for (int j = 0; j < os.size(); j++) {
                for (var e : os.get(j).tagOverrides().entrySet()) {
                    String problem = labelNameProblem(e.getKey(), os.get(j).metric());
                    if (problem != null) {
                        bad = true;
                        diagnostics.error(t.source(), "Telemetry", t.name(), "spec.metrics[" + i + "].overrides[" + j
                                + "].tagOverrides." + e.getKey(), problem + lastGoodNote(t.name()));
                        continue;
                    }
                    if (e.getValue().remove()) {
                        continue;
                    }
                    String field = "spec.metrics[" + i + "].overrides[" + j + "].tagOverrides." + e.getKey() + ".value";
                    try {
                        filters.put(e.getValue().value(), TelemetryCel.compile(e.getValue().value()));
                    } catch (IllegalArgumentException ex) {
                        bad = true;
                        diagnostics.error(t.source(), "Telemetry", t.name(), field, "not a valid CEL expression: "
                                + ex.getMessage() + lastGoodNote(t.name()));
                    }
                }
            }
        }
        if (bad) {
            return lastGood.get(t.name());
        }
        Compiled c = new Compiled(t, Map.copyOf(filters));
        lastGood.put(t.name(), c);
        return c;
    }

    /**
     * Warns about provider names this waypoint cannot honour: a tracing provider other than the
     * mesh config's default one (one tracer per snapshot), an access-log provider that is neither
     * {@code envoy} nor an {@code envoyFileAccessLog} entry, a name the mesh config does not define.
     */
    private static void checkProviders(TelemetrySpec t, MeshConfigSpec mesh, Diagnostics diagnostics) {
        Map<String, ExtensionProviderSpec> byName = new HashMap<>();
        mesh.extensionProviders().forEach(p -> byName.put(p.name(), p));
        List<String> defaultTracing = mesh.defaultProviders().tracing();
        for (int i = 0; i < t.tracing().size(); i++) {
            List<String> names = t.tracing().get(i).providers();
            if (!names.isEmpty() && (defaultTracing.isEmpty() || !names.get(0).equals(defaultTracing.get(0)))) {
                diagnostics.warning(t.source(), "Telemetry", t.name(), "spec.tracing[" + i + "].providers",
                        names.get(0) + ": only the mesh config's default tracing provider ("
                                + (defaultTracing.isEmpty() ? "none" : defaultTracing.get(0))
                                + ") is used; the other settings of this entry apply to it");
            }
        }
        for (int i = 0; i < t.accessLogging().size(); i++) {
            for (String n : t.accessLogging().get(i).providers()) {
                if (!n.equals("envoy") && !(byName.get(n) instanceof ExtensionProviderSpec.EnvoyFileAccessLog)) {
                    diagnostics.warning(t.source(), "Telemetry", t.name(), "spec.accessLogging[" + i + "].providers", n
                            + ": not envoy or an envoyFileAccessLog extensionProvider; it names no access log here");
                }
            }
        }
        for (int i = 0; i < t.metrics().size(); i++) {
            for (String n : t.metrics().get(i).providers()) {
                if (!n.equals("prometheus") && !byName.containsKey(n)) {
                    diagnostics.warning(t.source(), "Telemetry", t.name(), "spec.metrics[" + i + "].providers", n
                            + ": no such extensionProvider in the mesh config");
                }
            }
        }
    }

    private String lastGoodNote(NamespacedName name) {
        return lastGood.containsKey(name) ? "; its last good version keeps serving" : "; the Telemetry is not applied";
    }

    /** The objects that apply to calls of {@code service} (null: Pod-addressed), in merge order. */
    static List<Compiled> applicable(List<Compiled> all, String root, NamespacedName waypoint, NamespacedName service) {
        List<Compiled> out = new ArrayList<>();
        addNamespaceWide(out, all, root);
        if (!waypoint.namespace().equals(root)) {
            addNamespaceWide(out, all, waypoint.namespace());
        }
        if (service != null && !service.namespace().equals(waypoint.namespace()) && !service.namespace().equals(root)) {
            addNamespaceWide(out, all, service.namespace());
        }
        // targeted: GatewayClass (root), Gateway (waypoint namespace), then Service (its namespace)
        List<String> namespaces = new ArrayList<>(new LinkedHashSet<>(service == null ? List.of(root, waypoint.namespace())
                : List.of(root, waypoint.namespace(), service.namespace())));
        for (String ns : namespaces) {
            for (Compiled c : all) {
                TelemetrySpec t = c.spec();
                if (!t.name().namespace().equals(ns) || t.targetRefs().isEmpty() || t.hasSelector()) {
                    continue;
                }
                if (t.attaches(service == null ? null : service.namespace(), service == null ? null : service.name(),
                        waypoint.namespace(), waypoint.name(), root)) {
                    out.add(c);
                }
            }
        }
        return out;
    }

    private static void addNamespaceWide(List<Compiled> out, List<Compiled> all, String namespace) {
        for (Compiled c : all) {
            if (c.spec().name().namespace().equals(namespace) && c.spec().namespaceWide()) {
                out.add(c); // Istio: the first one only (namespaceWideTelemetryConfig)
                return;
            }
        }
    }

    /** Istio's merge of {@code applicable}, for a waypoint ({@code SERVER}). */
    static TelemetryPolicies.Effective merge(List<Compiled> applicable, MeshConfigSpec mesh) {
        Map<Metric, Map<String, TelemetryCel.Expression>> tags = new EnumMap<>(Metric.class);
        Set<Metric> disabled = metrics(applicable, mesh, tags);
        if (disabled.size() == Metric.values().length) {
            tags.clear();
        }
        Double sampling = null;
        boolean disableSpans = false;
        Map<String, CustomTag> customTags = null;
        for (Compiled c : applicable) {
            for (Tracing t : c.spec().tracing()) {
                if (!t.mode().atWaypoint()) {
                    continue;
                }
                if (t.disableSpanReporting() != null) {
                    disableSpans = t.disableSpanReporting();
                }
                if (t.customTags() != null) {
                    customTags = t.customTags();
                }
                if (t.randomSamplingPercentage() != null) {
                    sampling = t.randomSamplingPercentage();
                }
            }
        }
        // access logging, mergeLogs: providers in scope, then per provider the last entry deciding it
        boolean logging = false;
        Map<String, Object[]> providers = new LinkedHashMap<>(); // name -> {disabled, filter}
        List<String> defaults = mesh.defaultProviders().accessLogging().isEmpty() ? List.of("envoy")
                : mesh.defaultProviders().accessLogging();
        List<String> inScope = defaults;
        for (Compiled c : applicable) {
            Set<String> names = new LinkedHashSet<>();
            for (AccessLogging l : c.spec().accessLogging()) {
                if (l.mode().atWaypoint()) {
                    names.addAll(l.providers());
                }
            }
            if (!names.isEmpty()) {
                inScope = List.copyOf(names);
            }
        }
        List<String> parent = defaults;
        for (Compiled c : applicable) {
            for (AccessLogging l : c.spec().accessLogging()) {
                List<String> names = l.providers().isEmpty() ? parent : l.providers();
                parent = names;
                if (!l.mode().atWaypoint()) {
                    continue;
                }
                logging = true;
                for (String p : names) {
                    if (!inScope.contains(p)) {
                        continue;
                    }
                    boolean off = Boolean.TRUE.equals(l.disabled());
                    providers.put(p, new Object[] {off, off || l.filter() == null ? null : c.filters().get(l.filter())});
                }
            }
        }
        // mergeLogs keeps a loggingSpec (disabled, filter) per provider: each enabled provider's line
        // is decided by its own filter, not by the first provider's
        List<String> enabled = new ArrayList<>();
        Map<String, TelemetryCel.Expression> filters = new LinkedHashMap<>();
        providers.forEach((name, v) -> {
            if (!(Boolean) v[0]) {
                enabled.add(name);
                if (v[1] != null) {
                    filters.put(name, (TelemetryCel.Expression) v[1]);
                }
            }
        });
        boolean logDisabled = enabled.isEmpty();
        StringBuilder logDebug = new StringBuilder();
        for (String name : enabled) {
            logDebug.append(logDebug.length() == 0 ? "" : "; ").append(name);
            if (filters.containsKey(name)) {
                logDebug.append(" where ").append(filters.get(name).source());
            }
        }
        String debug = (disabled.isEmpty() ? "metrics all on" : "metrics off " + new java.util.TreeSet<>(disabled)) + ", sampling "
                + (sampling == null ? "mesh default" : sampling + "%") + (disableSpans ? ", spans not reported" : "")
                + (customTags == null ? "" : ", custom tags " + new java.util.TreeSet<>(customTags.keySet()))
                + (!logging ? "" : logDisabled ? ", access log off" : ", access log " + logDebug);
        if (!tags.isEmpty()) {
            java.util.TreeSet<String> names = new java.util.TreeSet<>();
            tags.values().forEach(m -> m.forEach((name, e) -> names.add(
                    (e == TelemetryPolicies.Effective.REMOVE ? "-" : labelIndex(name) < 0 ? "+" : "") + name)));
            debug += ", tags " + names;
        }
        // one plan per distinct override set (an ALL_METRICS override gives every metric the same one)
        Map<Metric, LabelPlan> plans = new EnumMap<>(Metric.class);
        Map<Metric, LabelPlan> tcpPlans = new EnumMap<>(Metric.class);
        Map<Map<String, TelemetryCel.Expression>, LabelPlan> distinct = new HashMap<>();
        Map<Map<String, TelemetryCel.Expression>, LabelPlan> distinctTcp = new HashMap<>();
        tags.forEach((k, v) -> {
            // Istio applies tagOverrides to the TCP metrics too, over their own label set
            LabelPlan plan = HTTP_METRICS.contains(k) ? distinct.computeIfAbsent(Map.copyOf(v), LabelPlan::of)
                    : TCP_METRICS.contains(k) ? distinctTcp.computeIfAbsent(Map.copyOf(v),
                            o -> LabelPlan.of(o, IstioLabels.TCP_NAMES)) : null;
            if (plan != null && !plan.isStandard()) {
                // REMOVE of labels the set has not changes nothing: the fast path stays
                (HTTP_METRICS.contains(k) ? plans : tcpPlans).put(k, plan);
            }
        });
        java.time.Duration interval = reportingInterval(applicable, mesh);
        if (interval != null) {
            debug += ", TCP reports every " + interval.toMillis() + " ms";
        }
        return new TelemetryPolicies.Effective(disabled, sampling, disableSpans, customTags, logging,
                logging && logDisabled, filters, debug, plans, enabled, interval, tcpPlans);
    }

    /**
     * {@code mergeMetrics}' {@code reportingIntervals}: the last entry that sets one and names (or
     * inherits) a prometheus provider in scope decides; null when none does. Istio hands it to the
     * stats filter as {@code tcp_reporting_duration}.
     */
    private static java.time.Duration reportingInterval(List<Compiled> applicable, MeshConfigSpec mesh) {
        Set<String> prometheus = new LinkedHashSet<>(Set.of("prometheus"));
        for (ExtensionProviderSpec p : mesh.extensionProviders()) {
            if (p instanceof ExtensionProviderSpec.Prometheus) {
                prometheus.add(p.name());
            }
        }
        List<String> defaults = mesh.defaultProviders().metrics().isEmpty() ? List.of("prometheus")
                : mesh.defaultProviders().metrics();
        List<String> scope = defaults;
        for (Compiled c : applicable) {
            for (TelemetrySpec.Metrics m : c.spec().metrics()) {
                if (!m.providers().isEmpty()) {
                    scope = m.providers();
                }
            }
        }
        List<String> inScope = scope;
        java.time.Duration interval = null;
        List<String> parent = defaults;
        for (Compiled c : applicable) {
            for (TelemetrySpec.Metrics m : c.spec().metrics()) {
                List<String> names = m.providers().isEmpty() ? parent : m.providers();
                parent = names;
                if (m.reportingInterval() != null
                        && names.stream().anyMatch(n -> prometheus.contains(n) && inScope.contains(n))) {
                    interval = m.reportingInterval();
                }
            }
        }
        return interval;
    }

    /**
     * Why {@code label} cannot be a metric label, or null: it must be a Prometheus label name
     * ({@code [a-zA-Z_][a-zA-Z0-9_]*}, {@code __} reserved), and not {@code le} on an override that
     * reaches a histogram ({@code le} is the bucket label there).
     */
    static String labelNameProblem(String label, Metric metric) {
        if (!PrometheusText.validLabelName(label)) {
            return "not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)";
        }
        if (label.equals("le") && (metric == null || metric == Metric.REQUEST_DURATION || metric == Metric.REQUEST_SIZE
                || metric == Metric.RESPONSE_SIZE)) {
            return "le is the bucket label of the histograms this override reaches";
        }
        return null;
    }

    /** The index of {@code label} in Istio's HTTP label set, or -1. */
    static int labelIndex(String label) {
        for (int i = 0; i < IstioLabels.NAMES.length; i++) {
            if (IstioLabels.NAMES[i].equals(label)) {
                return i;
            }
        }
        return -1;
    }

    /** The metrics recorded per request. */
    private static final Set<Metric> HTTP_METRICS = EnumSet.of(Metric.REQUEST_COUNT, Metric.REQUEST_DURATION,
            Metric.REQUEST_SIZE, Metric.RESPONSE_SIZE, Metric.GRPC_REQUEST_MESSAGES, Metric.GRPC_RESPONSE_MESSAGES);

    /** The metrics recorded per TCP tunnel (their tagOverrides are evaluated once per tunnel). */
    private static final Set<Metric> TCP_METRICS = EnumSet.of(Metric.TCP_OPENED_CONNECTIONS,
            Metric.TCP_CLOSED_CONNECTIONS, Metric.TCP_SENT_BYTES, Metric.TCP_RECEIVED_BYTES);

    /**
     * {@code mergeMetrics} for the prometheus provider(s), SERVER mode: the metrics switched off;
     * also fills {@code tags} with the merged {@code tagOverrides} per metric, label name → CEL
     * value or {@code REMOVE} (later ones win per label, as {@code mergeMetrics} does).
     */
    private static Set<Metric> metrics(List<Compiled> applicable, MeshConfigSpec mesh,
                                       Map<Metric, Map<String, TelemetryCel.Expression>> tags) {
        Set<String> prometheus = new LinkedHashSet<>(Set.of("prometheus"));
        for (ExtensionProviderSpec p : mesh.extensionProviders()) {
            if (p instanceof ExtensionProviderSpec.Prometheus) {
                prometheus.add(p.name());
            }
        }
        List<String> defaults = mesh.defaultProviders().metrics().isEmpty() ? List.of("prometheus")
                : mesh.defaultProviders().metrics();
        List<String> scope = defaults;
        for (Compiled c : applicable) {
            for (TelemetrySpec.Metrics m : c.spec().metrics()) {
                if (!m.providers().isEmpty()) {
                    scope = m.providers();
                }
            }
        }
        List<String> inScope = scope;
        if (inScope.stream().noneMatch(prometheus::contains)) {
            return EnumSet.allOf(Metric.class);
        }
        boolean allOff = false;
        Map<Metric, Boolean> perMetric = new EnumMap<>(Metric.class);
        List<String> parent = defaults;
        for (Compiled c : applicable) {
            for (TelemetrySpec.Metrics m : c.spec().metrics()) {
                List<String> names = m.providers().isEmpty() ? parent : m.providers();
                parent = names;
                if (names.stream().noneMatch(n -> prometheus.contains(n) && inScope.contains(n))) {
                    continue;
                }
                for (MetricsOverride o : m.overrides()) {
                    if (!o.mode().atWaypoint()) {
                        continue;
                    }
                    if (o.metric() == null && Boolean.TRUE.equals(o.disabled())) {
                        allOff = true;
                        continue;
                    }
                    allOff = false;
                    for (Metric x : o.metric() == null ? EnumSet.allOf(Metric.class) : EnumSet.of(o.metric())) {
                        if (o.disabled() != null) {
                            perMetric.put(x, o.disabled());
                        }
                        for (var e : o.tagOverrides().entrySet()) {
                            tags.computeIfAbsent(x, k -> new java.util.TreeMap<>()).put(e.getKey(), e.getValue().remove()
                                    ? TelemetryPolicies.Effective.REMOVE : c.filters().get(e.getValue().value()));
                        }
                    }
                }
            }
        }
        if (allOff) {
            return EnumSet.allOf(Metric.class);
        }
        Set<Metric> out = EnumSet.noneOf(Metric.class);
        perMetric.forEach((k, v) -> {
            if (v) {
                out.add(k);
            }
        });
        return out;
    }
}
