package dev.waypoint.server;

import dev.waypoint.authz.AuthzEngine;
import dev.waypoint.authz.AuthzTable;
import dev.waypoint.authz.TunnelAuthz;
import dev.waypoint.lb.Endpoint;
import dev.waypoint.lb.Upstreams;
import dev.waypoint.lb.EndpointTable;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.AppProtocol;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TargetResolution;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.routing.BackendPicker;
import dev.waypoint.routing.L4Decision;
import dev.waypoint.routing.L4RouteTable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * {@code waypoint explain}: what the waypoint would do with one request, from a config snapshot
 * and no network. It resolves the URL's host (a Service VIP or name, a ServiceEntry host) to the CONNECT target as a
 * source ztunnel would address it, checks the binding, runs the same filter list as the data
 * path ({@link InboundRequestPipeline#filters}) over a request built from the arguments, and
 * shows each stage's decision and what it wrote, then the backend and the endpoints a pick would
 * choose from. Nothing is sent anywhere. Pure apart from the filters' own work.
 */
final class Explain {
    /** The request to explain. */
    record Request(String method, URI url, SpiffeId from, InetAddress sourceIp, Map<String, List<String>> headers) {
        Request {
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(url, "url");
        }

        /** Whether the request is gRPC ({@code content-type: application/grpc*}). */
        boolean grpc() {
            List<String> ct = headers.getOrDefault("content-type", List.of());
            return !ct.isEmpty() && ct.get(0).toLowerCase(Locale.ROOT).startsWith("application/grpc");
        }
    }

    /** One stage's line: its name, what it decided, and why. */
    record Stage(String name, String decision, String detail) {}

    /**
     * The whole answer. {@code tunnel} is {@code http} (the filter list ran) or {@code tcp} (the port
     * is declared TCP: authorized once at CONNECT and relayed; no HTTP stage), null when the CONNECT
     * is refused before. {@code decisions} are the stages' records as they are ({@code toString});
     * {@code decisionText} says the same for a person (the text output) and is left out of the JSON.
     */
    record Report(String request, String from, String target, boolean accepted, String refusal, String tunnel,
                  List<Stage> stages, Map<String, String> decisions, String outcome, String backend, List<String> endpoints,
                  Map<String, String> decisionText) {}

    private Explain() {}

    static Report explain(ConfigSnapshot snapshot, Request req, List<HttpFilter> filters) {
        String line = req.method() + " " + req.url();
        String from = req.from() == null ? "(no peer identity: plaintext)" : req.from().uri();
        if (req.sourceIp() != null) {
            from += " at " + req.sourceIp().getHostAddress();
        }
        String authority;
        try {
            authority = authority(snapshot, req.url(), req.from() == null ? null : req.from().namespace());
        } catch (IllegalArgumentException e) {
            return new Report(line, from, req.url().getHost(), false, e.getMessage(), null, List.of(), Map.of(), "not sent",
                    null, List.of(), Map.of());
        }
        TargetResolution resolved = TargetResolver.resolve(authority, snapshot.part(TargetTable.PART));
        if (resolved instanceof Rejection r) {
            return new Report(line, from, authority, false, r.toString(), null, List.of(), Map.of(),
                    "CONNECT " + authority + " refused: " + r.reason().status() + " " + r.reason().code(), null, List.of(),
                    Map.of());
        }
        Target target = (Target) resolved;
        if (target instanceof Target.ServiceEntryTarget se && !se.entry().exportedTo(req.from() == null ? null
                : req.from().namespace())) {
            return new Report(line, from, authority, false, "ServiceEntry " + se.entry().name() + " is not exported to "
                    + (req.from() == null ? "a caller without a mesh identity" : "namespace " + req.from().namespace())
                    + " (exportTo " + se.entry().exportTo() + ")", null, List.of(), Map.of(),
                    "CONNECT " + authority + " refused: 400 target_not_bound", null, List.of(), Map.of());
        }
        InetSocketAddress source = req.sourceIp() == null ? null : new InetSocketAddress(req.sourceIp(), 0);
        TunnelContext tunnel = new TunnelContext(target, req.from(), source, source, null, null, null);
        AuthzEngine engine = snapshot.part(AuthzTable.PART).engineFor(target);
        if (target.protocol() == AppProtocol.TCP) {
            // as ConnectHandler: a port declared TCP runs no filter list; the tunnel is authorized and relayed
            return tcp(snapshot, req, line, from, target, tunnel, engine);
        }
        MapHeaders headers = new MapHeaders(req.headers());
        if (!headers.contains("host")) {
            headers.set("host", req.url().getHost() + (req.url().getPort() > 0 ? ":" + req.url().getPort() : ""));
        }
        Attributes attrs = new Attributes(req, tunnel, headers);
        // path normalization rewrites the path here as it would the forwarded request line
        RequestContext rc = new RequestContext(tunnel, snapshot, target, attrs, headers,
                new RequestOutcome(System.nanoTime()), attrs::rewrite);
        List<Stage> stages = new ArrayList<>();
        String outcome = null;
        Map<String, List<String>> before = snapshotOf(headers);
        for (HttpFilter f : filters) {
            FilterResult r = f.onRequest(rc);
            for (int tries = 0; r instanceof FilterResult.Retry retry && tries < 3; tries++) {
                // the filter waits for something (JWKS keys) and wants to be asked again
                try {
                    retry.ready().toCompletableFuture().get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    // asked again anyway: the filter decides what a failed wait means
                }
                r = f.onRequest(rc);
            }
            if (r instanceof FilterResult.Pause p) {
                try {
                    r = p.later().toCompletableFuture().get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    stages.add(new Stage(f.name(), "failed", "paused and did not resume: " + e));
                    outcome = "500 internal_error (stage " + f.name() + ")";
                    break;
                }
            }
            if (r instanceof FilterResult.Reply reply) {
                Rejection rej = reply.rejection();
                stages.add(new Stage(f.name(), "answers " + rej.status(), rej.reason().code() + ": " + rej.message()
                        + (reply.headers().isEmpty() ? "" : " " + new java.util.TreeMap<>(reply.headers()))));
                outcome = "answered by " + f.name() + ": " + (req.grpc() ? "grpc-status " + rej.reason().grpcStatus()
                        : rej.status() + " " + rej.reason().code());
                break;
            }
            stages.add(new Stage(f.name(), "continue", ""));
        }
        Map<String, String> decisions = new LinkedHashMap<>();
        Map<String, String> decisionText = new LinkedHashMap<>();
        rc.slots().forEach((k, v) -> {
            decisions.put(k, String.valueOf(v));
            decisionText.put(k, v instanceof AuthzDecision d ? text(d, k.equals(AuthzDecision.SHADOW_KEY.name())
                    ? dryRunAllowPolicies(engine) : allowPolicies(engine.debug()), engine.isEmpty()) : String.valueOf(v));
        });
        String backend = null;
        List<String> endpoints = List.of();
        if (outcome == null) {
            RouteSelection route = rc.get(RouteSelection.KEY);
            if (route == null) {
                outcome = "500 internal_error: no route was decided";
            } else {
                backend = describe(route.backend());
                endpoints = endpoints(snapshot, route.backend());
                outcome = endpoints.isEmpty() ? "503 no_healthy_upstream (" + backend + " has no ready endpoint)"
                        : "forwarded to " + backend + " on route " + route.routeName()
                                + (attrs.path().equals(new Attributes(req, tunnel, headers).path()) ? "" : " as " + attrs.path())
                                + headerChanges(before, snapshotOf(headers))
                                + (route.mirrors().isEmpty() ? "" : ", mirrored to "
                                        + String.join(", ", route.mirrors().stream().map(Explain::describe).toList()));
            }
        }
        return new Report(line, from, describe(target), true, null, "http", stages, decisions, outcome, backend, endpoints,
                decisionText);
    }

    /**
     * A TCP target (a port declared TCP), as the data path treats it (ConnectHandler): the L4
     * AuthorizationPolicy check, once per tunnel before the CONNECT is answered
     * ({@link TunnelAuthz}); then the TCPRoute's backend (TLSRoutes: by the ClientHello's SNI,
     * here the URL's host name) or the target's own, whose upstream is connected before the 200;
     * then bytes are relayed. No HTTP stage runs: the method, path and headers are never seen.
     */
    private static Report tcp(ConfigSnapshot snapshot, Request req, String line, String from, Target target,
                              TunnelContext tunnel, AuthzEngine engine) {
        List<Stage> stages = new ArrayList<>();
        Map<String, String> decisions = new LinkedHashMap<>();
        Map<String, String> decisionText = new LinkedHashMap<>();
        AuthzDecision authz = TunnelAuthz.decide(snapshot, tunnel);
        decisions.put(AuthzDecision.KEY.name(), String.valueOf(authz));
        decisionText.put(AuthzDecision.KEY.name(), text(authz, allowPolicies(engine.debug()), engine.isEmpty())
                + " (L4: once per tunnel, at CONNECT)");
        String describedTarget = describe(target);
        if (!authz.allowed()) {
            Rejection denied = new Rejection(Rejection.Reason.CONNECT_RBAC_DENIED, authz.detail());
            stages.add(new Stage("l4-authz", "refuses the CONNECT " + denied.status(), denied.reason().code() + ": "
                    + denied.message()));
            return new Report(line, from, describedTarget, true, null, "tcp", stages, decisions, "CONNECT refused: "
                    + denied.status() + " " + denied.reason().code(), null, List.of(), decisionText);
        }
        stages.add(new Stage("l4-authz", "continue", "AuthorizationPolicy's L4 check, before the CONNECT is answered"));
        L4RouteTable routes = snapshot.part(L4RouteTable.PART);
        String caller = req.from() == null ? null : req.from().namespace();
        String host = req.url().getHost();
        boolean bySni = routes.hasTls(target, caller);
        String sni = host == null || host.startsWith("[") || host.matches("[0-9.]+") ? null : host;
        L4Decision route = bySni ? routes.tls(target, caller, sni, BackendPicker.random())
                : routes.tcp(target, caller, BackendPicker.random());
        String via = bySni ? "TLSRoute by SNI " + (sni == null ? "(none: the URL's host is an address)" : sni
                + " (the URL's host)") + ", after the 200" : "TCPRoute";
        decisions.put("route", String.valueOf(route));
        RouteSelection.Backend backend;
        if (route instanceof L4Decision.Reject r) {
            // no route name: no TLSRoute hostname matches and no TCPRoute attaches ("a ClientHello without a
            // matching SNI is closed"); else the route's chosen backendRef is invalid
            String why = r.routeName() == null ? "no TLSRoute hostname matches, and no TCPRoute attaches: closed"
                    : r.rejection().message();
            stages.add(new Stage("l4-route", "answers " + r.rejection().status(), r.rejection().reason().code() + ": "
                    + why));
            decisionText.put("route", via + ": " + why);
            return new Report(line, from, describedTarget, true, null, "tcp", stages, decisions, (bySni ? "closed: "
                    : "CONNECT refused: ") + r.rejection().status() + " " + r.rejection().reason().code(), null,
                    List.of(), decisionText);
        }
        if (route instanceof L4Decision.Forward f) {
            backend = f.backend();
            decisionText.put("route", via + " " + f.routeName() + " -> " + describe(backend)
                    + " (a backend drawn by weight, once per connection)");
        } else {
            backend = Upstreams.defaultBackend(target);
            decisionText.put("route", "no " + (bySni ? "TLSRoute or TCPRoute" : "TCPRoute") + ": the target's own, "
                    + describe(backend));
        }
        stages.add(new Stage("l4-route", "continue", via.startsWith("TCPRoute") ? "TCPRoute, else the target's own backend"
                : "TLSRoute by the ClientHello's SNI, else TCPRoute, else closed"));
        String described = describe(backend);
        List<String> endpoints = endpoints(snapshot, backend);
        String outcome = endpoints.isEmpty() ? "CONNECT refused: 503 no_healthy_upstream (" + described
                + " has no ready endpoint)" : "relayed to " + described + (bySni ? " (after the ClientHello)"
                : " (connected before the CONNECT is answered 200)");
        return new Report(line, from, describedTarget, true, null, "tcp", stages, decisions, outcome, described, endpoints,
                decisionText);
    }

    /**
     * An authorization decision for a person: which policy and rule decided, or why none did.
     *
     * @param allowPolicies how many ALLOW policies apply (the default deny's reason)
     * @param noPolicy no AuthorizationPolicy applies at all
     */
    static String text(AuthzDecision d, int allowPolicies, boolean noPolicy) {
        if (d instanceof AuthzDecision.Allow a) {
            if (a.rule() < 0) {
                // "No ALLOW policy attached → allow"
                return noPolicy ? "allow: no AuthorizationPolicy applies"
                        : "allow: no ALLOW policy applies, and no DENY or CUSTOM rule matched";
            }
            return "allow: ALLOW policy " + a.policy() + ", rule " + a.rule() + " matched";
        }
        AuthzDecision.Deny deny = (AuthzDecision.Deny) d;
        if (deny.policy() == null) {
            // "Otherwise → 403": ALLOW policies apply and none matched
            return "deny: no ALLOW policy matched (" + allowPolicies + (allowPolicies == 1 ? " ALLOW policy applies)"
                    : " ALLOW policies apply)");
        }
        if (deny.rule() < 0) {
            return "deny: " + deny.action() + " policy " + deny.policy()
                    + " could not be compiled and denies every request it applies to";
        }
        return "deny: " + deny.action() + " policy " + deny.policy() + ", rule " + deny.rule() + " matched";
    }

    /** The number of ALLOW policies in an engine's {@link AuthzEngine#debug()} tiers. */
    private static int allowPolicies(Map<String, Object> tiers) {
        return tiers.get("allow") instanceof List<?> l ? l.size() : 0;
    }

    private static int dryRunAllowPolicies(AuthzEngine engine) {
        return engine.debug().get("dryRun") instanceof Map<?, ?> m && m.get("allow") instanceof List<?> l ? l.size() : 0;
    }

    /** The report as JSON: every field but {@code decisionText}, which the text output shows. */
    static String json(Report r) throws com.fasterxml.jackson.core.JsonProcessingException {
        com.fasterxml.jackson.databind.ObjectMapper mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode tree = mapper.valueToTree(r);
        tree.remove("decisionText");
        return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(tree);
    }

    /**
     * The CONNECT authority a source ztunnel would send for {@code url}: the host is an IP (a VIP
     * or a pod IP) or a Service name ({@code name.ns}, {@code name.ns.svc}, {@code name.ns.svc.cluster.local});
     * the port defaults to 80 for http and 443 for https. A single-label name ({@code reviews}) is a
     * Service of {@code callerNamespace} (the {@code --from} identity's), as the caller's DNS search
     * path resolves it.
     */
    static String authority(ConfigSnapshot snapshot, URI url) {
        return authority(snapshot, url, null);
    }

    static String authority(ConfigSnapshot snapshot, URI url, String callerNamespace) {
        String host = url.getHost();
        if (host == null) {
            throw new IllegalArgumentException("url: " + url + " (expected: http://HOST[:PORT]/PATH)");
        }
        int port = url.getPort() > 0 ? url.getPort() : "https".equalsIgnoreCase(url.getScheme()) ? 443 : 80;
        String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (h.matches("[0-9.]+") || h.contains(":")) {
            return new HostPort(HostPort.parseIp(h), port).authority();
        }
        String[] parts = h.toLowerCase(Locale.ROOT).split("\\.");
        if (parts.length == 1 && callerNamespace != null) {
            parts = new String[] {parts[0], callerNamespace}; // NAME: NAME.<caller's namespace>, as its resolv.conf says
        }
        if (parts.length >= 2) {
            for (ServiceSpec s : snapshot.resources().services()) {
                if (s.name().name().equals(parts[0]) && s.name().namespace().equals(parts[1])) {
                    if (s.clusterIps().isEmpty()) {
                        throw new IllegalArgumentException("service " + s.name() + " is headless: address a pod IP instead");
                    }
                    return new HostPort(s.clusterIps().get(0), port).authority();
                }
            }
        }
        // a ServiceEntry host (exact, or under a *. wildcard host), addressed at its first VIP
        for (ServiceEntrySpec se : snapshot.resources().serviceEntries()) {
            for (String sh : se.hosts()) {
                String lower = sh.toLowerCase(Locale.ROOT);
                String name = h.toLowerCase(Locale.ROOT);
                if (lower.equals(name) || lower.startsWith("*.") && name.endsWith(lower.substring(1))) {
                    if (se.addresses().isEmpty()) {
                        throw new IllegalArgumentException("ServiceEntry " + se.name() + " (host " + sh
                                + ") has no addresses: a client cannot address it through a waypoint");
                    }
                    return new HostPort(se.addresses().get(0), port).authority();
                }
            }
        }
        if (parts.length < 2) {
            throw new IllegalArgumentException("host: " + host
                    + " (expected: a Service VIP, NAME.NAMESPACE[.svc[.DOMAIN]], a ServiceEntry host, or NAME with --from)");
        }
        throw new IllegalArgumentException("host: " + host + ": no Service " + parts[1] + "/" + parts[0]
                + " in the config (nor a ServiceEntry with this host)");
    }

    private static String describe(Target t) {
        if (t instanceof Target.ServiceTarget s) {
            return "Service " + s.service().name() + " port " + s.port().port() + " (" + s.authority() + ", "
                    + s.protocol().name().toLowerCase(Locale.ROOT) + ")";
        }
        if (t instanceof Target.ServiceEntryTarget se) {
            return "ServiceEntry " + se.entry().name() + " (" + se.entry().host() + ") port " + se.port().port() + " ("
                    + se.authority() + ", " + se.protocol().name().toLowerCase(Locale.ROOT) + ")";
        }
        Target.WorkloadTarget w = (Target.WorkloadTarget) t;
        return "Pod " + w.pod().name() + " (" + w.authority() + ", " + w.protocol().name().toLowerCase(Locale.ROOT) + ")";
    }

    private static String describe(RouteSelection.Backend b) {
        if (b instanceof RouteSelection.ServiceBackend s) {
            return "Service " + s.service().name() + ":" + s.port().port();
        }
        if (b instanceof RouteSelection.ServiceEntryBackend se) {
            return se.toString();
        }
        RouteSelection.PodBackend p = (RouteSelection.PodBackend) b;
        return "Pod " + p.pod().name() + ":" + p.port();
    }

    private static List<String> endpoints(ConfigSnapshot snapshot, RouteSelection.Backend b) {
        EndpointTable table = snapshot.part(EndpointTable.PART);
        if (b instanceof RouteSelection.ServiceBackend s) {
            return table.endpoints(s.service().name(), s.port().port()).stream().map(Endpoint::toString).toList();
        }
        if (b instanceof RouteSelection.ServiceEntryBackend se) {
            if (se.entry().resolution() == dev.waypoint.model.mesh.ServiceEntrySpec.Resolution.NONE) {
                return List.of((se.original() == null ? "none" : se.original().toString()) + " (original destination, plaintext)");
            }
            return snapshot.part(dev.waypoint.lb.ServiceEntryEndpoints.PART).debug(se.entry().name(), se.port().port());
        }
        RouteSelection.PodBackend p = (RouteSelection.PodBackend) b;
        return p.pod().ip() == null ? List.of() : List.of(new HostPort(p.pod().ip(), p.port()) + (table.inMesh(p.pod().name())
                ? " (hbone " + p.pod().identity(snapshot.resources().trustDomain()) + ")" : " (plaintext)"));
    }

    /** The report as text, for a person. */
    static String text(Report r) {
        StringBuilder b = new StringBuilder();
        b.append(r.request()).append('\n');
        row(b, "from", r.from());
        row(b, "target", r.target());
        if (!r.accepted()) {
            row(b, "result", r.outcome());
            if (r.refusal() != null) {
                row(b, "why", r.refusal());
            }
            return b.toString();
        }
        if ("tcp".equals(r.tunnel())) {
            row(b, "tunnel", "TCP (the port is declared TCP): authorized once, at CONNECT, then relayed as bytes; "
                    + "no HTTP stage runs (the method, path and headers are not seen)");
        }
        b.append("  stages\n");
        int width = r.stages().stream().mapToInt(s -> s.name().length()).max().orElse(0);
        for (Stage s : r.stages()) {
            b.append("    ").append(pad(s.name(), width)).append("  ").append(s.decision());
            if (!s.detail().isEmpty()) {
                b.append("  ").append(s.detail());
            }
            b.append('\n');
        }
        if (!r.decisionText().isEmpty()) {
            b.append("  decided\n");
            int w = r.decisionText().keySet().stream().mapToInt(String::length).max().orElse(0);
            r.decisionText().forEach((k, v) -> b.append("    ").append(pad(k, w)).append("  ").append(v).append('\n'));
        }
        row(b, "result", r.outcome());
        if (!r.endpoints().isEmpty()) {
            b.append("  endpoints (").append(r.endpoints().size()).append(", least request unless a DestinationRule says otherwise)\n");
            r.endpoints().forEach(e -> b.append("    ").append(e).append('\n'));
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String label, String value) {
        b.append("  ").append(pad(label, 7)).append(' ').append(value).append('\n');
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }

    /** The headers as they are now (name lower-cased → values), for a before/after comparison. */
    private static Map<String, List<String>> snapshotOf(HeadersView headers) {
        Map<String, List<String>> m = new java.util.TreeMap<>();
        headers.forEach((k, v) -> m.computeIfAbsent(k.toLowerCase(Locale.ROOT), x -> new ArrayList<>()).add(v));
        return m;
    }

    /**
     * {@code " with request headers +x-route: a, -x-debug"}: what the stages (an HTTPRoute's
     * RequestHeaderModifier, the authn stage's outputClaimToHeaders, ...) changed in the headers
     * that go upstream; empty when nothing changed.
     */
    static String headerChanges(Map<String, List<String>> before, Map<String, List<String>> after) {
        List<String> changes = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : after.entrySet()) {
            if (e.getKey().equals("x-request-id")) {
                continue; // the telemetry stage gives every request one (a new random id per run)
            }
            List<String> old = before.get(e.getKey());
            if (!e.getValue().equals(old)) {
                changes.add((old == null ? "+" : "~") + e.getKey() + ": " + String.join(", ", e.getValue()));
            }
        }
        for (String name : before.keySet()) {
            if (!after.containsKey(name)) {
                changes.add("-" + name);
            }
        }
        return changes.isEmpty() ? "" : " with request headers " + String.join(", ", changes);
    }

    /** Request headers from the command line; names lower-cased. */
    static final class MapHeaders implements HeadersView {
        private final Map<String, List<String>> map = new LinkedHashMap<>();

        MapHeaders(Map<String, List<String>> initial) {
            initial.forEach((k, v) -> map.put(k.toLowerCase(Locale.ROOT), new ArrayList<>(v)));
        }

        @Override
        public String get(CharSequence name) {
            List<String> v = map.get(name.toString().toLowerCase(Locale.ROOT));
            return v == null || v.isEmpty() ? null : v.get(0);
        }

        @Override
        public List<String> getAll(CharSequence name) {
            return List.copyOf(map.getOrDefault(name.toString().toLowerCase(Locale.ROOT), List.of()));
        }

        @Override
        public boolean contains(CharSequence name) {
            return map.containsKey(name.toString().toLowerCase(Locale.ROOT));
        }

        @Override
        public void set(CharSequence name, String value) {
            map.put(name.toString().toLowerCase(Locale.ROOT), new ArrayList<>(List.of(value)));
        }

        @Override
        public void add(CharSequence name, String value) {
            map.computeIfAbsent(name.toString().toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(value);
        }

        @Override
        public void remove(CharSequence name) {
            map.remove(name.toString().toLowerCase(Locale.ROOT));
        }

        @Override
        public void forEach(java.util.function.BiConsumer<String, String> action) {
            for (Map.Entry<String, List<String>> e : List.copyOf(map.entrySet())) {
                for (String v : List.copyOf(e.getValue())) {
                    action.accept(e.getKey(), v);
                }
            }
        }

        @Override
        public List<String> names() {
            return List.copyOf(map.keySet());
        }
    }

    /** What matchers see of the explained request. */
    private static final class Attributes implements RequestAttributes {
        private final Request req;
        private final TunnelContext tunnel;
        private final HeadersView headers;
        private String path;

        Attributes(Request req, TunnelContext tunnel, HeadersView headers) {
            this.req = req;
            this.tunnel = tunnel;
            this.headers = headers;
            String p = req.url().getRawPath();
            String q = req.url().getRawQuery();
            this.path = (p == null || p.isEmpty() ? "/" : p) + (q == null ? "" : "?" + q);
        }

        void rewrite(String newPath) {
            path = newPath;
        }

        @Override
        public String method() {
            return req.method();
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public HeadersView headers() {
            return headers;
        }

        @Override
        public String host() {
            return headers.get("host");
        }

        @Override
        public String scheme() {
            return req.url().getScheme() == null ? "http" : req.url().getScheme();
        }

        @Override
        public String protocol() {
            return req.grpc() ? "HTTP/2" : "HTTP/1.1";
        }

        @Override
        public boolean grpc() {
            return req.grpc();
        }

        @Override
        public SpiffeId sourcePrincipal() {
            return tunnel.peer();
        }

        @Override
        public InetSocketAddress sourceAddress() {
            return tunnel.source();
        }

        @Override
        public InetSocketAddress destinationAddress() {
            HostPort a = tunnel.target().authority();
            return new InetSocketAddress(a.address(), a.port());
        }
    }
}
