package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.PathRewrite;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.routing.BackendPicker;
import dev.waypoint.routing.HttpRouteCompiler;
import dev.waypoint.routing.RouteFilter;
import java.io.IOException;
import java.io.Reader;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Replays {@code shared/cases/routing-cases.yaml} (the Gateway API mesh conformance expectations)
 * at the route stage: the case's environment and routes go through the real translator and
 * {@link HttpRouteCompiler}, the request through {@link RouteFilter}, and the decision (backend
 * Service or pod, local status, {@code Location}, headers and path the backend would see, response
 * headers after the filter) is compared with {@code expect}. No sockets: the backend is simulated
 * as "answers 200 with {@code backendBehavior.responseHeaders}" (101 to a WebSocket upgrade over HTTP/1.1), and timeout and retry cases replay
 * the upstream stage's attempt rules over the case's delays and failures ({@link #attempts}). Cases needing what this level
 * cannot show or what is not implemented are skipped with their reason (see the summary).
 */
class RoutingCasesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final NamespacedName WAYPOINT = new NamespacedName("istio-system", "waypoint");
    private static final Map<String, Integer> SKIPS = new TreeMap<>();
    private static int passed;

    @TestFactory
    Stream<DynamicTest> cases() throws IOException {
        Path file = casesFile();
        Assumptions.assumeTrue(file != null, "shared/cases/routing-cases.yaml not found above " + Path.of("").toAbsolutePath());
        JsonNode root;
        LoaderOptions options = new LoaderOptions();
        options.setMaxAliasesForCollections(10_000);
        try (Reader r = Files.newBufferedReader(file)) {
            root = JSON.valueToTree(new Yaml(options).load(r));
        }
        List<WireObject> environment = environment(root.path("environment"));
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            tests.add(DynamicTest.dynamicTest(c.path("id").asText(), () -> run(c, environment)));
        }
        // more cases from the same upstream suites (same schema), replayed in the shared file's environment
        try (java.io.InputStream in = RoutingCasesTest.class.getResourceAsStream("/cases/routing-cases-more.yaml")) {
            assertThat(in).as("the test resource cases/routing-cases-more.yaml").isNotNull();
            JsonNode more = JSON.valueToTree(new Yaml(options).load(in));
            for (JsonNode c : more.path("cases")) {
                tests.add(DynamicTest.dynamicTest("more/" + c.path("id").asText(), () -> run(c, environment)));
            }
        }
        return tests.stream();
    }

    @AfterAll
    static void summary() {
        int skipped = SKIPS.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("routing cases: " + passed + " passed, " + skipped + " skipped");
        SKIPS.forEach((reason, n) -> System.out.println("  skipped " + n + ": " + reason));
    }

    private static Path casesFile() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path f = dir.resolve("shared/cases/routing-cases.yaml");
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        return null;
    }

    private static String skipReason(JsonNode c) {
        Set<String> features = new java.util.HashSet<>();
        c.path("features").forEach(f -> features.add(f.asText()));
        for (JsonNode r : c.path("routes")) {
            if (!r.path("kind").asText().equals("HTTPRoute") && !r.path("kind").asText().equals("GRPCRoute")) {
                return r.path("kind").asText() + " is not implemented";
            }
        }
        return null;
    }

    private static void run(JsonNode c, List<WireObject> environment) {
        String skip = skipReason(c);
        if (skip != null) {
            synchronized (SKIPS) {
                SKIPS.merge(skip, 1, Integer::sum);
            }
            Assumptions.abort(skip);
        }
        List<WireObject> wire = new ArrayList<>(environment);
        for (JsonNode r : c.path("routes")) {
            wire.add(new WireObject(r, new SourceRef(c.path("id").asText(), 0)));
        }
        for (JsonNode r : c.path("extraObjects")) {
            wire.add(new WireObject(r, new SourceRef(c.path("id").asText(), 0)));
        }
        Diagnostics diagnostics = new Diagnostics();
        ResourceSet rs = ResourceTranslator.resourceSet(WAYPOINT, "cluster.local", ResourceTranslator.translate(wire, diagnostics));
        assertThat(diagnostics.hasErrors()).as("translation errors: %s", diagnostics.problems()).isFalse();
        ConfigSnapshot snapshot = ConfigSnapshot.compile(0, rs, List.of(new HttpRouteCompiler()), diagnostics);
        JsonNode expect = c.path("expect");
        RouteFilter filter = new RouteFilter(BackendPicker.seeded(42));

        if (expect.has("distribution")) {
            Map<String, Integer> seen = new HashMap<>();
            int n = 2000;
            for (int i = 0; i < n; i++) {
                Outcome o = once(c, rs, snapshot, filter);
                seen.merge(o.backend, 1, Integer::sum);
            }
            expect.path("distribution").fields().forEachRemaining(e -> assertThat(seen.getOrDefault(e.getKey(), 0) / (double) n)
                    .as("share of %s in %s", e.getKey(), seen).isCloseTo(e.getValue().asDouble(), org.assertj.core.data.Offset.offset(0.05)));
            passed++;
            return;
        }
        if (expect.has("mirroredTo")) {
            // the route decides, per request, which mirrors get a copy (percent / fraction); the copy itself is
            // the upstream stage's (UpstreamMirrorTest, RouteFiltersEndToEndTest)
            Map<String, Integer> mirrored = new HashMap<>();
            int n = 2000;
            for (int i = 0; i < n; i++) {
                Outcome o = once(c, rs, snapshot, filter);
                check(expect, o, rs);
                for (RouteSelection.Backend b : o.selection.mirrors()) {
                    RouteSelection.ServiceBackend m = (RouteSelection.ServiceBackend) b; // the cases mirror to Services
                    mirrored.merge(m.service().name().namespace() + "/" + m.service().name().name(), 1, Integer::sum);
                }
            }
            for (JsonNode m : expect.path("mirroredTo")) {
                String key = m.path("namespace").asText() + "/" + m.path("service").asText();
                double share = m.path("percent").asDouble(100) / 100;
                assertThat(mirrored.getOrDefault(key, 0) / (double) n).as("share of requests mirrored to %s", key)
                        .isCloseTo(share, org.assertj.core.data.Offset.offset(share == 1 ? 0 : 0.05));
            }
            assertThat(mirrored.keySet()).as("mirrors").hasSize(expect.path("mirroredTo").size());
            passed++;
            return;
        }
        int repeat = expect.path("repeat").asInt(1);
        for (int i = 0; i < repeat; i++) {
            Outcome o = once(c, rs, snapshot, filter);
            if (o.selection != null && isTimed(c.path("backendBehavior"))) {
                o = attempts(c.path("backendBehavior"), o, expect);
            }
            check(expect, o, rs);
        }
        passed++;
    }

    private record Outcome(int status, String backend, String backendNamespace, Set<String> backendPods,
                           Map<String, String> replyHeaders, Headers requestHeaders, String requestPath, Headers responseHeaders,
                           RouteSelection selection, int grpcStatus) {}

    private static boolean isTimed(JsonNode behavior) {
        return behavior.has("delay") || behavior.has("failFirstN") || behavior.has("delayFailedAttempts");
    }

    /**
     * The attempts the upstream stage makes for the route's decision against the case's backend
     * behaviour, by the rules {@code UpstreamRequest} implements (and {@code UpstreamRequestTest}
     * tests): the route timeout bounds all tries (504); a try longer than the per-try timeout fails
     * and is retried when connection failures are; a listed status is retried; a reset is retried
     * when resets are, and the last one answers 503 (Envoy's answer to a reset before the response). This checks what the route compiled
     * (timeouts, "attempts counts retries", codes) against the conformance expectations without
     * sleeping.
     */
    private static Outcome attempts(JsonNode behavior, Outcome routed, JsonNode expect) {
        RouteSelection sel = routed.selection;
        long total = sel.timeout() == null ? Long.MAX_VALUE : sel.timeout().toMillis();
        long perTry = sel.retry().perTryTimeout() == null ? Long.MAX_VALUE : sel.retry().perTryTimeout().toMillis();
        long delay = millis(behavior.path("delay").asText("0s"));
        long failedDelay = millis(behavior.path("delayFailedAttempts").asText("0s"));
        int failFirst = behavior.path("failFirstN").asInt(0);
        Integer failStatus = behavior.has("failStatus") ? behavior.path("failStatus").asInt() : null;
        int retriesLeft = sel.retry().retries();
        long elapsed = 0;
        for (int i = 0; ; i++) {
            boolean fails = i < failFirst;
            long took = fails ? failedDelay : delay;
            // a try that needs exactly the time left misses it: the real one adds network time
            boolean perTryTimedOut = took >= perTry;
            long spent = Math.min(took, perTry);
            if (elapsed + spent >= total) {
                return failed(routed, 504);
            }
            elapsed += spent;
            int status;
            boolean retriable;
            if (perTryTimedOut) {
                status = 504;
                retriable = sel.retry().connectFailure();
            } else if (!fails) {
                return routed;
            } else if (failStatus == null) {
                status = 503; // upstream_reset_before_response_started (UC), as Envoy answers a reset
                retriable = sel.retry().reset();
            } else {
                status = failStatus;
                retriable = sel.retry().retriable(failStatus);
            }
            if (!retriable || retriesLeft == 0) {
                return failed(routed, status);
            }
            retriesLeft--;
        }
    }

    private static Outcome failed(Outcome o, int status) {
        return new Outcome(status, null, null, Set.of(), Map.of(), o.requestHeaders, null, o.responseHeaders, o.selection, -1);
    }

    /** {@code 1s}, {@code 300ms}, {@code 1m}. */
    private static long millis(String d) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m|h)").matcher(d);
        long out = 0;
        while (m.find()) {
            long v = Long.parseLong(m.group(1));
            out += switch (m.group(2)) {
                case "ms" -> v;
                case "s" -> v * 1000;
                case "m" -> v * 60_000;
                default -> v * 3_600_000;
            };
        }
        return out;
    }

    private static Outcome once(JsonNode c, ResourceSet rs, ConfigSnapshot snapshot, RouteFilter filter) {
        JsonNode req = c.path("request");
        JsonNode dest = req.path("destination");
        Target target;
        if (dest.has("podIPOf")) {
            PodSpec pod = rs.pods().stream().filter(p -> p.name().name().startsWith(dest.path("podIPOf").asText() + "-")
                    && p.name().namespace().equals(dest.path("namespace").asText())).findFirst().orElseThrow();
            target = new Target.WorkloadTarget(HostPort.parseAuthority(pod.ip().getHostAddress() + ":" + dest.path("port").asInt()),
                    pod, dev.waypoint.model.mesh.AppProtocol.HTTP);
        } else {
            ServiceSpec svc = rs.services().stream().filter(s -> s.name().equals(new NamespacedName(dest.path("namespace").asText(),
                    dest.path("service").asText()))).findFirst().orElseThrow();
            ServicePortSpec port = svc.port(dest.path("port").asInt());
            String vip = svc.clusterIps().isEmpty() ? "10.96.255.255" : svc.clusterIps().get(0).getHostAddress();
            target = new Target.ServiceTarget(HostPort.parseAuthority(vip + ":" + port.port()), svc, port);
        }
        Headers headers = new Headers();
        req.path("headers").fields().forEachRemaining(e -> headers.add(e.getKey(), e.getValue().asText()));
        headers.set("host", req.path("host").asText());
        JsonNode client = c.path("client");
        SpiffeId peer = new SpiffeId("cluster.local", client.path("namespace").asText("gateway-conformance-mesh"), "default");
        Attributes attributes = new Attributes(req.path("method").asText("GET"), req.path("path").asText("/"),
                req.path("host").asText(), headers, peer);
        RequestContext ctx = new RequestContext(new TunnelContext(target, peer, null, null, null, null, null), snapshot, target,
                attributes, headers, new RequestOutcome(0));
        FilterResult result = filter.onRequest(ctx);
        Headers response = new Headers();
        if (result instanceof FilterResult.Reply reply) {
            reply.headers().forEach(response::set); // the reply's own headers (location, CORS) reach the client too
            filter.onResponse(ctx, reply.rejection().reason().status(), response);
            return new Outcome(reply.rejection().reason().status(), null, null, Set.of(), reply.headers(), headers, null, response, null,
                    reply.rejection().reason().grpcStatus());
        }
        assertThat(result).isSameAs(FilterResult.CONTINUE);
        c.path("backendBehavior").path("responseHeaders").fields().forEachRemaining(e -> response.add(e.getKey(), e.getValue().asText()));
        RouteSelection sel = ctx.get(RouteSelection.KEY);
        int status = switches(req, sel) ? 101 : 200;
        filter.onResponse(ctx, status, response);
        PathRewrite rewrite = ctx.get(PathRewrite.KEY);
        String path = rewrite != null ? rewrite.path() : attributes.path();
        if (sel.backend() instanceof RouteSelection.PodBackend pb) {
            return new Outcome(status, pb.pod().name().name(), pb.pod().name().namespace(), Set.of(pb.pod().name().name()), Map.of(),
                    headers, path, response, sel, 0);
        }
        ServiceSpec svc = ((RouteSelection.ServiceBackend) sel.backend()).service();
        Set<String> pods = new java.util.HashSet<>();
        if (svc.selector() != null) {
            for (PodSpec p : rs.pods()) {
                if (p.name().namespace().equals(svc.name().namespace()) && p.labels().entrySet().containsAll(svc.selector().entrySet())) {
                    pods.add(p.name().name());
                }
            }
        }
        return new Outcome(status, svc.name().name(), svc.name().namespace(), pods, Map.of(), headers, path, response, sel, 0);
    }

    /**
     * The simulated backend switches protocols (101) for a WebSocket upgrade (as
     * {@code WebSocketUpgrade.requested} defines it) that goes upstream over HTTP/1.1: a backend
     * port that does not declare h2c/gRPC ({@code kubernetes.io/ws}, http, undeclared with an
     * HTTP/1.1 client). The frames echoed after the 101 ({@code expect.websocketEcho}) need
     * sockets: {@code WebSocketEndToEndTest} sends exactly the case's two frames through the server.
     */
    private static boolean switches(JsonNode req, RouteSelection sel) {
        io.netty.handler.codec.http.DefaultHttpRequest head = new io.netty.handler.codec.http.DefaultHttpRequest(
                io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                io.netty.handler.codec.http.HttpMethod.valueOf(req.path("method").asText("GET")), req.path("path").asText("/"));
        req.path("headers").fields().forEachRemaining(e -> head.headers().add(e.getKey(), e.getValue().asText()));
        if (!dev.waypoint.transport.WebSocketUpgrade.requested(head)) {
            return false;
        }
        return sel.backend() instanceof RouteSelection.ServiceBackend sb ? !sb.port().protocol().isH2() : true;
    }

    private static void check(JsonNode expect, Outcome o, ResourceSet rs) {
        if (expect.has("statusOneOf")) {
            List<Integer> allowed = new ArrayList<>();
            expect.path("statusOneOf").forEach(s -> allowed.add(s.asInt()));
            assertThat(o.status).as("status").isIn(allowed);
        } else {
            assertThat(o.status).as("status").isEqualTo(expect.path("status").asInt());
        }
        if (expect.has("grpcStatus") && o.grpcStatus >= 0) {
            // a local reply to a gRPC call carries grpc-status (404 no route -> 12 UNIMPLEMENTED); a forwarded call the backend's 0
            assertThat(o.grpcStatus).as("grpc-status").isEqualTo(expect.path("grpcStatus").asInt());
        }
        JsonNode backend = expect.path("backend");
        if (backend.isNull() || backend.isMissingNode()) {
            assertThat(o.backend).as("backend (the proxy answers)").isNull();
        } else if (expect.has("backendService")) {
            assertThat(o.backend).as("backend Service").isEqualTo(expect.path("backendService").asText());
        } else {
            List<String> alternatives = List.of(backend.asText().split("\\|"));
            if (o.backendPods.isEmpty()) {
                assertThat(o.backend).as("backend").isIn(alternatives);
            } else {
                // every pod the chosen Service may answer from must be acceptable
                for (String pod : o.backendPods) {
                    assertThat(alternatives.stream().anyMatch(a -> pod.startsWith(a + "-")))
                            .as("pod %s of Service %s in %s", pod, o.backend, alternatives).isTrue();
                }
            }
            if (expect.hasNonNull("backendNamespace")) {
                assertThat(o.backendNamespace).as("backend namespace").isEqualTo(expect.path("backendNamespace").asText());
            }
        }
        if (expect.hasNonNull("redirectLocation")) {
            assertThat(o.replyHeaders.get("location")).as("location").isEqualTo(expect.path("redirectLocation").asText());
        }
        if (o.backend != null) {
            expect.path("requestHeaders").fields().forEachRemaining(e ->
                    assertThat(o.requestHeaders.joined(e.getKey())).as("request header %s", e.getKey()).isEqualTo(e.getValue().asText()));
            expect.path("absentRequestHeaders").forEach(h ->
                    assertThat(o.requestHeaders.contains(h.asText())).as("absent request header %s", h.asText()).isFalse());
            if (expect.hasNonNull("requestPath")) {
                assertThat(o.requestPath).as("request path").isEqualTo(expect.path("requestPath").asText());
            }
            if (expect.hasNonNull("requestHost")) {
                assertThat(o.requestHeaders.get("host")).as("request host").isEqualTo(expect.path("requestHost").asText());
            }
            if (expect.hasNonNull("requestHeaderMatchesBackend")) {
                assertThat(o.requestHeaders.joined(expect.path("requestHeaderMatchesBackend").asText()))
                        .as("header naming the backend").isEqualTo(o.backend);
            }
        }
        boolean noSpaces = expect.path("ignoreWhitespaceInHeaderValues").asBoolean(false);
        java.util.function.UnaryOperator<String> norm = v -> v == null || !noSpaces ? v : v.replaceAll("\\s", "");
        expect.path("responseHeaders").fields().forEachRemaining(e ->
                assertThat(norm.apply(o.responseHeaders.joined(e.getKey()))).as("response header %s", e.getKey())
                        .isEqualTo(norm.apply(e.getValue().asText())));
        expect.path("responseHeadersOneOf").fields().forEachRemaining(e -> {
            List<String> allowed = new ArrayList<>();
            e.getValue().forEach(v -> allowed.add(norm.apply(v.asText())));
            assertThat(norm.apply(o.responseHeaders.joined(e.getKey()))).as("response header %s", e.getKey()).isIn(allowed);
        });
        expect.path("absentResponseHeaders").forEach(h ->
                assertThat(o.responseHeaders.contains(h.asText())).as("absent response header %s", h.asText()).isFalse());
    }

    // ---- the environment: Namespaces, Services (VIPs assigned), echo pods, as the manifests a user would write

    private static List<WireObject> environment(JsonNode env) {
        List<WireObject> out = new ArrayList<>();
        SourceRef src = new SourceRef("environment", 0);
        for (JsonNode ns : env.path("namespaces")) {
            ObjectNode o = JSON.createObjectNode().put("apiVersion", "v1").put("kind", "Namespace");
            o.putObject("metadata").put("name", ns.asText());
            out.add(new WireObject(o, src));
        }
        int vip = 1;
        for (JsonNode s : env.path("services")) {
            if (!s.has("ports")) {
                continue; // the consumer namespace's client workload: no Service
            }
            ObjectNode o = JSON.createObjectNode().put("apiVersion", "v1").put("kind", "Service");
            o.putObject("metadata").put("name", s.path("name").asText()).put("namespace", s.path("namespace").asText());
            ObjectNode spec = o.putObject("spec");
            spec.put("clusterIP", s.path("clusterIP").asText("").equals("None") ? "None" : "10.96.0." + vip++);
            if (s.path("selector").isObject()) {
                spec.set("selector", s.path("selector"));
            }
            ArrayNode ports = spec.putArray("ports");
            for (JsonNode p : s.path("ports")) {
                ObjectNode port = ports.addObject();
                if (p.has("name")) {
                    port.put("name", p.path("name").asText());
                }
                port.put("port", p.path("port").asInt());
                if (p.has("targetPort")) {
                    port.put("targetPort", p.path("targetPort").asInt());
                }
                if (p.has("appProtocol")) {
                    port.put("appProtocol", p.path("appProtocol").asText());
                }
            }
            out.add(new WireObject(o, src));
        }
        int ip = 1;
        for (String version : List.of("v1", "v2", "v3")) {
            out.add(pod("gateway-conformance-mesh", "echo-" + version + "-0", Map.of("app", "echo", "version", version), ip++, src));
        }
        out.add(pod("gateway-conformance-mesh-consumer", "echo-v1-0", Map.of("app", "echo", "version", "v1"), ip, src));
        return out;
    }

    private static WireObject pod(String ns, String name, Map<String, String> labels, int ip, SourceRef src) {
        ObjectNode o = JSON.createObjectNode().put("apiVersion", "v1").put("kind", "Pod");
        ObjectNode md = o.putObject("metadata").put("name", name).put("namespace", ns);
        ObjectNode l = md.putObject("labels");
        labels.forEach(l::put);
        o.putObject("spec").put("serviceAccountName", "default").putArray("containers").addObject().put("name", "echo");
        ObjectNode status = o.putObject("status").put("podIP", "10.0.0." + ip).put("phase", "Running");
        status.putArray("conditions").addObject().put("type", "Ready").put("status", "True");
        return new WireObject(o, src);
    }

    // ---- plain-Java request and header block

    private record Attributes(String method, String path, String host, HeadersView headers, SpiffeId sourcePrincipal)
            implements RequestAttributes {
        @Override
        public String scheme() {
            return "http";
        }

        @Override
        public String protocol() {
            return "HTTP/1.1";
        }

        @Override
        public boolean grpc() {
            return false;
        }

        @Override
        public InetSocketAddress sourceAddress() {
            return null;
        }

        @Override
        public InetSocketAddress destinationAddress() {
            return null;
        }
    }

    /** Case-insensitive, ordered, multi-valued. */
    private static final class Headers implements HeadersView {
        private final Map<String, List<String>> map = new LinkedHashMap<>();

        private static String key(CharSequence name) {
            return name.toString().toLowerCase(Locale.ROOT);
        }

        String joined(String name) {
            List<String> v = map.get(key(name));
            return v == null ? null : String.join(",", v);
        }

        @Override
        public String get(CharSequence name) {
            List<String> v = map.get(key(name));
            return v == null ? null : v.get(0);
        }

        @Override
        public List<String> getAll(CharSequence name) {
            return map.getOrDefault(key(name), List.of());
        }

        @Override
        public boolean contains(CharSequence name) {
            return map.containsKey(key(name));
        }

        @Override
        public void set(CharSequence name, String value) {
            map.put(key(name), new ArrayList<>(List.of(value)));
        }

        @Override
        public void add(CharSequence name, String value) {
            map.computeIfAbsent(key(name), k -> new ArrayList<>()).add(value);
        }

        @Override
        public void remove(CharSequence name) {
            map.remove(key(name));
        }
    }
}
