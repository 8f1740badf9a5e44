package dev.waypoint.wasm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.extension.WasmPluginSpec.FailStrategy;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.wasm.TestRequests.Headers;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The wasm filter over a real plugin (src/test/plugins/c/headers.c, built with clang at test time)
 * on a Netty event loop, as the data path runs it: headers both ways, local reply, pause and resume,
 * properties, metrics in the Prometheus scrape, shared data, ordering, attachment, and what each
 * failStrategy does with an unloadable module, a trap and a runaway callback.
 */
class WasmFilterTest {
    private static final PolicyTargetRef ECHO = new PolicyTargetRef("", "Service", "echo", null);
    private static EventLoop loop;
    private static Path headersWasm;

    @TempDir
    Path tmp;

    private PrometheusMeterRegistry registry;

    @BeforeAll
    static void build() {
        headersWasm = TestPlugins.c("headers");
        loop = new DefaultEventLoop();
    }

    @AfterAll
    static void stop() throws Exception {
        if (loop != null) {
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    static WasmPluginSpec spec(String name, String url, FailStrategy fail, String config, PluginPhase phase, int priority,
                               List<WasmPluginSpec.TrafficSelector> match, PolicyTargetRef... refs) {
        return new WasmPluginSpec("WasmPlugin", new NamespacedName("apps", name), List.of(refs), false, phase, priority,
                url, null, name + "-root", config, fail, Map.of(), match, new SourceRef("wasm.yaml", 1));
    }

    static WasmPluginSpec headers(String name, FailStrategy fail) {
        return spec(name, headersWasm.toUri().toString(), fail, "{\"greeting\":\"hi\"}", PluginPhase.UNSPECIFIED, 0,
                List.of(), ECHO);
    }

    private ConfigSnapshot snapshot(Duration budget, WasmPluginSpec... specs) {
        return snapshot(budget, null, specs);
    }

    private ConfigSnapshot snapshot(Duration budget, HttpCallout callout, WasmPluginSpec... specs) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        WasmSettings settings = WasmSettings.defaults(tmp.resolve("cache"), "waypoint~10.0.0.9", Map.of("NAMESPACE", "apps"))
                .withCallbackBudget(budget);
        WasmPluginCompiler compiler = new WasmPluginCompiler(settings, "istio-system", registry, callout);
        ResourceSet rs = ResourceSet.builder(TestRequests.WAYPOINT, "cluster.local").wasmPlugins(List.of(specs)).build();
        return TestRequests.snapshot(rs, compiler);
    }

    private ConfigSnapshot snapshot(WasmPluginSpec... specs) {
        return snapshot(Duration.ofSeconds(2), specs);
    }

    private static <T> T onLoop(Callable<T> c) throws Exception {
        return loop.submit(c).get(10, TimeUnit.SECONDS);
    }

    private static FilterResult run(WasmFilter f, RequestContext rc) throws Exception {
        return onLoop(() -> f.onRequest(rc));
    }

    @Test
    void addsAndRemovesHeadersBothWaysAndReadsProperties() throws Exception {
        ConfigSnapshot snap = snapshot(headers("hdr", FailStrategy.FAIL_CLOSE));
        Headers h = Headers.of("x-remove-me", "1", "x-keep", "2");
        RequestContext rc = TestRequests.request(snap, "GET", "/hello?x=1", h);
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);

        assertThat(run(f, rc)).isSameAs(FilterResult.CONTINUE);
        assertThat(h.get("x-wasm-added")).isEqualTo("{\"greeting\":\"hi\"}");
        assertThat(h.contains("x-remove-me")).isFalse();
        assertThat(h.get("x-keep")).isEqualTo("2");
        assertThat(h.get("x-wasm-path")).isEqualTo("/hello?x=1");
        assertThat(h.get("x-wasm-source")).isEqualTo("10.0.1.10:40000");
        assertThat(h.get("x-wasm-root-id")).isEqualTo("hdr-root");
        assertThat(h.get("x-wasm-node-ns")).isEqualTo("apps");

        Headers res = Headers.of("x-backend-secret", "s3cr3t", "content-type", "text/plain");
        onLoop(() -> {
            f.onResponse(rc, 200, res);
            f.onComplete(rc);
            return null;
        });
        assertThat(res.get("x-wasm-response")).isEqualTo("yes");
        assertThat(res.contains("x-backend-secret")).isFalse();
        assertThat(res.get("x-wasm-status")).isEqualTo("200");
    }

    @Test
    void deniesWithTheLocalReplyThePluginSent() throws Exception {
        ConfigSnapshot snap = snapshot(headers("deny", FailStrategy.FAIL_CLOSE));
        RequestContext rc = TestRequests.request(snap, "GET", "/", Headers.of("x-deny", "1"));

        FilterResult r = run(WasmFilter.at(PluginPhase.UNSPECIFIED), rc);

        assertThat(r).isInstanceOf(FilterResult.Reply.class);
        FilterResult.Reply reply = (FilterResult.Reply) r;
        assertThat(reply.rejection().status()).isEqualTo(403);
        assertThat(reply.rejection().reason()).isEqualTo(Rejection.Reason.WASM_LOCAL_REPLY);
        assertThat(reply.rejection().message()).isEqualTo("denied_by_wasm");
        assertThat(reply.rejection().body()).isEqualTo("denied by a wasm plugin\n");
        assertThat(reply.headers()).containsEntry("x-denied-by", "wasm");
    }

    /** Envoy's local reply to a gRPC client: the plugin's grpc_status, else the HTTP status mapped. */
    @Test
    void aLocalReplyToAGrpcClientCarriesTheGrpcStatusAsEnvoyMapsIt() throws Exception {
        ConfigSnapshot snap = snapshot(headers("deny", FailStrategy.FAIL_CLOSE));
        String[][] cases = {
            // content-type, extra header, grpc-status expected (null: not a gRPC request, none added)
            {"application/grpc", "x-none", "7"}, // 403 -> PERMISSION_DENIED
            {"application/grpc+proto", "x-deny-grpc", "16"}, // the plugin's own
            {"text/plain", "x-deny-grpc", null},
        };
        for (String[] c : cases) {
            RequestContext rc = TestRequests.request(snap, "POST", "/svc/Method",
                    Headers.of("x-deny", "1", "content-type", c[0], c[1], "1"));
            FilterResult.Reply reply = (FilterResult.Reply) run(WasmFilter.at(PluginPhase.UNSPECIFIED), rc);
            assertThat(reply.headers().get("grpc-status")).as("%s %s", c[0], c[1]).isEqualTo(c[2]);
        }
        assertThat(WasmFilter.httpToGrpcStatus(200)).isEqualTo(2);
        assertThat(WasmFilter.httpToGrpcStatus(503)).isEqualTo(14);
        assertThat(WasmFilter.httpToGrpcStatus(401)).isEqualTo(16);
    }

    @Test
    void pausesAndResumesWhenThePluginContinuesTheStream() throws Exception {
        ConfigSnapshot snap = snapshot(headers("pause", FailStrategy.FAIL_CLOSE));
        Headers h = Headers.of("x-pause", "1");
        RequestContext rc = TestRequests.request(snap, "GET", "/", h);

        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);
        // asked on the loop, in one task: the tick (same loop) cannot have run yet
        Object[] atPause = onLoop(() -> {
            FilterResult res = f.onRequest(rc);
            return new Object[] {res, h.contains("x-resumed")};
        });
        FilterResult r = (FilterResult) atPause[0];

        assertThat(r).isInstanceOf(FilterResult.Pause.class);
        assertThat(atPause[1]).isEqualTo(false);
        FilterResult later = ((FilterResult.Pause) r).later().toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(later).isSameAs(FilterResult.CONTINUE);
        assertThat(h.get("x-resumed")).isEqualTo("yes"); // written by on_tick through the paused context
    }

    @Test
    void pluginMetricsAppearInThePrometheusScrape() throws Exception {
        ConfigSnapshot snap = snapshot(headers("metrics", FailStrategy.FAIL_CLOSE));
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);
        for (String path : List.of("/a", "/abcd")) {
            RequestContext rc = TestRequests.request(snap, "GET", path, Headers.of());
            run(f, rc);
            onLoop(() -> {
                f.onComplete(rc);
                return null;
            });
        }
        String scrape = registry.scrape();
        assertThat(scrape).contains("wasm_test_requests_total 2.0");
        assertThat(scrape).contains("wasm_test_inflight 0.0");
        assertThat(scrape).contains("wasm_test_path_len_count 2");
        assertThat(scrape).contains("wasm_test_path_len_sum 7.0");
    }

    @Test
    void sharedDataIsSeenByEveryRequestAndCountsWithCas() throws Exception {
        ConfigSnapshot snap = snapshot(headers("shared", FailStrategy.FAIL_CLOSE));
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);
        Headers first = Headers.of("x-shared", "1");
        Headers second = Headers.of("x-shared", "1");
        run(f, TestRequests.request(snap, "GET", "/", first));
        run(f, TestRequests.request(snap, "GET", "/", second));
        assertThat(first.get("x-shared-count")).isEqualTo("1");
        assertThat(second.get("x-shared-count")).isEqualTo("2");
    }

    @Test
    void higherPriorityRunsFirstWithinAPhaseAndOnlyItsPhaseRuns() throws Exception {
        String url = headersWasm.toUri().toString();
        ConfigSnapshot snap = snapshot(
                spec("low", url, FailStrategy.FAIL_CLOSE, null, PluginPhase.AUTHN, 10, List.of(), ECHO),
                spec("high", url, FailStrategy.FAIL_CLOSE, null, PluginPhase.AUTHN, 20, List.of(), ECHO),
                spec("later", url, FailStrategy.FAIL_CLOSE, null, PluginPhase.STATS, 99, List.of(), ECHO));
        Headers h = Headers.of();
        run(WasmFilter.at(PluginPhase.AUTHN), TestRequests.request(snap, "GET", "/", h));
        assertThat(h.getAll("x-wasm-root-id")).containsExactly("high-root", "low-root");
    }

    static Stream<Arguments> attachment() {
        PolicyTargetRef other = new PolicyTargetRef("", "Service", "other", null);
        PolicyTargetRef gateway = new PolicyTargetRef("gateway.networking.k8s.io", "Gateway", "waypoint", null);
        WasmPluginSpec.TrafficSelector port8080 = new WasmPluginSpec.TrafficSelector(WasmPluginSpec.Mode.SERVER, List.of(8080));
        WasmPluginSpec.TrafficSelector port9090 = new WasmPluginSpec.TrafficSelector(WasmPluginSpec.Mode.UNDEFINED, List.of(9090));
        WasmPluginSpec.TrafficSelector client = new WasmPluginSpec.TrafficSelector(WasmPluginSpec.Mode.CLIENT, List.of());
        return Stream.of(
                Arguments.of("the called Service", List.of(), ECHO, true),
                Arguments.of("another Service", List.of(), other, false),
                Arguments.of("this waypoint's Gateway", List.of(), gateway, true),
                Arguments.of("SERVER mode, the called port", List.of(port8080), ECHO, true),
                Arguments.of("another port", List.of(port9090), ECHO, false),
                Arguments.of("CLIENT mode (sidecar outbound)", List.of(client), ECHO, false),
                Arguments.of("any of two selectors", List.of(port9090, port8080), ECHO, true));
    }

    @ParameterizedTest(name = "{0}: runs {3}")
    @MethodSource
    void attachment(String name, List<WasmPluginSpec.TrafficSelector> match, PolicyTargetRef ref, boolean runs) throws Exception {
        ConfigSnapshot snap = snapshot(spec("att", headersWasm.toUri().toString(), FailStrategy.FAIL_CLOSE, null,
                PluginPhase.UNSPECIFIED, 0, match, ref));
        Headers h = Headers.of();
        run(WasmFilter.at(PluginPhase.UNSPECIFIED), TestRequests.request(snap, "GET", "/", h));
        assertThat(h.contains("x-wasm-added")).isEqualTo(runs);
    }

    /** What a failure answers, and what the next (healthy) request gets. */
    static Stream<Arguments> failures() {
        return Stream.of(
                Arguments.of("trap", FailStrategy.FAIL_CLOSE, "x-trap", 503, 503),
                Arguments.of("trap", FailStrategy.FAIL_RELOAD, "x-trap", 503, 0),
                Arguments.of("trap", FailStrategy.FAIL_OPEN, "x-trap", 0, 0),
                Arguments.of("runaway", FailStrategy.FAIL_CLOSE, "x-loop", 503, 503),
                Arguments.of("runaway", FailStrategy.FAIL_OPEN, "x-loop", 0, 0));
    }

    @ParameterizedTest(name = "{0} with {1}: {3}, then {4}")
    @MethodSource
    void failures(String what, FailStrategy fail, String header, int first, int next) throws Exception {
        ConfigSnapshot snap = snapshot(Duration.ofMillis(250), headers("fail", fail));
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);

        FilterResult r1 = run(f, TestRequests.request(snap, "GET", "/", Headers.of(header, "1")));
        Headers h = Headers.of();
        FilterResult r2 = run(f, TestRequests.request(snap, "GET", "/", h));

        assertThat(status(r1)).isEqualTo(first);
        assertThat(status(r2)).isEqualTo(next);
        if (first == 503) {
            assertThat(((FilterResult.Reply) r1).rejection().reason()).isEqualTo(Rejection.Reason.WASM_FAIL_STREAM);
        }
        if (next == 0 && fail == FailStrategy.FAIL_RELOAD) {
            assertThat(h.contains("x-wasm-added")).as("a new VM served the next request").isTrue();
        }
        assertThat(registry.scrape()).contains("waypoint_wasm_plugin_failures_total{kind=\""
                + (what.equals("trap") ? "trap" : "timeout") + "\",plugin=\"apps.fail\"}");
        // the event loop's interrupt flag is clean after a stopped callback
        assertThat(onLoop(() -> Thread.currentThread().isInterrupted())).isFalse();
    }

    static Stream<Arguments> loadFailures() {
        return Stream.of(
                Arguments.of("missing file", FailStrategy.FAIL_CLOSE, 403),
                Arguments.of("missing file", FailStrategy.FAIL_OPEN, 0),
                Arguments.of("not wasm", FailStrategy.FAIL_CLOSE, 403),
                Arguments.of("plugin refuses its config", FailStrategy.FAIL_CLOSE, 503),
                Arguments.of("plugin refuses its config", FailStrategy.FAIL_OPEN, 0));
    }

    @ParameterizedTest(name = "{0} with {1}: {2}")
    @MethodSource
    void loadFailures(String what, FailStrategy fail, int status) throws Exception {
        String url = switch (what) {
            case "missing file" -> tmp.resolve("nope.wasm").toUri().toString();
            case "not wasm" -> {
                Path p = tmp.resolve("bad.wasm");
                Files.writeString(p, "not a module");
                yield p.toUri().toString();
            }
            default -> headersWasm.toUri().toString();
        };
        String config = what.startsWith("plugin refuses") ? "{\"mode\":\"reject\"}" : null;
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        WasmPluginCompiler compiler = new WasmPluginCompiler(WasmSettings.defaults(tmp.resolve("cache"), "", Map.of()),
                "istio-system", registry);
        Diagnostics diagnostics = new Diagnostics();
        ResourceSet rs = ResourceSet.builder(TestRequests.WAYPOINT, "cluster.local").wasmPlugins(List.of(
                spec("broken", url, fail, config, PluginPhase.UNSPECIFIED, 0, List.of(), ECHO))).build();
        ConfigSnapshot snap = ConfigSnapshot.compile(1, rs, List.of(compiler), diagnostics);

        FilterResult r = run(WasmFilter.at(PluginPhase.UNSPECIFIED), TestRequests.request(snap, "GET", "/", Headers.of()));

        assertThat(status(r)).isEqualTo(status);
        if (status == 403) {
            assertThat(((FilterResult.Reply) r).rejection().body()).isEqualTo("RBAC: access denied");
        }
        if (!what.startsWith("plugin refuses")) {
            assertThat(diagnostics.problems()).singleElement().satisfies(p -> {
                assertThat(p.severity()).isEqualTo(Diagnostics.Severity.ERROR);
                assertThat(p.field()).isEqualTo("spec.url");
                assertThat(p.message()).contains("cannot be loaded");
            });
            assertThat(snap.part(WasmPlugins.PART).debug()).singleElement()
                    .satisfies(d -> assertThat(d).containsEntry("state", "failed"));
        }
    }

    @Test
    void memoryIsBoundedPerInstance() throws Exception {
        ConfigSnapshot snap = snapshot(headers("mem", FailStrategy.FAIL_CLOSE));
        Headers h = Headers.of("x-grow", "1");
        assertThat(run(WasmFilter.at(PluginPhase.UNSPECIFIED), TestRequests.request(snap, "GET", "/", h)))
                .isSameAs(FilterResult.CONTINUE);
        assertThat(h.getAll("x-grow")).containsExactly("1", "no"); // malloc failed: memory.grow was refused past 16 MiB
    }

    @Test
    void aModuleStartingWithMoreMemoryThanAllowedIsNotLoaded() throws Exception {
        Path big = tmp.resolve("big.wasm");
        Process p = new ProcessBuilder("/usr/bin/clang", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
                "-Wl,--initial-memory=33554432", "-o", big.toString(),
                headersWasm.getParent().getParent().getParent().resolve("src/test/plugins/c/add_header.c").toString())
                .redirectErrorStream(true).start();
        assertThat(p.waitFor()).as(new String(p.getInputStream().readAllBytes())).isZero();
        Diagnostics d = new Diagnostics();
        WasmPluginCompiler c = new WasmPluginCompiler(WasmSettings.defaults(tmp.resolve("cache"), "", Map.of()),
                "istio-system", new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        c.compile(ResourceSet.builder(TestRequests.WAYPOINT, "cluster.local").wasmPlugins(List.of(
                spec("big", big.toUri().toString(), FailStrategy.FAIL_CLOSE, null, PluginPhase.UNSPECIFIED, 0, List.of(), ECHO)))
                .build(), d);
        assertThat(d.problems()).singleElement().satisfies(pr -> assertThat(pr.message())
                .contains("the module starts with 512 memory pages (expected: at most 256, 64 KiB each)"));
    }

    @Test
    void abi020ModulesAreServedThroughMalloc() throws Exception {
        Path wasm = TestPlugins.c("headers", "ABI_0_2_0");
        ConfigSnapshot snap = snapshot(spec("old", wasm.toUri().toString(), FailStrategy.FAIL_CLOSE, "{}",
                PluginPhase.UNSPECIFIED, 0, List.of(), ECHO));
        Headers h = Headers.of();
        assertThat(run(WasmFilter.at(PluginPhase.UNSPECIFIED), TestRequests.request(snap, "GET", "/p", h)))
                .isSameAs(FilterResult.CONTINUE);
        assertThat(h.get("x-wasm-path")).isEqualTo("/p");
        assertThat(snap.part(WasmPlugins.PART).debug()).singleElement()
                .satisfies(d -> assertThat(d).containsEntry("abi", "0.2.0"));
    }

    @Test
    void bodyCallbacksRewriteTheBuffer() throws Exception {
        ConfigSnapshot snap = snapshot(headers("body", FailStrategy.FAIL_CLOSE));
        Plugin p = snap.part(WasmPlugins.PART).all().get(0);
        RequestContext rc = TestRequests.request(snap, "POST", "/", Headers.of("content-length", "11", "x-upper", "1"));
        String[] out = onLoop(() -> {
            PluginVm vm = p.vm();
            HttpStream s = vm.newStream(rc, rc.requestHeaders());
            vm.onRequestHeaders(s, false);
            int partial = vm.onRequestBody(s, "hello".getBytes(), false);
            int last = vm.onRequestBody(s, "hello world".getBytes(), true);
            String req = new String(s.requestBody);
            vm.onResponseHeaders(s, 200, Headers.of(), false);
            vm.onResponseBody(s, "ok then".getBytes(), true);
            vm.finish(s);
            return new String[] {Integer.toString(partial), Integer.toString(last), req, new String(s.responseBody)};
        });
        assertThat(out).containsExactly("1", "0", "HELLO WORLD", "OK THEN");
    }

    /**
     * Shared queues: the VM registers a queue at start, a request enqueues (resolving it by name),
     * on_queue_ready runs on the owner's loop after that callback and dequeues until Empty; an
     * unknown token is NotFound.
     */
    @Test
    void sharedQueuesCarryItemsToTheOwnersOnQueueReady() throws Exception {
        ConfigSnapshot snap = snapshot(spec("queue", TestPlugins.c("queue").toUri().toString(), FailStrategy.FAIL_CLOSE, "{}",
                PluginPhase.UNSPECIFIED, 0, List.of(), ECHO));
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);
        Headers a = Headers.of("x-enqueue", "one");
        Headers b = Headers.of("x-enqueue", "two", "x-bad-token", "1");
        assertThat(run(f, TestRequests.request(snap, "GET", "/", a))).isSameAs(FilterResult.CONTINUE);
        assertThat(run(f, TestRequests.request(snap, "GET", "/", b))).isSameAs(FilterResult.CONTINUE);
        Headers c = Headers.of("x-dequeued", "1");
        run(f, TestRequests.request(snap, "GET", "/", c));
        assertThat(a.get("x-enqueued")).isEqualTo("0");
        assertThat(b.getAll("x-enqueued")).containsExactly("0", "1"); // OK, then NotFound for token 9999
        assertThat(c.get("x-dequeued-value")).isEqualTo("one,two");
    }

    /** Through the filter's body hook: a plugin that pauses holds the pieces, past the limit it is a 413. */
    @Test
    void aPausingPluginHoldsTheBodyAndPastTheLimitTheRequestIs413() throws Exception {
        ConfigSnapshot snap = snapshot(headers("body", FailStrategy.FAIL_CLOSE));
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);
        String[] out = onLoop(() -> {
            RequestContext rc = TestRequests.request(snap, "POST", "/", Headers.of("content-length", "9", "x-upper", "1"));
            assertThat(f.onRequest(rc)).isSameAs(FilterResult.CONTINUE);
            assertThat(f.wantsRequestBody(rc)).isTrue();
            dev.waypoint.model.request.BodyChunk a = new dev.waypoint.model.request.BodyChunk("abc".getBytes(), false);
            f.onRequestBody(rc, a);
            dev.waypoint.model.request.BodyChunk b = new dev.waypoint.model.request.BodyChunk("def".getBytes(), true);
            f.onRequestBody(rc, b);
            f.onComplete(rc);

            RequestContext big = TestRequests.request(snap, "POST", "/", Headers.of("x-upper", "1"));
            f.onRequest(big);
            FilterResult last = FilterResult.CONTINUE;
            for (int i = 0; i < 5 && last == FilterResult.CONTINUE; i++) {
                last = f.onRequestBody(big, new dev.waypoint.model.request.BodyChunk(new byte[256 * 1024], false));
            }
            f.onComplete(big);
            return new String[] {new String(a.bytes()), new String(b.bytes()),
                    last instanceof FilterResult.Reply r ? r.rejection().status() + " " + r.rejection().body() : "none"};
        });
        assertThat(out).containsExactly("", "ABCDEF", "413 Payload Too Large");
    }

    /**
     * The callout here answers from the event loop a moment later, as the server's does; what it
     * is given is recorded. The real one (over the upstream stage and HBONE) runs in
     * WasmEndToEndTest.
     */
    @Test
    void httpCallPausesTheRequestUntilTheResponseArrives() throws Exception {
        List<String> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
        HttpCallout callout = (origin, cluster, headers, body, timeout) -> {
            asked.add(cluster + " " + headers + " " + timeout.toMillis());
            if (cluster.equals("unknown")) {
                throw new IllegalArgumentException("no such cluster");
            }
            CompletableFuture<HttpCallout.Response> f = new CompletableFuture<>();
            loop.schedule(() -> {
                if (cluster.equals("outbound|80||down.apps.svc.cluster.local")) {
                    f.completeExceptionally(new java.io.IOException("no healthy upstream"));
                } else {
                    f.complete(new HttpCallout.Response(201, List.of(Map.entry("x-echo-server", "callee")),
                            "called body".getBytes(), List.of()));
                }
            }, 20, TimeUnit.MILLISECONDS);
            return f;
        };
        ConfigSnapshot snap = snapshot(Duration.ofSeconds(2), callout, headers("call", FailStrategy.FAIL_CLOSE));
        WasmFilter f = WasmFilter.at(PluginPhase.UNSPECIFIED);

        Headers ok = Headers.of("x-call", "outbound|80||web.apps.svc.cluster.local");
        FilterResult r = run(f, TestRequests.request(snap, "GET", "/", ok));
        assertThat(r).isInstanceOf(FilterResult.Pause.class);
        assertThat(((FilterResult.Pause) r).later().toCompletableFuture().get(5, TimeUnit.SECONDS)).isSameAs(FilterResult.CONTINUE);
        assertThat(ok.get("x-call-status")).isEqualTo("201");
        assertThat(ok.get("x-call-server")).isEqualTo("callee");
        assertThat(ok.get("x-call-body")).isEqualTo("called body");
        assertThat(asked.get(0)).isEqualTo("outbound|80||web.apps.svc.cluster.local "
                + "[:method=GET, :path=/called, :authority=web.apps] 5000");

        Headers down = Headers.of("x-call", "outbound|80||down.apps.svc.cluster.local");
        FilterResult r2 = run(f, TestRequests.request(snap, "GET", "/", down));
        assertThat(((FilterResult.Pause) r2).later().toCompletableFuture().get(5, TimeUnit.SECONDS)).isSameAs(FilterResult.CONTINUE);
        assertThat(down.get("x-call-failed")).isEqualTo("yes");

        Headers unknown = Headers.of("x-call", "unknown");
        assertThat(run(f, TestRequests.request(snap, "GET", "/", unknown))).isSameAs(FilterResult.CONTINUE);
        assertThat(unknown.get("x-call-error")).isEqualTo("02"); // BadArgument, as Envoy answers an unknown cluster
    }

    static int status(FilterResult r) {
        return r instanceof FilterResult.Reply reply ? reply.rejection().status() : 0;
    }
}
