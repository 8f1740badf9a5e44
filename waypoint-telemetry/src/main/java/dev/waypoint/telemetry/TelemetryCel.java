package dev.waypoint.telemetry;

import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import java.util.HashMap;
import java.util.Map;

/**
 * The CEL environment of the Telemetry API's expressions ({@code accessLogging[].filter.expression},
 * {@code tagOverrides.value}), with Envoy's attribute names as Istio documents them: {@code request}
 * ({@code headers}, {@code path}, {@code url_path}, {@code host}, {@code method}, {@code scheme},
 * {@code protocol}, {@code id}, {@code useragent}, {@code referer}, {@code size}, {@code duration}),
 * {@code response} ({@code code}, {@code flags}, {@code size}, {@code grpc_status}, {@code code_details}),
 * {@code source} ({@code address}, {@code port}, {@code principal}), {@code destination}
 * ({@code address}, {@code port}), {@code connection} ({@code mtls}, {@code requested_server_name}),
 * {@code upstream} ({@code address}); each a {@code map(string, dyn)}.
 *
 * <p>Expressions are compiled once per snapshot ({@link #compile}); {@link #activation} builds the
 * attribute maps of one request, only when a Telemetry with an expression applies to it;
 * {@link #tcpActivation} those of a TCP tunnel, which has no {@code request} or {@code response}
 * (an expression reading them fails to evaluate, as in Envoy's TCP stats).
 */
final class TelemetryCel {
    private static final CelCompiler COMPILER;
    private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder().build();

    static {
        // the standard macros (has, all, exists, exists_one, map, filter), as Envoy's CEL has them
        var b = CelCompilerFactory.standardCelCompilerBuilder()
                .setStandardMacros(dev.cel.parser.CelStandardMacro.STANDARD_MACROS);
        for (String v : new String[] {"request", "response", "source", "destination", "connection", "upstream"}) {
            b.addVar(v, MapType.create(SimpleType.STRING, SimpleType.DYN));
        }
        COMPILER = b.build();
    }

    private TelemetryCel() {}

    /** A compiled expression. */
    record Expression(String source, CelRuntime.Program program) {
        /** The value for {@code attributes}; a CEL error (a missing key, a type mismatch) is thrown. */
        Object eval(Map<String, Object> attributes) throws CelEvaluationException {
            return program.eval(attributes);
        }

        /**
         * A filter's answer: true only when the expression is {@code true}. An evaluation error
         * counts as false (Envoy's CEL access log filter does not log when evaluation fails).
         */
        boolean test(Map<String, Object> attributes) {
            try {
                return Boolean.TRUE.equals(program.eval(attributes));
            } catch (CelEvaluationException e) {
                return false;
            }
        }
    }

    /**
     * Compiles {@code expression}.
     *
     * @throws IllegalArgumentException with CEL's message when it does not parse or type-check
     */
    static Expression compile(String expression) {
        try {
            CelAbstractSyntaxTree ast = COMPILER.compile(expression).getAst();
            return new Expression(expression, RUNTIME.createProgram(ast));
        } catch (CelValidationException e) {
            throw new IllegalArgumentException(e.getMessage().replace('\n', ' '), e);
        } catch (CelEvaluationException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** The attributes of one finished request. */
    static Map<String, Object> activation(RequestContext request) {
        var a = request.attributes();
        RequestOutcome o = request.outcome();
        Map<String, Object> headers = new HashMap<>();
        try {
            request.requestHeaders().forEach((k, v) -> headers.putIfAbsent(k.toLowerCase(java.util.Locale.ROOT), v));
        } catch (UnsupportedOperationException e) {
            // a view that cannot list its headers: only the ones read below
        }
        Map<String, Object> req = new HashMap<>();
        req.put("headers", headers);
        String path = a.path() == null ? "" : a.path();
        req.put("path", path);
        int q = path.indexOf('?');
        req.put("url_path", q < 0 ? path : path.substring(0, q));
        req.put("host", a.host() == null ? "" : a.host());
        req.put("method", a.method() == null ? "" : a.method());
        req.put("scheme", a.scheme() == null ? "" : a.scheme());
        req.put("protocol", a.protocol() == null ? "" : a.protocol());
        putHeader(req, "id", request, "x-request-id");
        putHeader(req, "useragent", request, "user-agent");
        putHeader(req, "referer", request, "referer");
        req.put("size", o.requestBytes());
        long nanos = Math.max(0, o.durationNanos());
        req.put("duration", com.google.protobuf.Duration.newBuilder().setSeconds(nanos / 1_000_000_000L)
                .setNanos((int) (nanos % 1_000_000_000L)).build());
        Map<String, Object> resp = new HashMap<>();
        resp.put("code", (long) o.status());
        resp.put("flags", o.flags() == null ? "-" : o.flags());
        resp.put("size", o.responseBytes());
        resp.put("grpc_status", (long) o.grpcStatus());
        resp.put("code_details", o.reason() == null ? "" : o.reason());
        Map<String, Object> src = new HashMap<>();
        if (a.sourceAddress() != null) {
            src.put("address", a.sourceAddress().getAddress().getHostAddress());
            src.put("port", (long) a.sourceAddress().getPort());
        }
        src.put("principal", a.sourcePrincipal() == null ? "" : a.sourcePrincipal().toString());
        Map<String, Object> dst = new HashMap<>();
        if (a.destinationAddress() != null) {
            dst.put("address", a.destinationAddress().getAddress().getHostAddress());
            dst.put("port", (long) a.destinationAddress().getPort());
        }
        Map<String, Object> conn = new HashMap<>();
        conn.put("mtls", true);
        conn.put("requested_server_name", "");
        Map<String, Object> up = new HashMap<>();
        up.put("address", o.endpoint() == null ? "" : o.endpoint());
        return Map.of("request", req, "response", resp, "source", src, "destination", dst, "connection", conn,
                "upstream", up);
    }

    /**
     * The attributes of a TCP tunnel, as Envoy's CEL sees a TCP connection: {@code source}
     * ({@code address}, {@code port}: the original client; {@code principal}), {@code destination}
     * ({@code address}, {@code port}: the CONNECT target), {@code connection} ({@code mtls},
     * {@code requested_server_name}), {@code upstream} ({@code address}: the endpoint, once picked).
     * {@code request} and {@code response} are empty: an expression reading them is an evaluation
     * error ({@code unknown} in a label).
     */
    static Map<String, Object> tcpActivation(dev.waypoint.model.request.TunnelContext tunnel,
                                             dev.waypoint.model.request.TcpOutcome outcome) {
        Map<String, Object> src = new HashMap<>();
        if (tunnel.source() != null) {
            src.put("address", tunnel.source().getAddress().getHostAddress());
            src.put("port", (long) tunnel.source().getPort());
        }
        src.put("principal", tunnel.peer() == null ? "" : tunnel.peer().toString());
        Map<String, Object> dst = new HashMap<>();
        dev.waypoint.model.mesh.HostPort target = tunnel.target().authority();
        if (target != null && target.address() != null) {
            dst.put("address", target.address().getHostAddress());
            dst.put("port", (long) target.port());
        }
        Map<String, Object> conn = new HashMap<>();
        conn.put("mtls", true);
        conn.put("requested_server_name", "");
        Map<String, Object> up = new HashMap<>();
        up.put("address", outcome.endpoint() == null ? "" : outcome.endpoint());
        // request and response bound but empty: reading a key of them is an evaluation error (an
        // unbound variable would evaluate to an "unknown set" instead)
        return Map.of("request", Map.of(), "response", Map.of(), "source", src, "destination", dst,
                "connection", conn, "upstream", up);
    }

    private static void putHeader(Map<String, Object> m, String key, RequestContext request, String header) {
        String v = request.requestHeaders().get(header);
        m.put(key, v == null ? "" : v);
    }
}
