package dev.waypoint.wasm;

import dev.waypoint.model.extension.PluginPhase;
import dev.waypoint.model.extension.WasmPluginSpec.FailStrategy;
import dev.waypoint.model.request.BodyChunk;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The filter for one {@link PluginPhase}: runs the snapshot's plugins of that phase that apply
 * to the request, in priority order, over the request head ({@code proxy_on_request_headers}),
 * the response head ({@code proxy_on_response_headers}, reverse order) and the end
 * ({@code proxy_on_log}, {@code proxy_on_done}).
 *
 * <ul>
 *   <li>{@code proxy_send_local_response} answers the request (status, body, headers the plugin's);</li>
 *   <li>a non-Continue action pauses the request until the plugin calls
 *       {@code proxy_continue_stream} (from a timer or another callback); the next plugin runs then;</li>
 *   <li>a plugin whose module could not be loaded: FAIL_CLOSE answers 403 {@code RBAC: access denied}
 *       (Istio installs a deny-all RBAC filter in its place), FAIL_OPEN skips it;</li>
 *   <li>a plugin that traps or runs past its budget: FAIL_CLOSE answers 503
 *       {@code wasm_fail_stream} (Envoy's {@code failStream}) and its VM stays failed for the
 *       loop, FAIL_RELOAD answers the same and starts a new VM for the next request, FAIL_OPEN
 *       skips it. Every failure is counted in {@code waypoint_wasm_plugin_failures_total}.</li>
 * </ul>
 *
 * <p>Bodies: when a plugin that ran exports a body (or trailers) callback, the filter asks for the
 * body ({@link #wantsRequestBody}); each piece then passes the plugins in order
 * ({@code proxy_on_request_body}, reverse order for {@code proxy_on_response_body}), each seeing
 * what the one before let through, rewritable with {@code proxy_set_buffer_bytes}. A plugin that
 * answers Pause to a body callback before the end of the stream holds what it saw (Envoy's
 * {@code StopIterationAndBuffer}): the next callback shows it everything held so far plus the new
 * piece; more than {@link #BODY_BUFFER_LIMIT} held answers 413 (request) or resets the stream
 * (response). Pause on the last piece goes on (nothing more will come).
 *
 * <h2>Threading</h2>
 * Stateless and shared; per request state is in the request's slot, on its event loop.
 */
public final class WasmFilter implements HttpFilter {
    private static final EnumMap<PluginPhase, RequestKey<Run>> KEYS = new EnumMap<>(PluginPhase.class);

    static {
        for (PluginPhase p : PluginPhase.values()) {
            KEYS.put(p, RequestKey.of("wasm." + p.name().toLowerCase(java.util.Locale.ROOT), Run.class));
        }
    }

    private final PluginPhase phase;
    private final String name;
    private final RequestKey<Run> key;

    private WasmFilter(PluginPhase phase) {
        this.phase = phase;
        this.name = phase == PluginPhase.UNSPECIFIED ? "wasm" : "wasm-" + phase.name().toLowerCase(java.util.Locale.ROOT);
        this.key = KEYS.get(phase);
    }

    /** The filter of {@code phase}. */
    public static WasmFilter at(PluginPhase phase) {
        return new WasmFilter(Objects.requireNonNull(phase, "phase"));
    }

    @Override
    public String name() {
        return name;
    }

    /** The plugins of this phase that ran for one request, with their VMs and contexts. */
    static final class Run {
        Plugin[] plugins = new Plugin[2];
        PluginVm[] vms = new PluginVm[2];
        HttpStream[] streams = new HttpStream[2];
        int count;

        void add(Plugin p, PluginVm vm, HttpStream s) {
            if (count == plugins.length) {
                plugins = Arrays.copyOf(plugins, count * 2);
                vms = Arrays.copyOf(vms, count * 2);
                streams = Arrays.copyOf(streams, count * 2);
            }
            plugins[count] = p;
            vms[count] = vm;
            streams[count] = s;
            count++;
        }
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        WasmPlugins part = request.snapshot().part(WasmPlugins.PART);
        Plugin[] plugins = part.phase(phase);
        if (plugins.length == 0) {
            return FilterResult.CONTINUE;
        }
        return runFrom(request, part, plugins, 0);
    }

    private FilterResult runFrom(RequestContext request, WasmPlugins part, Plugin[] plugins, int from) {
        for (int i = from; i < plugins.length; i++) {
            Plugin p = plugins[i];
            if (!part.applies(p, request)) {
                continue;
            }
            try {
                PluginVm vm = p.vm();
                HttpStream s = vm.newStream(request, request.requestHeaders());
                run(request).add(p, vm, s);
                int action = vm.onRequestHeaders(s, endOfStream(request.requestHeaders()));
                if (s.localReply != null) {
                    return reply(request, p, s.localReply);
                }
                if (action != Abi.ACTION_CONTINUE) {
                    CompletableFuture<Void> resumed = new CompletableFuture<>();
                    s.resumed = resumed;
                    int next = i + 1;
                    return FilterResult.pause(resumed.handle((v, err) -> {
                        if (err != null) {
                            // the callback that was to resume the request failed (counted where it failed)
                            FilterResult failed = failure(p, err instanceof PluginFailure pf ? pf
                                    : new PluginFailure("trap", String.valueOf(err), err));
                            return failed != null ? failed : runFrom(request, part, plugins, next);
                        }
                        return s.localReply != null ? reply(request, p, s.localReply) : runFrom(request, part, plugins, next);
                    }));
                }
            } catch (PluginFailure e) {
                p.failed(e, "on_request_headers");
                FilterResult failed = failure(p, e);
                if (failed != null) {
                    return failed;
                }
            }
        }
        return FilterResult.CONTINUE;
    }

    /** What {@code p}'s failStrategy answers for {@code e}; null: go on without the plugin (FAIL_OPEN). */
    private static FilterResult failure(Plugin p, PluginFailure e) {
        if (p.failStrategy() == FailStrategy.FAIL_OPEN) {
            return null;
        }
        if (e.kind.equals("load")) {
            // Istio: a FAIL_CLOSE plugin that cannot be loaded is replaced by a deny-all RBAC filter
            return FilterResult.reply(new Rejection(Rejection.Reason.RBAC_DENIED,
                    "wasm plugin " + p.name() + " is not loaded (FAIL_CLOSE)"));
        }
        return FilterResult.reply(new Rejection(Rejection.Reason.WASM_FAIL_STREAM,
                "wasm plugin " + p.name() + ": " + e.getMessage()));
    }

    private Run run(RequestContext request) {
        Run r = request.get(key);
        if (r == null) {
            r = new Run();
            request.set(key, r);
        }
        return r;
    }

    private static FilterResult reply(RequestContext request, Plugin p, HttpStream.LocalReply lr) {
        Map<String, String> headers = new LinkedHashMap<>();
        for (Map.Entry<String, String> h : lr.headers()) {
            headers.merge(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue(), (a, b) -> a + "," + b);
        }
        if (request.attributes().grpc()) {
            // Envoy's sendLocalReply to a gRPC client: the plugin's grpc_status when it gave one
            // (0..16; -1 is "none"), else the HTTP status mapped (Grpc::Utility::httpToGrpcStatus)
            headers.put("grpc-status", Integer.toString(lr.grpcStatus() >= 0 && lr.grpcStatus() <= 16
                    ? lr.grpcStatus() : httpToGrpcStatus(lr.status())));
        }
        String details = lr.details().isEmpty() ? "wasm plugin " + p.name() : lr.details();
        return FilterResult.reply(Rejection.of(Rejection.Reason.WASM_LOCAL_REPLY, details, lr.status(),
                new String(lr.body(), StandardCharsets.UTF_8)), headers);
    }

    /** Envoy's {@code Grpc::Utility::httpToGrpcStatus}. */
    static int httpToGrpcStatus(int http) {
        return switch (http) {
            case 400 -> 13; // INTERNAL
            case 401 -> 16; // UNAUTHENTICATED
            case 403 -> 7; // PERMISSION_DENIED
            case 404 -> 12; // UNIMPLEMENTED
            case 429, 502, 503, 504 -> 14; // UNAVAILABLE
            default -> 2; // UNKNOWN
        };
    }

    /** Whether the request head is all there is (no body announced). */
    private static boolean endOfStream(HeadersView h) {
        String cl = h.get("content-length");
        return (cl == null || cl.equals("0")) && !h.contains("transfer-encoding");
    }

    // --- bodies ---

    /** What one plugin may hold of a body (Envoy's default per-connection buffer limit, 1 MiB). */
    static final int BODY_BUFFER_LIMIT = 1 << 20;
    private static final byte[] NO_BYTES = new byte[0];

    @Override
    public boolean wantsRequestBody(RequestContext request) {
        Run r = request.get(key);
        if (r == null) {
            return false;
        }
        for (int i = 0; i < r.count; i++) {
            if (!r.vms[i].failed() && r.vms[i].seesRequestBody()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean wantsResponseBody(RequestContext request) {
        Run r = request.get(key);
        if (r == null) {
            return false;
        }
        for (int i = 0; i < r.count; i++) {
            if (!r.vms[i].failed() && r.vms[i].seesResponseBody()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public FilterResult onRequestBody(RequestContext request, BodyChunk chunk) {
        Run r = request.get(key);
        if (r == null) {
            return FilterResult.CONTINUE;
        }
        boolean eos = chunk.endOfStream();
        byte[] data = chunk.bytes();
        for (int i = 0; i < r.count; i++) {
            HttpStream s = r.streams[i];
            if (s.heldRequestBody != null) {
                data = concat(s.heldRequestBody, data);
                s.heldRequestBody = null;
            }
            PluginVm vm = r.vms[i];
            if (vm.failed() || !vm.seesRequestBody()) {
                continue;
            }
            if (data.length == 0 && !eos) {
                break; // a plugin before held everything: nothing to show the rest yet
            }
            Plugin p = r.plugins[i];
            int action;
            try {
                action = vm.onRequestBody(s, data, eos);
            } catch (PluginFailure e) {
                p.failed(e, "on_request_body");
                FilterResult failed = failure(p, e);
                if (failed != null) {
                    return failed;
                }
                continue;
            }
            if (s.localReply != null) {
                return reply(request, p, s.localReply);
            }
            data = s.requestBody;
            if (action != Abi.ACTION_CONTINUE && !eos) {
                if (data.length > BODY_BUFFER_LIMIT) {
                    return FilterResult.reply(new Rejection(Rejection.Reason.REQUEST_PAYLOAD_TOO_LARGE, "wasm plugin "
                            + p.name() + " held more than " + BODY_BUFFER_LIMIT + " bytes of the request body"));
                }
                s.heldRequestBody = data;
                data = NO_BYTES;
            }
        }
        chunk.bytes(data);
        return FilterResult.CONTINUE;
    }

    @Override
    public void onRequestTrailers(RequestContext request, HeadersView trailers) {
        Run r = request.get(key);
        for (int i = 0; r != null && i < r.count; i++) {
            if (!r.vms[i].failed()) {
                try {
                    r.vms[i].onRequestTrailers(r.streams[i], trailers);
                } catch (PluginFailure e) {
                    r.plugins[i].failed(e, "on_request_trailers"); // the body is on its way: counted, nothing more
                }
            }
        }
    }

    @Override
    public FilterResult onResponseBody(RequestContext request, BodyChunk chunk) {
        Run r = request.get(key);
        if (r == null) {
            return FilterResult.CONTINUE;
        }
        boolean eos = chunk.endOfStream();
        byte[] data = chunk.bytes();
        for (int i = r.count - 1; i >= 0; i--) {
            HttpStream s = r.streams[i];
            if (s.heldResponseBody != null) {
                data = concat(s.heldResponseBody, data);
                s.heldResponseBody = null;
            }
            PluginVm vm = r.vms[i];
            if (vm.failed() || !vm.seesResponseBody()) {
                continue;
            }
            if (data.length == 0 && !eos) {
                break;
            }
            Plugin p = r.plugins[i];
            int action;
            try {
                action = vm.onResponseBody(s, data, eos);
            } catch (PluginFailure e) {
                p.failed(e, "on_response_body");
                if (p.failStrategy() == FailStrategy.FAIL_OPEN) {
                    continue;
                }
                return failure(p, e); // the head is out: the listener resets the stream
            }
            if (s.localReply != null) {
                return reply(request, p, s.localReply);
            }
            data = s.responseBody;
            if (action != Abi.ACTION_CONTINUE && !eos) {
                if (data.length > BODY_BUFFER_LIMIT) {
                    return FilterResult.reply(new Rejection(Rejection.Reason.RESPONSE_PAYLOAD_TOO_LARGE, "wasm plugin "
                            + p.name() + " held more than " + BODY_BUFFER_LIMIT + " bytes of the response body"));
                }
                s.heldResponseBody = data;
                data = NO_BYTES;
            }
        }
        chunk.bytes(data);
        return FilterResult.CONTINUE;
    }

    @Override
    public void onResponseTrailers(RequestContext request, HeadersView trailers) {
        Run r = request.get(key);
        for (int i = r == null ? -1 : r.count - 1; i >= 0; i--) {
            if (!r.vms[i].failed()) {
                try {
                    r.vms[i].onResponseTrailers(r.streams[i], trailers);
                } catch (PluginFailure e) {
                    r.plugins[i].failed(e, "on_response_trailers");
                }
            }
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        if (b.length == 0) {
            return a;
        }
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Override
    public void onResponse(RequestContext request, int status, HeadersView headers) {
        Run r = request.get(key);
        if (r == null) {
            return;
        }
        for (int i = r.count - 1; i >= 0; i--) {
            if (r.vms[i].failed()) {
                continue;
            }
            try {
                r.vms[i].onResponseHeaders(r.streams[i], status, headers, false);
            } catch (PluginFailure e) {
                // the response head is on its way: a failure here cannot change it
                r.plugins[i].failed(e, "on_response_headers");
            }
        }
    }

    @Override
    public void onComplete(RequestContext request) {
        Run r = request.get(key);
        if (r == null) {
            return;
        }
        for (int i = r.count - 1; i >= 0; i--) {
            try {
                r.vms[i].finish(r.streams[i]);
            } catch (PluginFailure e) {
                r.plugins[i].failed(e, "on_log/on_done");
            }
        }
    }
}
