package dev.waypoint.routing;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.gateway.BackendRefSpec;
import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.ParentRefSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.gateway.RouteMatchSpec;
import dev.waypoint.model.gateway.RouteRetrySpec;
import dev.waypoint.model.gateway.RouteRuleSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.RetryPolicy;
import dev.waypoint.model.request.RouteSelection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * HTTPRoutes whose parent is a Service (the GAMMA mesh profile) or a ServiceEntry → one {@link RouteTable}.
 *
 * <ul>
 *   <li>A ServiceEntry parent ({@code {group: networking.istio.io, kind: ServiceEntry, name}}, as
 *       Istio allows for waypoints) attaches like a Service of the entry's {@code ports[]} (by
 *       {@code number}, {@code sectionName} = the port's name), keyed apart from a Service of the
 *       same name ({@link RouteTable.PortKey}); the entry must be in the route's namespace, or the
 *       route in the waypoint's, as Istio's waypoint uses them ({@link ServiceEntryParents}); such
 *       routes apply to every caller.</li>
 *   <li>A route attaches to a Service by {@code parentRefs: [{group: "", kind: Service, name}]};
 *       "without {@code port} it covers every Service port, with {@code port} only that one"
 *       ({@code sectionName} = the port's name). Other parents (Gateways) are not this waypoint's
 *       business here and are skipped.</li>
 *   <li>Producer routes (the Service's namespace) apply to every caller; consumer routes (another
 *       namespace) only to callers from the route's namespace, which then use them instead of the
 *       producer routes. (Istio ambient drops MeshConsumerRoute from its claimed features; this
 *       waypoint implements it because the caller's namespace is known from its SPIFFE ID.)</li>
 *   <li>Every match of every rule becomes one entry, ranked by {@link MatchSummary}.</li>
 *   <li>A rule that cannot be served (unsupported filter, no usable backend, all weights 0)
 *       stays in the table marked invalid: requests matching it get 500, as the Gateway API
 *       asks, instead of falling through to a lower rule.</li>
 *   <li>Backends (and {@code RequestMirror} targets): {@code Service} references, or ServiceEntries
 *       ({@link ServiceEntryBackends}). A cross-namespace reference needs a
 *       ReferenceGrant in the backend's namespace, except a consumer route naming its parent
 *       Service (the MeshConsumerRoute conformance test has no grant).</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * Pure; runs on the config executor.
 */
public final class HttpRouteCompiler implements PartCompiler<RouteTable> {
    private static final String GATEWAY_GROUP = "gateway.networking.k8s.io";
    /** Istio's default when {@code retry} is set without {@code attempts}. */
    private static final int DEFAULT_ATTEMPTS = 2;

    /** The retry policy of default routes and of rules without {@code retry} when the mesh config sets none. */
    private final RetryPolicy fallback;

    /** With Istio's default retry policy ({@link RetryPolicy#ISTIO_DEFAULT}) when the mesh config sets none. */
    public HttpRouteCompiler() {
        this(RetryPolicy.ISTIO_DEFAULT);
    }

    /**
     * @param fallback the policy of default routes and of rules without a {@code retry} of their own
     *        when the snapshot's mesh config has no {@code defaultHttpRetryPolicy} (which, when set,
     *        replaces it: Istio 1.31 applies it on waypoints)
     */
    public HttpRouteCompiler(RetryPolicy fallback) {
        this.fallback = java.util.Objects.requireNonNull(fallback, "fallback");
    }

    @Override
    public SnapshotPart<RouteTable> part() {
        return RouteTable.PART;
    }

    @Override
    public RouteTable compile(ResourceSet resources, Diagnostics diagnostics) {
        RetryPolicy meshDefault = MeshRetries.policy(resources.meshConfig().defaultHttpRetryPolicy(), fallback);
        Map<NamespacedName, ServiceSpec> services = new HashMap<>();
        for (ServiceSpec s : resources.services()) {
            services.put(s.name(), s);
        }
        // per Service port key: producer entries and consumer entries by namespace
        Map<RouteTable.PortKey, List<RouteTable.Entry>> producer = new HashMap<>();
        Map<RouteTable.PortKey, Map<String, List<RouteTable.Entry>>> consumers = new HashMap<>();
        for (HttpRouteSpec route : resources.httpRoutes()) {
            List<CompiledRule> rules = null; // compiled on first attachment, shared by every port
            for (int p = 0; p < route.parentRefs().size(); p++) {
                ParentRefSpec parent = route.parentRefs().get(p);
                boolean entryParent = ServiceEntryParents.isServiceEntry(parent);
                if (!parent.isService() && !entryParent) {
                    if (parent.group().equals(ServiceEntryBackends.NETWORKING)) {
                        diagnostics.warning(route.source(), route.kind(), route.name(), "spec.parentRefs[" + p + "]", "kind: "
                                + parent.kind() + " (expected: Service or ServiceEntry; the parentRef is ignored)");
                    }
                    continue;
                }
                ServiceSpec svc = entryParent ? entryParent(route, parent, p, resources, diagnostics)
                        : services.get(new NamespacedName(parent.namespace(), parent.name()));
                if (svc == null) {
                    if (!entryParent) {
                        diagnostics.warning(route.source(), route.kind(), route.name(), "spec.parentRefs[" + p + "]",
                                "name: " + parent.namespace() + "/" + parent.name() + " (expected: an existing Service; the parentRef is ignored)");
                    }
                    continue;
                }
                List<ServicePortSpec> ports = attachedPorts(svc, parent);
                if (ports.isEmpty()) {
                    diagnostics.warning(route.source(), route.kind(), route.name(), "spec.parentRefs[" + p + "]",
                            "port: " + (parent.port() != 0 ? parent.port() : parent.sectionName())
                                    + " (expected: a port of " + (entryParent ? "ServiceEntry " : "Service ") + svc.name()
                                    + "; the parentRef is ignored)");
                    continue;
                }
                if (rules == null) {
                    rules = compileRules(route, services, resources.referenceGrants(), svc, meshDefault, diagnostics, resources.serviceEntries());
                }
                // a route on a ServiceEntry applies to every caller (Istio's waypoint has no consumer routes for it)
                boolean consumer = !entryParent && !route.name().namespace().equals(svc.name().namespace());
                for (ServicePortSpec port : ports) {
                    RouteTable.PortKey key = new RouteTable.PortKey(entryParent, svc.name(), port.port());
                    List<RouteTable.Entry> list = consumer
                            ? consumers.computeIfAbsent(key, k -> new HashMap<>())
                                    .computeIfAbsent(route.name().namespace(), k -> new ArrayList<>())
                            : producer.computeIfAbsent(key, k -> new ArrayList<>());
                    addEntries(list, route, rules, diagnostics);
                }
            }
        }
        Map<RouteTable.PortKey, RouteTable.PortRoutes> byPort = new HashMap<>();
        Set<RouteTable.PortKey> keys = new java.util.HashSet<>(producer.keySet());
        keys.addAll(consumers.keySet());
        for (RouteTable.PortKey key : keys) {
            List<RouteTable.Entry> prod = dedupe(producer.getOrDefault(key, List.of()));
            Map<String, List<RouteTable.Entry>> cons = new HashMap<>();
            consumers.getOrDefault(key, Map.of()).forEach((ns, list) -> cons.put(ns, dedupe(list)));
            byPort.put(key, new RouteTable.PortRoutes(prod, cons));
        }
        return new RouteTable(byPort, meshDefault);
    }

    /**
     * The ServiceEntry a {@code networking.istio.io/ServiceEntry} parentRef names, seen as a Service
     * of its name and ports (for attachment and the rules' parent only), or null (reported) when
     * the route may not attach to it ({@link ServiceEntryParents}: the entry's namespace or the
     * waypoint's only) or it does not exist.
     */
    private static ServiceSpec entryParent(HttpRouteSpec route, ParentRefSpec parent, int p, ResourceSet resources,
                                           Diagnostics diagnostics) {
        Object resolved = ServiceEntryParents.resolve(route.name(), parent, resources.waypoint(), resources.serviceEntries());
        if (resolved instanceof String problem) {
            diagnostics.warning(route.source(), route.kind(), route.name(), "spec.parentRefs[" + p + "]", problem);
            return null;
        }
        return (ServiceSpec) resolved;
    }

    /** Sorted by precedence; one route listing the same parent twice attaches once. */
    private static List<RouteTable.Entry> dedupe(List<RouteTable.Entry> entries) {
        List<RouteTable.Entry> sorted = new ArrayList<>(entries);
        sorted.sort((a, b) -> a.summary().compareTo(b.summary()));
        List<RouteTable.Entry> out = new ArrayList<>(sorted.size());
        MatchSummary last = null;
        for (RouteTable.Entry e : sorted) {
            if (last == null || last.compareTo(e.summary()) != 0) {
                out.add(e);
            }
            last = e.summary();
        }
        return out;
    }

    private static List<ServicePortSpec> attachedPorts(ServiceSpec svc, ParentRefSpec parent) {
        List<ServicePortSpec> out = new ArrayList<>();
        for (ServicePortSpec port : svc.ports()) {
            if ((parent.port() == 0 || parent.port() == port.port())
                    && (parent.sectionName() == null || parent.sectionName().equals(port.name()))) {
                out.add(port);
            }
        }
        return out;
    }

    private static void addEntries(List<RouteTable.Entry> list, HttpRouteSpec route, List<CompiledRule> rules,
                                   Diagnostics diagnostics) {
        for (int r = 0; r < route.rules().size(); r++) {
            RouteRuleSpec rule = route.rules().get(r);
            for (int m = 0; m < rule.matches().size(); m++) {
                RouteMatchSpec spec = rule.matches().get(m);
                RouteMatcher matcher;
                try {
                    matcher = new RouteMatcher(spec);
                } catch (com.google.re2j.PatternSyntaxException e) {
                    // the translator checks Java syntax; RE2 refuses more (lookarounds, backreferences)
                    diagnostics.warning(route.source(), route.kind(), route.name(), "spec.rules[" + r + "].matches[" + m + "]",
                            "value: " + e.getPattern() + " (expected: an RE2 regular expression: " + e.getDescription()
                                    + "; the match is ignored)");
                    continue;
                }
                MatchSummary summary = spec.grpcMethod() != null || route.grpc()
                        ? MatchSummary.grpc(spec.grpcMethod(), matcher.headerCount(), route.creationTimestamp(), route.name().toString(), r, m)
                        : new MatchSummary(spec.path().type(), matcher.prefix() != null ? matcher.prefix().length()
                                : spec.path().value().length(), spec.method() != null, matcher.headerCount(), matcher.queryCount(),
                                route.creationTimestamp(), route.name().toString(), r, m);
                list.add(new RouteTable.Entry(summary, matcher, rules.get(r)));
            }
        }
    }

    private List<CompiledRule> compileRules(HttpRouteSpec route, Map<NamespacedName, ServiceSpec> services,
                                            List<ReferenceGrantSpec> grants, ServiceSpec parent, RetryPolicy meshDefault,
                                            Diagnostics diagnostics,
                                            List<dev.waypoint.model.mesh.ServiceEntrySpec> entries) {
        List<CompiledRule> out = new ArrayList<>();
        for (int r = 0; r < route.rules().size(); r++) {
            RouteRuleSpec rule = route.rules().get(r);
            String field = "spec.rules[" + r + "]";
            // Istio's route name is <name>.<namespace>; the rule is appended so that two rules tell apart
            String routeName = route.name().name() + "." + route.name().namespace() + "."
                    + (rule.name() != null ? rule.name() : Integer.toString(r));
            String invalid = unsupported(rule.filters());
            if (invalid == null) {
                invalid = corsOnBackend(rule);
            }
            if (invalid == null && (usesReplacePrefix(rule.filters())
                    || rule.backendRefs().stream().anyMatch(b -> usesReplacePrefix(b.filters())))
                    && rule.matches().stream().anyMatch(m -> m.path().type() != RouteMatchSpec.PathType.PATH_PREFIX)) {
                invalid = "ReplacePrefixMatch needs PathPrefix matches only";
            }
            List<CompiledRule.Backend> backends = new ArrayList<>();
            int total = 0;
            for (int b = 0; b < rule.backendRefs().size(); b++) {
                BackendRefSpec ref = rule.backendRefs().get(b);
                String problem = unsupported(ref.filters());
                RouteSelection.Backend target = null;
                if (problem == null) {
                    Object resolved = ServiceEntryBackends.isServiceEntry(ref)
                            ? ServiceEntryBackends.resolve(ref, route, entries, grants)
                            : resolve(ref, route, parent, services, grants);
                    if (resolved instanceof String s) {
                        problem = s;
                    } else {
                        target = (RouteSelection.Backend) resolved;
                    }
                }
                if (problem != null) {
                    diagnostics.warning(route.source(), route.kind(), route.name(), field + ".backendRefs[" + b + "]",
                            problem + " (requests sent to it get 500)");
                }
                backends.add(new CompiledRule.Backend(target, problem, ref.weight(), ref.filters(),
                        backendMirrors(ref, route, parent, services, grants, entries, diagnostics, field + ".backendRefs[" + b + "]")));
                total += ref.weight();
            }
            boolean redirect = rule.filters().stream().anyMatch(f -> f instanceof HttpFilterSpec.RequestRedirect);
            if (invalid == null && !redirect) {
                if (backends.isEmpty()) {
                    // HTTPRouteNoBackendRefs: "omitted or empty backendRefs → 500"
                    invalid = "the rule has no backendRefs";
                } else if (total == 0) {
                    // Istio: a rule whose weights sum to 0 is a direct 500 response
                    invalid = "every backendRef has weight 0";
                } else if (backends.stream().allMatch(b -> b.target() == null)) {
                    invalid = backends.get(0).invalid();
                }
            }
            if (invalid != null && !invalid.equals(backends.isEmpty() ? null : backends.get(0).invalid())) {
                diagnostics.warning(route.source(), route.kind(), route.name(), field, invalid + " (requests matching it get 500)");
            }
            Duration timeout = null;
            Duration perTry = null;
            if (rule.timeouts() != null) {
                timeout = disabledIfZero(rule.timeouts().request());
                perTry = disabledIfZero(rule.timeouts().backendRequest());
            }
            CorsPolicy cors = null;
            List<CompiledRule.Mirror> mirrors = new ArrayList<>();
            for (int fi = 0; fi < rule.filters().size(); fi++) {
                HttpFilterSpec f = rule.filters().get(fi);
                if (f instanceof HttpFilterSpec.Cors c) {
                    cors = new CorsPolicy(c);
                } else if (f instanceof HttpFilterSpec.RequestMirror m && m.fraction() > 0) {
                    Object resolved = mirrorTarget(m, route, parent, services, grants, entries);
                    if (resolved instanceof String problem) {
                        // a mirror never affects the response: the rule still serves, without this copy
                        diagnostics.warning(route.source(), route.kind(), route.name(), field + ".filters[" + fi + "]",
                                problem + " (the mirror is dropped)");
                    } else {
                        mirrors.add(new CompiledRule.Mirror((RouteSelection.Backend) resolved, m.fraction()));
                    }
                }
            }
            out.add(new CompiledRule(routeName, invalid, rule.filters(), backends, total, timeout,
                    retry(rule.retry(), perTry, meshDefault), cors, mirrors));
        }
        return out;
    }

    private static Duration disabledIfZero(Duration d) {
        // "Setting a timeout to the zero duration (e.g. "0s") SHOULD disable the timeout"
        return d == null || d.isZero() ? null : d;
    }

    /**
     * Gateway API {@code retry.attempts}: "the maximum number of times an individual request
     * from the gateway to a backend should be retried" — retries, not tries (HTTPRouteRetryWithTimeouts
     * needs {@code attempts: 2} to survive two failed tries). Connection errors, resets and per-try
     * timeouts are retried as well ("even when no codes are listed"). {@code backoff}: "the
     * minimum duration a Gateway should wait between retry attempts" becomes Envoy's base
     * interval (Istio sets {@code retry_back_off.base_interval}); the upstream stage draws
     * Envoy's jittered exponential backoff from it ({@code RetryBackoff} in waypoint-lb).
     */
    private static RetryPolicy retry(RouteRetrySpec spec, Duration perTry, RetryPolicy meshDefault) {
        if (spec == null) {
            // Istio: "No VS policy set, use mesh defaults" (route.go, translateRoute)
            return meshDefault.withPerTryTimeout(perTry);
        }
        int retries = spec.attempts() == null ? DEFAULT_ATTEMPTS : spec.attempts();
        if (retries == 0) {
            return perTry == null ? RetryPolicy.NONE : RetryPolicy.NONE.withPerTryTimeout(perTry);
        }
        // Istio's translation (conversion.go): "connect-failure,refused-stream,unavailable,cancelled" + codes;
        // resets too, as the Gateway API asks ("SHOULD retry on connection errors (disconnect, reset, timeout, TCP failure)")
        return new RetryPolicy(retries, perTry, true, true, true, Set.copyOf(spec.codes()),
                Set.of(RetryPolicy.GRPC_CANCELLED, RetryPolicy.GRPC_UNAVAILABLE)).withBackoff(spec.backoff());
    }

    private static String unsupported(List<HttpFilterSpec> filters) {
        for (HttpFilterSpec f : filters) {
            if (f instanceof HttpFilterSpec.Unsupported u) {
                return "filter " + u.type() + " is not supported";
            }
        }
        return null;
    }

    /**
     * A backendRef's own {@code RequestMirror}s, resolved as the rule's are (an unresolvable one is
     * a warning and dropped: "mirror failures never affect the response"). The Gateway API: filters
     * on a backendRef apply "when forwarding to the backend"; so the copy is made only for the
     * requests that picked this backend. (Istio rejects any backendRef filter but the header
     * modifiers; this goes further, as issue #13 asks for filters on backendRefs.)
     */
    private static List<CompiledRule.Mirror> backendMirrors(BackendRefSpec ref, HttpRouteSpec route, ServiceSpec parent,
            Map<NamespacedName, ServiceSpec> services, List<ReferenceGrantSpec> grants,
            List<dev.waypoint.model.mesh.ServiceEntrySpec> entries, Diagnostics diagnostics, String field) {
        List<CompiledRule.Mirror> out = List.of();
        for (int fi = 0; fi < ref.filters().size(); fi++) {
            if (ref.filters().get(fi) instanceof HttpFilterSpec.RequestMirror m && m.fraction() > 0) {
                Object resolved = mirrorTarget(m, route, parent, services, grants, entries);
                if (resolved instanceof String problem) {
                    diagnostics.warning(route.source(), route.kind(), route.name(), field + ".filters[" + fi + "]",
                            problem + " (the mirror is dropped)");
                } else {
                    if (out.isEmpty()) {
                        out = new ArrayList<>(2);
                    }
                    out.add(new CompiledRule.Mirror((RouteSelection.Backend) resolved, m.fraction()));
                }
            }
        }
        return out;
    }

    /**
     * Where a {@code RequestMirror} sends its copies, resolved as a backendRef to the same object
     * is: a Service port, or a ServiceEntry port ({@code networking.istio.io} {@code Hostname} /
     * {@code ServiceEntry}, {@link ServiceEntryBackends}: required port, exportTo, ReferenceGrant;
     * its STATIC or DNS endpoints are the upstream stage's, as for a backend). Istio converts a
     * mirror's {@code backendRef} with the same {@code buildDestination} as a backendRef
     * (gateway/conversion.go {@code createMirrorFilter}). A String says why it is unusable.
     */
    private static Object mirrorTarget(HttpFilterSpec.RequestMirror m, HttpRouteSpec route, ServiceSpec parent,
                                       Map<NamespacedName, ServiceSpec> services, List<ReferenceGrantSpec> grants,
                                       List<dev.waypoint.model.mesh.ServiceEntrySpec> entries) {
        return ServiceEntryBackends.isServiceEntry(m.backend())
                ? ServiceEntryBackends.resolve(m.backend(), route, entries, grants)
                : resolve(m.backend(), route, parent, services, grants);
    }

    /**
     * A CORS filter answers for the rule (a preflight is answered before any backend is picked):
     * on a backendRef it has no meaning here (Istio rejects it too).
     */
    private static String corsOnBackend(RouteRuleSpec rule) {
        for (BackendRefSpec b : rule.backendRefs()) {
            for (HttpFilterSpec f : b.filters()) {
                if (f instanceof HttpFilterSpec.Cors) {
                    return "filter CORS on a backendRef is not supported (put it on the rule)";
                }
            }
        }
        return null;
    }

    private static boolean usesReplacePrefix(List<HttpFilterSpec> filters) {
        for (HttpFilterSpec f : filters) {
            HttpFilterSpec.PathModifier p = f instanceof HttpFilterSpec.RequestRedirect r ? r.path()
                    : f instanceof HttpFilterSpec.UrlRewrite u ? u.path() : null;
            if (p != null && p.type() == HttpFilterSpec.PathModifierType.REPLACE_PREFIX_MATCH) {
                return true;
            }
        }
        return false;
    }

    /** The multi-cluster services API group ({@code ServiceImport}). */
    private static final String MCS_GROUP = "multicluster.x-k8s.io";

    /** A {@link RouteSelection.ServiceBackend}, or a String saying why the reference is unusable. */
    private static Object resolve(BackendRefSpec ref, HttpRouteSpec route, ServiceSpec parent,
                                  Map<NamespacedName, ServiceSpec> services, List<ReferenceGrantSpec> grants) {
        // a multi-cluster ServiceImport is its same-named Service: Istio does so while ENABLE_MCS_HOST is
        // off, its default ("we can just treat it as Service, which is already cross-cluster in this mode")
        boolean serviceImport = MCS_GROUP.equals(ref.group()) && "ServiceImport".equals(ref.kind());
        if (!ref.isService() && !serviceImport) {
            return "backendRef kind " + (ref.group().isEmpty() ? "" : ref.group() + "/") + ref.kind()
                    + " is not supported (expected: Service, networking.istio.io/ServiceEntry, networking.istio.io/Hostname"
                    + " or multicluster.x-k8s.io/ServiceImport)";
        }
        NamespacedName name = new NamespacedName(ref.namespace(), ref.name());
        if (!ref.namespace().equals(route.name().namespace()) && !name.equals(parent.name())
                && grants.stream().noneMatch(g -> g.name().namespace().equals(ref.namespace())
                        && g.allows(GATEWAY_GROUP, route.kind(), route.name().namespace(), serviceImport ? MCS_GROUP : "",
                        serviceImport ? "ServiceImport" : "Service", ref.name()))) {
            return "backendRef " + name + " is in another namespace and no ReferenceGrant allows it";
        }
        ServiceSpec svc = services.get(name);
        if (svc == null) {
            return "backendRef Service " + name + " does not exist";
        }
        if (ref.port() == 0) {
            return "backendRef Service " + name + " has no port (expected: port is required for a Service)";
        }
        ServicePortSpec port = svc.port(ref.port());
        if (port == null) {
            return "backendRef Service " + name + " has no port " + ref.port();
        }
        return new RouteSelection.ServiceBackend(svc, port);
    }
}
