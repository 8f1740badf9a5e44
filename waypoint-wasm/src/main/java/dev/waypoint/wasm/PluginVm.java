package dev.waypoint.wasm;

import com.dylibso.chicory.runtime.ChicoryInterruptedException;
import com.dylibso.chicory.runtime.ExportFunction;
import com.dylibso.chicory.runtime.HostFunction;
import com.dylibso.chicory.runtime.ImportFunction;
import com.dylibso.chicory.runtime.ImportValues;
import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Memory;
import com.dylibso.chicory.runtime.WasmFunctionHandle;
import com.dylibso.chicory.wasi.WasiExitException;
import com.dylibso.chicory.wasi.WasiOptions;
import com.dylibso.chicory.wasi.WasiPreview1;
import com.dylibso.chicory.wasm.WasmModule;
import com.dylibso.chicory.wasm.types.ExternalType;
import com.dylibso.chicory.wasm.types.FunctionImport;
import com.dylibso.chicory.wasm.types.FunctionType;
import com.dylibso.chicory.wasm.types.Import;
import com.dylibso.chicory.wasm.types.MemoryLimits;
import com.dylibso.chicory.wasm.types.ValType;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestContext;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.ThreadExecutorMap;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One instance of a plugin's module with its root context: the proxy-wasm host (ABI 0.2.1 and
 * 0.2.0) over Chicory. Calls into the module ({@code proxy_on_*}) go through {@link #invoke},
 * which bounds their run time ({@link Watchdog}) and turns traps into {@link PluginFailure}; the
 * module's calls out ({@code proxy_*}) are the host functions below, answered from the
 * {@link HttpStream} whose context is in effect.
 *
 * <p>What real SDKs need, as Envoy provides it: the allocator is {@code proxy_on_memory_allocate},
 * or {@code malloc} for ABI 0.2.0 modules that export no such function; WASI preview 1 imports
 * are served under both {@code wasi_snapshot_preview1} and {@code wasi_unstable}; a WASI reactor's
 * {@code _initialize} (or a command's {@code _start}) runs before {@code proxy_on_vm_start};
 * imports this host does not implement answer {@code Unimplemented} instead of refusing the module.
 *
 * <h2>Threading</h2>
 * One VM per event loop (no locks): every method runs on the loop that created it. A VM whose
 * module failed is unusable ({@link #failed()}).
 */
final class PluginVm {
    private static final Logger log = LoggerFactory.getLogger(PluginVm.class);
    static final int ROOT_CONTEXT = 1;
    private static final long[] RESULT_OK = {Abi.OK};
    private static final long[] RESULT_NOT_FOUND = {Abi.NOT_FOUND};
    private static final long[] RESULT_BAD_ARGUMENT = {Abi.BAD_ARGUMENT};
    private static final long[] RESULT_UNIMPLEMENTED = {Abi.UNIMPLEMENTED};
    private static final long[] NONE = new long[0];
    private static final byte[] EMPTY = new byte[0];

    private final Plugin plugin;
    private final Instance instance;
    private final Memory memory;
    private final ExportFunction allocate;
    private final ExportFunction onContextCreate;
    private final ExportFunction onVmStart;
    private final ExportFunction onConfigure;
    private final ExportFunction onRequestHeaders;
    private final ExportFunction onRequestBody;
    private final ExportFunction onRequestTrailers;
    private final ExportFunction onResponseHeaders;
    private final ExportFunction onResponseBody;
    private final ExportFunction onResponseTrailers;
    private final ExportFunction onLog;
    private final ExportFunction onDone;
    private final ExportFunction onDelete;
    private final ExportFunction onTick;
    private final ExportFunction onHttpCallResponse;
    private final ExportFunction onGrpcReceive;
    private final ExportFunction onGrpcClose;
    private final ExportFunction onQueueReady;
    /** The message of the gRPC response being delivered (buffer 5), or null. */
    private byte[] grpcReceive;
    /** What {@code proxy_get_status} answers: the last gRPC call's close status and message. */
    private int grpcStatus;
    private byte[] grpcMessage = new byte[0];
    private final Watchdog.Call call = new Watchdog.Call();
    private final Map<Integer, HttpStream> streams = new HashMap<>();
    /** Work a host call asked for that must wait until the module returned (resuming a paused stream). */
    private final ArrayDeque<Runnable> afterCallback = new ArrayDeque<>();
    private final EventExecutor loop;
    private int nextContextId = ROOT_CONTEXT + 1;
    private int effective = ROOT_CONTEXT;
    private int depth;
    private String failure;
    private ScheduledFuture<?> tick;
    private int nextToken = 1;
    /** The response {@code proxy_on_http_call_response} is reading, or null outside that callback. */
    private HttpCallout.Response callResponse;

    private PluginVm(Plugin plugin) {
        this.plugin = plugin;
        this.loop = ThreadExecutorMap.currentExecutor();
        WasmModule module = plugin.module().module();
        Map<String, WasmFunctionHandle> env = hostFunctions();
        Map<String, HostFunction> wasi = wasiFunctions();
        List<ImportFunction> imports = new ArrayList<>();
        for (int i = 0; i < module.importSection().importCount(); i++) {
            Import imp = module.importSection().getImport(i);
            if (imp.importType() != ExternalType.FUNCTION) {
                continue;
            }
            FunctionType type = module.typeSection().getType(((FunctionImport) imp).typeIndex());
            WasmFunctionHandle h = null;
            if (imp.module().equals("env")) {
                h = env.get(imp.name());
            } else if (imp.module().equals("wasi_snapshot_preview1") || imp.module().equals("wasi_unstable")) {
                HostFunction f = wasi.get(imp.name());
                h = f == null ? null : f.handle();
            }
            imports.add(new ImportFunction(imp.module(), imp.name(), type, h != null ? h : unimplemented(imp, type)));
        }
        MemoryLimits limits = memoryLimits(module, plugin.settings().maxMemoryPages());
        Instance.Builder b = Instance.builder(module)
                .withImportValues(ImportValues.builder().withFunctions(imports).build())
                .withStart(false);
        if (limits != null) {
            b.withMemoryLimits(limits);
        }
        if (plugin.module().machine() != null) {
            b.withMachineFactory(plugin.module().machine());
        }
        this.instance = invokeInit(b);
        this.memory = instance.memory();
        ExportFunction alloc = export("proxy_on_memory_allocate");
        this.allocate = alloc != null ? alloc : export("malloc");
        this.onContextCreate = export("proxy_on_context_create");
        this.onVmStart = export("proxy_on_vm_start");
        this.onConfigure = export("proxy_on_configure");
        this.onRequestHeaders = export("proxy_on_request_headers");
        this.onRequestBody = export("proxy_on_request_body");
        this.onRequestTrailers = export("proxy_on_request_trailers");
        this.onResponseHeaders = export("proxy_on_response_headers");
        this.onResponseBody = export("proxy_on_response_body");
        this.onResponseTrailers = export("proxy_on_response_trailers");
        this.onLog = export("proxy_on_log");
        this.onDone = export("proxy_on_done");
        this.onDelete = export("proxy_on_delete");
        this.onTick = export("proxy_on_tick");
        this.onHttpCallResponse = export("proxy_on_http_call_response");
        this.onGrpcReceive = export("proxy_on_grpc_receive");
        this.onGrpcClose = export("proxy_on_grpc_close");
        this.onQueueReady = export("proxy_on_queue_ready");
        if (allocate == null) {
            throw new PluginFailure("abi", "the module exports neither proxy_on_memory_allocate nor malloc", null);
        }
        if (onContextCreate == null) {
            throw new PluginFailure("abi", "the module does not export proxy_on_context_create", null);
        }
    }

    /**
     * Instantiates {@code plugin}'s module on the current thread and starts its root context:
     * {@code _initialize}, {@code proxy_on_context_create(root)}, {@code proxy_on_vm_start},
     * {@code proxy_on_configure}.
     *
     * @throws PluginFailure if any of it traps or answers false
     */
    static PluginVm start(Plugin plugin) {
        PluginVm vm;
        try {
            vm = new PluginVm(plugin);
        } catch (PluginFailure e) {
            throw e;
        } catch (RuntimeException | StackOverflowError e) {
            throw new PluginFailure("trap", "instantiation failed: " + e, e);
        }
        vm.startRoot();
        return vm;
    }

    private Instance invokeInit(Instance.Builder b) {
        call.start(plugin.settings().startBudgetNanos());
        boolean stopped = false;
        try {
            Instance inst = b.build();
            ExportFunction init = exportOf(inst, "_initialize");
            ExportFunction start = init != null ? init : exportOf(inst, "_start");
            if (start != null) {
                try {
                    start.apply();
                } catch (WasiExitException e) {
                    if (e.exitCode() != 0) {
                        throw e;
                    }
                }
            }
            return inst;
        } finally {
            stopped = call.finish();
            if (stopped) {
                log.debug("plugin {} instantiation stopped by the watchdog", plugin.name());
            }
        }
    }

    private void startRoot() {
        invoke(onContextCreate, plugin.settings().startBudgetNanos(), ROOT_CONTEXT, 0);
        if (onVmStart != null && invoke(onVmStart, plugin.settings().startBudgetNanos(), ROOT_CONTEXT,
                plugin.vmConfiguration().length) == 0) {
            fail("abi", "proxy_on_vm_start returned false");
        }
        if (onConfigure != null && invoke(onConfigure, plugin.settings().startBudgetNanos(), ROOT_CONTEXT,
                plugin.pluginConfiguration().length) == 0) {
            fail("abi", "proxy_on_configure returned false (the plugin refused its pluginConfig)");
        }
    }

    private ExportFunction export(String name) {
        return exportOf(instance, name);
    }

    private static ExportFunction exportOf(Instance inst, String name) {
        var ex = inst.module().exportSection();
        for (int i = 0; i < ex.exportCount(); i++) {
            if (ex.getExport(i).name().equals(name) && ex.getExport(i).exportType() == ExternalType.FUNCTION) {
                return inst.export(name);
            }
        }
        return null;
    }

    private static MemoryLimits memoryLimits(WasmModule module, int maxPages) {
        var section = module.memorySection();
        if (section.isEmpty() || section.get().memoryCount() == 0) {
            return null;
        }
        MemoryLimits declared = section.get().getMemory(0).limits();
        if (declared.initialPages() > maxPages) {
            throw new PluginFailure("memory", "the module asks for " + declared.initialPages()
                    + " memory pages at start (expected: at most " + maxPages + ")", null);
        }
        return new MemoryLimits(declared.initialPages(), Math.min(declared.maximumPages(), maxPages));
    }

    /** Whether a callback of this VM failed: it must not be called again. */
    boolean failed() {
        return failure != null;
    }

    /** Why this VM failed, or null. */
    String failure() {
        return failure;
    }

    private void fail(String kind, String message) {
        failure = message;
        throw new PluginFailure(kind, message, null);
    }

    // --- calls into the module ---

    private long invoke(ExportFunction f, long budgetNanos, long... args) {
        if (failure != null) {
            throw new PluginFailure("failed", "the plugin VM failed earlier: " + failure, null);
        }
        boolean outer = depth == 0;
        depth++;
        if (outer) {
            call.start(budgetNanos);
        }
        long[] r;
        try {
            r = f.apply(args);
        } catch (ChicoryInterruptedException e) {
            failure = "ran longer than " + TimeUnit.NANOSECONDS.toMillis(budgetNanos) + " ms";
            throw new PluginFailure("timeout", failure, e);
        } catch (PluginFailure e) {
            failure = e.getMessage();
            throw e;
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            failure = "trapped: " + e;
            throw new PluginFailure("trap", failure, e);
        } finally {
            depth--;
            if (outer && call.finish() && failure == null) {
                failure = "ran longer than " + TimeUnit.NANOSECONDS.toMillis(budgetNanos) + " ms";
            }
        }
        if (outer) {
            Runnable next;
            while ((next = afterCallback.poll()) != null) {
                next.run();
            }
        }
        return r == null || r.length == 0 ? 0 : r[0];
    }

    private long callback(ExportFunction f, long... args) {
        return f == null ? Abi.ACTION_CONTINUE : invoke(f, plugin.settings().callbackBudgetNanos(), args);
    }

    /** A new HTTP context for {@code request} ({@code proxy_on_context_create(id, root)}). */
    HttpStream newStream(RequestContext request, HeadersView requestHeaders) {
        HttpStream s = new HttpStream(nextContextId++, request, requestHeaders);
        streams.put(s.id, s);
        effective = s.id;
        invoke(onContextCreate, plugin.settings().callbackBudgetNanos(), s.id, ROOT_CONTEXT);
        return s;
    }

    /** {@code proxy_on_request_headers}; returns the action (0 continue). */
    int onRequestHeaders(HttpStream s, boolean endOfStream) {
        effective = s.id;
        int n = countHeaders(Abi.REQUEST_HEADERS, s);
        return (int) callback(onRequestHeaders, s.id, n, endOfStream ? 1 : 0);
    }

    /** Whether the module exports {@code proxy_on_request_body} or {@code proxy_on_request_trailers}. */
    boolean seesRequestBody() {
        return onRequestBody != null || onRequestTrailers != null;
    }

    /** Whether the module exports {@code proxy_on_response_body} or {@code proxy_on_response_trailers}. */
    boolean seesResponseBody() {
        return onResponseBody != null || onResponseTrailers != null;
    }

    /** {@code proxy_on_request_body} over {@code body} (readable and rewritable through the body buffer). */
    int onRequestBody(HttpStream s, byte[] body, boolean endOfStream) {
        effective = s.id;
        s.requestBody = body;
        return (int) callback(onRequestBody, s.id, body.length, endOfStream ? 1 : 0);
    }

    /** {@code proxy_on_request_trailers}. */
    int onRequestTrailers(HttpStream s, HeadersView trailers) {
        effective = s.id;
        s.requestTrailers = trailers;
        return (int) callback(onRequestTrailers, s.id, countHeaders(Abi.REQUEST_TRAILERS, s));
    }

    /** {@code proxy_on_response_headers}. */
    int onResponseHeaders(HttpStream s, int status, HeadersView headers, boolean endOfStream) {
        effective = s.id;
        s.responseStatus = status;
        s.responseHeaders = headers;
        return (int) callback(onResponseHeaders, s.id, countHeaders(Abi.RESPONSE_HEADERS, s), endOfStream ? 1 : 0);
    }

    /** {@code proxy_on_response_body}. */
    int onResponseBody(HttpStream s, byte[] body, boolean endOfStream) {
        effective = s.id;
        s.responseBody = body;
        return (int) callback(onResponseBody, s.id, body.length, endOfStream ? 1 : 0);
    }

    /** {@code proxy_on_response_trailers}. */
    int onResponseTrailers(HttpStream s, HeadersView trailers) {
        effective = s.id;
        s.responseTrailers = trailers;
        return (int) callback(onResponseTrailers, s.id, countHeaders(Abi.RESPONSE_TRAILERS, s));
    }

    /** The stream ends: {@code proxy_on_log}, {@code proxy_on_done}, {@code proxy_on_delete}. */
    void finish(HttpStream s) {
        if (s.done) {
            return;
        }
        s.done = true;
        try {
            if (failure == null) {
                effective = s.id;
                callback(onLog, s.id);
                effective = s.id;
                callback(onDone, s.id);
                effective = s.id;
                callback(onDelete, s.id);
            }
        } finally {
            streams.remove(s.id);
            effective = ROOT_CONTEXT;
        }
    }

    /** Cancels the tick timer; the VM is no longer used. */
    void close() {
        if (tick != null) {
            tick.cancel(false);
            tick = null;
        }
    }

    private int countHeaders(int type, HttpStream s) {
        int[] n = {0};
        forEachHeader(type, s, (k, v) -> n[0]++);
        return n[0];
    }

    // --- the host functions (module env) ---

    private Map<String, WasmFunctionHandle> hostFunctions() {
        Map<String, WasmFunctionHandle> m = new HashMap<>();
        m.put("proxy_log", (inst, a) -> log((int) a[0], str(a[1], a[2])));
        m.put("proxy_get_log_level", (inst, a) -> {
            memory.writeI32((int) a[0], plugin.log().isTraceEnabled() ? Abi.LOG_TRACE
                    : plugin.log().isDebugEnabled() ? Abi.LOG_DEBUG : Abi.LOG_INFO);
            return RESULT_OK;
        });
        m.put("proxy_get_current_time_nanoseconds", (inst, a) -> {
            java.time.Instant now = plugin.settings().clock().instant();
            memory.writeLong((int) a[0], now.getEpochSecond() * 1_000_000_000L + now.getNano());
            return RESULT_OK;
        });
        m.put("proxy_set_tick_period_milliseconds", (inst, a) -> setTick(a[0]));
        m.put("proxy_get_property", (inst, a) -> {
            byte[] v = property(bytes(a[0], a[1]));
            if (v == null) {
                return RESULT_NOT_FOUND;
            }
            return returnBytes(v, a[2], a[3]);
        });
        m.put("proxy_set_property", (inst, a) -> RESULT_OK);
        m.put("proxy_get_buffer_bytes", (inst, a) -> getBuffer((int) a[0], (int) a[1], (int) a[2], a[3], a[4]));
        m.put("proxy_get_buffer_status", (inst, a) -> {
            byte[] b = buffer((int) a[0]);
            if (b == null) {
                return RESULT_NOT_FOUND;
            }
            memory.writeI32((int) a[1], b.length);
            memory.writeI32((int) a[2], 0);
            return RESULT_OK;
        });
        m.put("proxy_set_buffer_bytes", (inst, a) -> setBuffer((int) a[0], (int) a[1], (int) a[2], bytes(a[3], a[4])));
        m.put("proxy_get_header_map_pairs", (inst, a) -> getPairs((int) a[0], a[1], a[2]));
        m.put("proxy_set_header_map_pairs", (inst, a) -> setPairs((int) a[0], bytes(a[1], a[2])));
        m.put("proxy_get_header_map_value", (inst, a) -> {
            String v = headerValue((int) a[0], str(a[1], a[2]));
            return v == null ? RESULT_NOT_FOUND : returnBytes(v.getBytes(StandardCharsets.UTF_8), a[3], a[4]);
        });
        m.put("proxy_add_header_map_value", (inst, a) -> writeHeader((int) a[0], str(a[1], a[2]), str(a[3], a[4]), true));
        m.put("proxy_replace_header_map_value", (inst, a) -> writeHeader((int) a[0], str(a[1], a[2]), str(a[3], a[4]), false));
        m.put("proxy_remove_header_map_value", (inst, a) -> writeHeader((int) a[0], str(a[1], a[2]), null, false));
        m.put("proxy_get_header_map_size", (inst, a) -> {
            HttpStream s = streams.get(effective);
            if (s == null && a[0] != Abi.HTTP_CALL_RESPONSE_HEADERS && a[0] != Abi.HTTP_CALL_RESPONSE_TRAILERS) {
                return RESULT_BAD_ARGUMENT;
            }
            memory.writeI32((int) a[1], serializePairs(pairs((int) a[0], s)).length);
            return RESULT_OK;
        });
        m.put("proxy_send_local_response", (inst, a) -> localResponse(a));
        m.put("proxy_continue_stream", (inst, a) -> resume());
        m.put("proxy_continue_request", (inst, a) -> resume());
        m.put("proxy_continue_response", (inst, a) -> resume());
        m.put("proxy_close_stream", (inst, a) -> RESULT_OK);
        m.put("proxy_clear_route_cache", (inst, a) -> RESULT_OK);
        m.put("proxy_set_effective_context", (inst, a) -> {
            int id = (int) a[0];
            if (id != ROOT_CONTEXT && !streams.containsKey(id)) {
                return RESULT_BAD_ARGUMENT;
            }
            effective = id;
            return RESULT_OK;
        });
        m.put("proxy_done", (inst, a) -> RESULT_OK);
        m.put("proxy_define_metric", (inst, a) -> {
            int id = plugin.metrics().define((int) a[0], str(a[1], a[2]));
            if (id < 0) {
                return RESULT_BAD_ARGUMENT;
            }
            memory.writeI32((int) a[3], id);
            return RESULT_OK;
        });
        m.put("proxy_increment_metric", (inst, a) -> plugin.metrics().increment((int) a[0], a[1]) ? RESULT_OK : RESULT_NOT_FOUND);
        m.put("proxy_record_metric", (inst, a) -> plugin.metrics().record((int) a[0], a[1]) ? RESULT_OK : RESULT_NOT_FOUND);
        m.put("proxy_get_metric", (inst, a) -> {
            long[] v = plugin.metrics().get((int) a[0]);
            if (v == null) {
                return RESULT_NOT_FOUND;
            }
            memory.writeLong((int) a[1], v[0]);
            return RESULT_OK;
        });
        m.put("proxy_get_shared_data", (inst, a) -> {
            SharedData.Entry e = plugin.sharedData().get(str(a[0], a[1]));
            if (e == null) {
                return RESULT_NOT_FOUND;
            }
            long[] r = returnBytes(e.value(), a[2], a[3]);
            memory.writeI32((int) a[4], e.cas());
            return r;
        });
        m.put("proxy_http_call", (inst, a) -> httpCall(a));
        m.put("proxy_grpc_call", (inst, a) -> grpcCall(a));
        m.put("proxy_register_shared_queue", (inst, a) -> {
            memory.writeI32((int) a[2], plugin.sharedData().queues.register("", str(a[0], a[1]), this));
            return RESULT_OK;
        });
        m.put("proxy_resolve_shared_queue", (inst, a) -> {
            int token = plugin.sharedData().queues.resolve(str(a[0], a[1]), str(a[2], a[3]));
            if (token == 0) {
                return RESULT_NOT_FOUND;
            }
            memory.writeI32((int) a[4], token);
            return RESULT_OK;
        });
        m.put("proxy_enqueue_shared_queue", (inst, a) -> {
            SharedQueues.Queue q = plugin.sharedData().queues.queue((int) a[0]);
            if (q == null) {
                return RESULT_NOT_FOUND;
            }
            if (!SharedQueues.offer(q, bytes(a[1], a[2]))) {
                return new long[] {Abi.INTERNAL_FAILURE};
            }
            PluginVm owner = q.owner;
            if (owner != null) {
                owner.queueReady(q.token);
            }
            return RESULT_OK;
        });
        m.put("proxy_dequeue_shared_queue", (inst, a) -> {
            SharedQueues.Queue q = plugin.sharedData().queues.queue((int) a[0]);
            if (q == null) {
                return RESULT_NOT_FOUND;
            }
            byte[] item = SharedQueues.poll(q);
            if (item == null) {
                return new long[] {Abi.EMPTY};
            }
            return returnBytes(item, a[1], a[2]);
        });
        m.put("proxy_get_status", (inst, a) -> {
            memory.writeI32((int) a[0], grpcStatus);
            return returnBytes(grpcMessage, a[1], a[2]);
        });
        m.put("proxy_set_shared_data", (inst, a) -> plugin.sharedData().set(str(a[0], a[1]), bytes(a[2], a[3]), (int) a[4])
                ? RESULT_OK : new long[] {Abi.CAS_MISMATCH});
        return m;
    }

    private Map<String, HostFunction> wasiFunctions() {
        WasiOptions.Builder o = WasiOptions.builder()
                .withStdout(logStream(false))
                .withStderr(logStream(true))
                .withClock(plugin.settings().clock());
        plugin.env().forEach(o::withEnvironment);
        WasiPreview1 wasi = WasiPreview1.builder().withOptions(o.build()).build();
        Map<String, HostFunction> m = new HashMap<>();
        for (HostFunction f : wasi.toHostFunctions()) {
            m.put(f.name(), f);
        }
        return m;
    }

    private OutputStream logStream(boolean err) {
        return new OutputStream() {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    flushLine();
                } else if (line.size() < 8192) {
                    line.write(b);
                }
            }

            private void flushLine() {
                String s = line.toString(StandardCharsets.UTF_8);
                line.reset();
                if (err) {
                    plugin.log().warn("[{}] {}", plugin.name(), s);
                } else {
                    plugin.log().info("[{}] {}", plugin.name(), s);
                }
            }
        };
    }

    private static WasmFunctionHandle unimplemented(Import imp, FunctionType type) {
        if (type.returns().size() == 1 && type.returns().get(0).equals(ValType.I32)) {
            return (inst, a) -> RESULT_UNIMPLEMENTED;
        }
        if (type.returns().isEmpty()) {
            return (inst, a) -> NONE;
        }
        return (inst, a) -> {
            throw new PluginFailure("abi", "called " + imp.module() + "." + imp.name() + ", which this host does not implement", null);
        };
    }

    private long[] log(int level, String message) {
        Logger l = plugin.log();
        switch (level) {
            case Abi.LOG_TRACE -> l.trace("[{}] {}", plugin.name(), message);
            case Abi.LOG_DEBUG -> l.debug("[{}] {}", plugin.name(), message);
            case Abi.LOG_INFO -> l.info("[{}] {}", plugin.name(), message);
            case Abi.LOG_WARN -> l.warn("[{}] {}", plugin.name(), message);
            default -> l.error("[{}] {}", plugin.name(), message);
        }
        return RESULT_OK;
    }

    private long[] setTick(long millis) {
        if (tick != null) {
            tick.cancel(false);
            tick = null;
        }
        if (millis <= 0 || onTick == null) {
            return RESULT_OK;
        }
        if (loop == null) {
            return RESULT_UNIMPLEMENTED; // driven off an event loop (host tests): nothing to schedule on
        }
        tick = loop.scheduleAtFixedRate(() -> {
            if (failure != null) {
                close();
                return;
            }
            try {
                effective = ROOT_CONTEXT;
                callback(onTick, ROOT_CONTEXT);
            } catch (PluginFailure e) {
                plugin.failed(e, "on_tick");
                failPaused(e);
                close();
            }
        }, millis, millis, TimeUnit.MILLISECONDS);
        return RESULT_OK;
    }

    private long[] httpCall(long[] a) {
        HttpCallout callout = plugin.callout();
        if (callout == null) {
            return RESULT_UNIMPLEMENTED;
        }
        HttpStream s = streams.get(effective);
        if (s == null || s.request == null) {
            return RESULT_BAD_ARGUMENT; // from the root context: no request to borrow the tunnel and config from
        }
        String cluster = str(a[0], a[1]);
        List<Map.Entry<String, String>> headers = deserializePairs(bytes(a[2], a[3]));
        if (headers == null) {
            return RESULT_BAD_ARGUMENT;
        }
        byte[] body = bytes(a[4], a[5]);
        long timeout = a[8] > 0 ? a[8] : 5000;
        java.util.concurrent.CompletionStage<HttpCallout.Response> f;
        try {
            f = callout.call(s.request, cluster, headers, body, java.time.Duration.ofMillis(timeout));
        } catch (IllegalArgumentException e) {
            plugin.log().debug("[{}] proxy_http_call to {}: {}", plugin.name(), cluster, e.getMessage());
            return RESULT_BAD_ARGUMENT; // Envoy: an unknown cluster is BadArgument
        }
        int token = nextToken++;
        memory.writeI32((int) a[9], token);
        int contextId = s.id;
        f.whenComplete((res, err) -> {
            Runnable done = () -> httpCallDone(contextId, token, err == null ? res : null);
            if (depth > 0) {
                afterCallback.add(done); // answered at once: never inside the plugin's own call
            } else if (loop != null && !loop.inEventLoop()) {
                loop.execute(done);
            } else {
                done.run();
            }
        });
        return RESULT_OK;
    }

    /**
     * {@code proxy_grpc_call}, unary: {@code grpc_service} is a cluster name
     * ({@code outbound|PORT||HOST}, as for {@code proxy_http_call}; a serialized GrpcService proto
     * is not understood), sent as an HTTP/2 {@code POST /<service>/<method>} with
     * {@code content-type: application/grpc}, the initial metadata as headers and the message in
     * one length-prefixed frame, through the same callout as {@code proxy_http_call}.
     */
    private long[] grpcCall(long[] a) {
        HttpCallout callout = plugin.callout();
        if (callout == null) {
            return RESULT_UNIMPLEMENTED;
        }
        HttpStream s = streams.get(effective);
        if (s == null || s.request == null) {
            return RESULT_BAD_ARGUMENT; // from the root context: no request to borrow the tunnel and config from
        }
        String cluster = str(a[0], a[1]);
        String service = str(a[2], a[3]);
        String method = str(a[4], a[5]);
        List<Map.Entry<String, String>> metadata = a[7] == 0 ? List.of() : deserializePairs(bytes(a[6], a[7]));
        if (metadata == null || service.isEmpty() || method.isEmpty()) {
            return RESULT_BAD_ARGUMENT;
        }
        byte[] message = bytes(a[8], a[9]);
        List<Map.Entry<String, String>> headers = new java.util.ArrayList<>();
        headers.add(Map.entry(":method", "POST"));
        headers.add(Map.entry(":path", "/" + service + "/" + method));
        headers.add(Map.entry("content-type", "application/grpc"));
        headers.add(Map.entry("te", "trailers"));
        headers.addAll(metadata);
        byte[] framed = new byte[5 + message.length];
        framed[1] = (byte) (message.length >>> 24);
        framed[2] = (byte) (message.length >>> 16);
        framed[3] = (byte) (message.length >>> 8);
        framed[4] = (byte) message.length;
        System.arraycopy(message, 0, framed, 5, message.length);
        long timeout = a[10] > 0 ? a[10] : 5000;
        java.util.concurrent.CompletionStage<HttpCallout.Response> f;
        try {
            f = callout.call(s.request, cluster, headers, framed, java.time.Duration.ofMillis(timeout));
        } catch (IllegalArgumentException e) {
            plugin.log().debug("[{}] proxy_grpc_call to {}: {}", plugin.name(), cluster, e.getMessage());
            return RESULT_BAD_ARGUMENT; // Envoy: an unknown cluster is BadArgument
        }
        int token = nextToken++;
        memory.writeI32((int) a[11], token);
        int contextId = s.id;
        f.whenComplete((res, err) -> {
            Runnable done = () -> grpcCallDone(contextId, token, err == null ? res : null);
            if (depth > 0) {
                afterCallback.add(done);
            } else if (loop != null && !loop.inEventLoop()) {
                loop.execute(done);
            } else {
                done.run();
            }
        });
        return RESULT_OK;
    }

    /**
     * A unary gRPC call ended. As Envoy: status OK runs {@code proxy_on_grpc_receive} with the
     * response message in buffer 5; anything else runs {@code proxy_on_grpc_close} with the status
     * ({@code proxy_get_status} gives it and the message): the {@code grpc-status} trailer, or the
     * HTTP status mapped when the answer is not gRPC, 14 UNAVAILABLE when the call failed.
     */
    private void grpcCallDone(int contextId, int token, HttpCallout.Response res) {
        HttpStream s = streams.get(contextId);
        if (s == null || failure != null) {
            return;
        }
        int status;
        String message = "";
        byte[] reply = null;
        if (res == null) {
            status = 14;
            message = "upstream call failed";
        } else if (res.status() != 200) {
            status = WasmFilter.httpToGrpcStatus(res.status());
            message = "http status " + res.status();
        } else {
            String gs = header(res.trailers(), "grpc-status");
            if (gs == null) {
                gs = header(res.headers(), "grpc-status");
            }
            String gm = header(res.trailers(), "grpc-message");
            message = gm == null ? "" : gm;
            try {
                status = gs == null ? 2 : Integer.parseInt(gs.trim());
            } catch (NumberFormatException e) {
                status = 2;
            }
            if (status == 0) {
                byte[] b = res.body();
                int len = b.length < 5 ? -1 : ((b[1] & 0xff) << 24) | ((b[2] & 0xff) << 16) | ((b[3] & 0xff) << 8) | (b[4] & 0xff);
                if (len < 0 || b[0] != 0 || 5L + len > b.length) {
                    status = 13; // INTERNAL: a missing, compressed or truncated message
                    message = "malformed grpc response message";
                } else {
                    reply = java.util.Arrays.copyOfRange(b, 5, 5 + len);
                }
            }
        }
        effective = contextId;
        try {
            if (reply != null) {
                if (onGrpcReceive != null) {
                    grpcReceive = reply;
                    callback(onGrpcReceive, contextId, token, reply.length);
                }
            } else {
                grpcStatus = status;
                grpcMessage = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                if (onGrpcClose != null) {
                    callback(onGrpcClose, contextId, token, status);
                }
            }
        } catch (PluginFailure e) {
            plugin.failed(e, reply != null ? "on_grpc_receive" : "on_grpc_close");
            failPaused(e);
        } finally {
            grpcReceive = null;
        }
    }

    private static String header(List<Map.Entry<String, String>> headers, String name) {
        for (Map.Entry<String, String> h : headers) {
            if (h.getKey().equalsIgnoreCase(name)) {
                return h.getValue();
            }
        }
        return null;
    }

    /**
     * Something was enqueued on a queue this VM owns: {@code proxy_on_queue_ready(root, token)} on
     * this VM's loop, after whatever callback is running (never inside it). Called from any loop.
     */
    void queueReady(int token) {
        if (loop == null) {
            return; // driven off an event loop (host tests): nothing to run it on
        }
        Runnable ready = () -> {
            if (failure != null || onQueueReady == null) {
                return;
            }
            effective = ROOT_CONTEXT;
            try {
                callback(onQueueReady, ROOT_CONTEXT, token);
            } catch (PluginFailure e) {
                plugin.failed(e, "on_queue_ready");
                failPaused(e);
            }
        };
        if (loop.inEventLoop() && depth > 0) {
            afterCallback.add(ready);
        } else {
            loop.execute(ready);
        }
    }

    /** {@code proxy_on_http_call_response}; a failed call is answered with no headers and no body, as Envoy does. */
    private void httpCallDone(int contextId, int token, HttpCallout.Response res) {
        HttpStream s = streams.get(contextId);
        if (s == null || failure != null || onHttpCallResponse == null) {
            return;
        }
        callResponse = res;
        effective = contextId;
        try {
            callback(onHttpCallResponse, contextId, token, res == null ? 0 : res.headers().size() + 1,
                    res == null ? 0 : res.body().length, res == null ? 0 : res.trailers().size());
        } catch (PluginFailure e) {
            plugin.failed(e, "on_http_call_response");
            failPaused(e);
        } finally {
            callResponse = null;
        }
    }

    /** A callback outside any request's filter run failed: the paused requests of this VM fail with it. */
    private void failPaused(PluginFailure e) {
        for (HttpStream s : List.copyOf(streams.values())) {
            CompletableFuture<Void> r = s.resumed;
            if (r != null) {
                s.resumed = null;
                r.completeExceptionally(e);
            }
        }
    }

    private long[] resume() {
        HttpStream s = streams.get(effective);
        if (s == null) {
            return RESULT_BAD_ARGUMENT;
        }
        CompletableFuture<Void> r = s.resumed;
        if (r != null) {
            s.resumed = null;
            // after the module returned: the filter chain goes on outside the plugin's call
            afterCallback.add(() -> r.complete(null));
        }
        return RESULT_OK;
    }

    private long[] localResponse(long[] a) {
        HttpStream s = streams.get(effective);
        if (s == null) {
            return RESULT_BAD_ARGUMENT;
        }
        int status = (int) a[0];
        if (status < 200 || status > 599) {
            return RESULT_BAD_ARGUMENT;
        }
        String details = str(a[1], a[2]);
        byte[] body = bytes(a[3], a[4]);
        List<Map.Entry<String, String>> headers = deserializePairs(bytes(a[5], a[6]));
        if (headers == null) {
            return RESULT_BAD_ARGUMENT;
        }
        s.localReply = new HttpStream.LocalReply(status, details, body, headers, (int) a[7]);
        return RESULT_OK;
    }

    // --- buffers ---

    private byte[] buffer(int type) {
        HttpStream s = streams.get(effective);
        return switch (type) {
            case Abi.HTTP_REQUEST_BODY -> s == null ? null : s.requestBody;
            case Abi.HTTP_RESPONSE_BODY -> s == null ? null : s.responseBody;
            case Abi.HTTP_CALL_RESPONSE_BODY -> callResponse == null ? null : callResponse.body();
            case Abi.GRPC_RECEIVE_BUFFER -> grpcReceive;
            case Abi.VM_CONFIGURATION -> plugin.vmConfiguration();
            case Abi.PLUGIN_CONFIGURATION -> plugin.pluginConfiguration();
            default -> null;
        };
    }

    private long[] getBuffer(int type, int start, int max, long ptrPtr, long sizePtr) {
        byte[] b = buffer(type);
        if (b == null) {
            return RESULT_NOT_FOUND;
        }
        if (start < 0 || max < 0 || start > b.length) {
            return RESULT_BAD_ARGUMENT;
        }
        int len = Math.min(max, b.length - start);
        byte[] out = new byte[len];
        System.arraycopy(b, start, out, 0, len);
        return returnBytes(out, ptrPtr, sizePtr);
    }

    private long[] setBuffer(int type, int start, int size, byte[] data) {
        HttpStream s = streams.get(effective);
        if (s == null || (type != Abi.HTTP_REQUEST_BODY && type != Abi.HTTP_RESPONSE_BODY)) {
            return RESULT_BAD_ARGUMENT;
        }
        byte[] b = type == Abi.HTTP_REQUEST_BODY ? s.requestBody : s.responseBody;
        if (start < 0 || size < 0 || start > b.length) {
            return RESULT_BAD_ARGUMENT;
        }
        // replaces [start, start + size) with data (Envoy: start 0, size >= length replaces it all)
        int end = (int) Math.min((long) start + size, b.length);
        byte[] out = new byte[start + data.length + (b.length - end)];
        System.arraycopy(b, 0, out, 0, start);
        System.arraycopy(data, 0, out, start, data.length);
        System.arraycopy(b, end, out, start + data.length, b.length - end);
        if (type == Abi.HTTP_REQUEST_BODY) {
            s.requestBody = out;
        } else {
            s.responseBody = out;
        }
        return RESULT_OK;
    }

    // --- header maps ---

    private interface PairSink {
        void accept(String name, String value);
    }

    /**
     * The pairs of a map as Envoy shows them: request headers start with {@code :authority},
     * {@code :path}, {@code :method} and {@code :scheme}; response headers with {@code :status};
     * names lower-case.
     */
    private void forEachHeader(int type, HttpStream s, PairSink sink) {
        if (type == Abi.HTTP_CALL_RESPONSE_HEADERS || type == Abi.HTTP_CALL_RESPONSE_TRAILERS) {
            if (callResponse != null) {
                if (type == Abi.HTTP_CALL_RESPONSE_HEADERS) {
                    sink.accept(":status", Integer.toString(callResponse.status()));
                }
                for (Map.Entry<String, String> e : type == Abi.HTTP_CALL_RESPONSE_HEADERS ? callResponse.headers()
                        : callResponse.trailers()) {
                    sink.accept(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue());
                }
            }
            return;
        }
        HeadersView h = view(type, s);
        if (type == Abi.REQUEST_HEADERS && s.request != null) {
            var at = s.request.attributes();
            if (at.host() != null) {
                sink.accept(":authority", at.host());
            }
            sink.accept(":path", at.path());
            sink.accept(":method", at.method());
            sink.accept(":scheme", at.scheme());
        } else if (type == Abi.RESPONSE_HEADERS && s.responseStatus > 0) {
            sink.accept(":status", Integer.toString(s.responseStatus));
        }
        if (h != null) {
            h.forEach((k, v) -> {
                String name = k.toLowerCase(java.util.Locale.ROOT);
                if (type == Abi.REQUEST_HEADERS && s.request != null && name.equals("host")) {
                    return; // shown as :authority
                }
                sink.accept(name, v);
            });
        }
    }

    private static HeadersView view(int type, HttpStream s) {
        return switch (type) {
            case Abi.REQUEST_HEADERS -> s.requestHeaders;
            case Abi.REQUEST_TRAILERS -> s.requestTrailers;
            case Abi.RESPONSE_HEADERS -> s.responseHeaders;
            case Abi.RESPONSE_TRAILERS -> s.responseTrailers;
            default -> null;
        };
    }

    private List<Map.Entry<String, String>> pairs(int type, HttpStream s) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        forEachHeader(type, s, (k, v) -> out.add(Map.entry(k, v)));
        return out;
    }

    private long[] getPairs(int type, long ptrPtr, long sizePtr) {
        HttpStream s = streams.get(effective);
        boolean call = type == Abi.HTTP_CALL_RESPONSE_HEADERS || type == Abi.HTTP_CALL_RESPONSE_TRAILERS;
        if (!call && (s == null || type < 0 || type > 3)) {
            return RESULT_BAD_ARGUMENT;
        }
        return returnBytes(serializePairs(pairs(type, s)), ptrPtr, sizePtr);
    }

    private String headerValue(int type, String name) {
        HttpStream s = streams.get(effective);
        boolean call = type == Abi.HTTP_CALL_RESPONSE_HEADERS || type == Abi.HTTP_CALL_RESPONSE_TRAILERS;
        if (s == null && !call) {
            return null;
        }
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (lower.startsWith(":") || call) {
            String[] found = {null};
            forEachHeader(type, s, (k, v) -> {
                if (found[0] == null && k.equals(lower)) {
                    found[0] = v;
                }
            });
            return found[0];
        }
        HeadersView h = view(type, s);
        return h == null ? null : h.get(name);
    }

    private long[] writeHeader(int type, String name, String value, boolean add) {
        HttpStream s = streams.get(effective);
        HeadersView h = s == null ? null : view(type, s);
        if (h == null) {
            return RESULT_BAD_ARGUMENT;
        }
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (lower.startsWith(":")) {
            if (type == Abi.REQUEST_HEADERS && lower.equals(":path") && value != null && s.request != null) {
                s.request.setPath(value);
                return RESULT_OK;
            }
            if (type == Abi.REQUEST_HEADERS && lower.equals(":authority") && value != null) {
                h.set("host", value);
                return RESULT_OK;
            }
            return RESULT_BAD_ARGUMENT; // other pseudo-headers are not writable here
        }
        if (value == null) {
            h.remove(name);
        } else if (add) {
            h.add(name, value);
        } else {
            h.set(name, value);
        }
        return RESULT_OK;
    }

    private long[] setPairs(int type, byte[] data) {
        HttpStream s = streams.get(effective);
        HeadersView h = s == null ? null : view(type, s);
        List<Map.Entry<String, String>> pairs = deserializePairs(data);
        if (h == null || pairs == null) {
            return RESULT_BAD_ARGUMENT;
        }
        List<String> names = new ArrayList<>();
        h.forEach((k, v) -> names.add(k));
        for (String n : names) {
            h.remove(n);
        }
        for (Map.Entry<String, String> e : pairs) {
            writeHeader(type, e.getKey(), e.getValue(), true);
        }
        return RESULT_OK;
    }

    /** proxy-wasm map encoding: count, then (name length, value length) pairs, then NUL-terminated names and values. */
    static byte[] serializePairs(List<Map.Entry<String, String>> pairs) {
        List<byte[]> parts = new ArrayList<>(pairs.size() * 2);
        int size = 4 + 8 * pairs.size();
        for (Map.Entry<String, String> e : pairs) {
            byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
            byte[] v = e.getValue().getBytes(StandardCharsets.UTF_8);
            parts.add(k);
            parts.add(v);
            size += k.length + v.length + 2;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(pairs.size());
        for (int i = 0; i < parts.size(); i += 2) {
            b.putInt(parts.get(i).length).putInt(parts.get(i + 1).length);
        }
        for (byte[] p : parts) {
            b.put(p).put((byte) 0);
        }
        return b.array();
    }

    /** The inverse of {@link #serializePairs}; null if {@code data} is malformed. */
    static List<Map.Entry<String, String>> deserializePairs(byte[] data) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        if (data.length == 0) {
            return out;
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (data.length < 4) {
            return null;
        }
        int n = b.getInt();
        if (n < 0 || (long) n * 8 + 4 > data.length) {
            return null;
        }
        int[] lens = new int[n * 2];
        for (int i = 0; i < lens.length; i++) {
            lens[i] = b.getInt();
        }
        int pos = 4 + 8 * n;
        String[] strs = new String[n * 2];
        for (int i = 0; i < lens.length; i++) {
            if (lens[i] < 0 || (long) pos + lens[i] + 1 > data.length) {
                return null;
            }
            strs[i] = new String(data, pos, lens[i], StandardCharsets.UTF_8);
            pos += lens[i] + 1;
        }
        for (int i = 0; i < n; i++) {
            out.add(Map.entry(strs[2 * i], strs[2 * i + 1]));
        }
        return out;
    }

    // --- properties ---

    private byte[] property(byte[] rawPath) {
        // NUL-separated segments ("request\0path"); a trailing NUL is allowed
        List<String> segments = new ArrayList<>();
        int from = 0;
        for (int i = 0; i <= rawPath.length; i++) {
            if (i == rawPath.length || rawPath[i] == 0) {
                if (i > from) {
                    segments.add(new String(rawPath, from, i - from, StandardCharsets.UTF_8));
                }
                from = i + 1;
            }
        }
        if (segments.size() == 1 && segments.get(0).indexOf('.') > 0) {
            segments = List.of(segments.get(0).split("\\.", 3)); // "request.path", as some SDKs send it
        }
        return Properties.get(plugin, streams.get(effective), segments);
    }

    // --- guest memory ---

    private String str(long ptr, long len) {
        return len == 0 ? "" : memory.readString((int) ptr, (int) len);
    }

    private byte[] bytes(long ptr, long len) {
        return len == 0 ? EMPTY : memory.readBytes((int) ptr, (int) len);
    }

    private long[] returnBytes(byte[] data, long ptrPtr, long sizePtr) {
        int addr = (int) invoke(allocate, plugin.settings().callbackBudgetNanos(), Math.max(1, data.length));
        if (addr == 0) {
            return new long[] {Abi.INVALID_MEMORY_ACCESS};
        }
        memory.write(addr, data);
        memory.writeI32((int) ptrPtr, addr);
        memory.writeI32((int) sizePtr, data.length);
        return RESULT_OK;
    }
}
