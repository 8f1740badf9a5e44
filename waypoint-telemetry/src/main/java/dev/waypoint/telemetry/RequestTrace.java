package dev.waypoint.telemetry;

import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.request.AttemptObserver;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestKey;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.extension.trace.propagation.B3Propagator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiConsumer;

/**
 * The trace of one sampled request: a SERVER span for the request, a CLIENT span per upstream
 * attempt (its context sent in that attempt's {@code traceparent}, and B3 headers when the
 * request came with B3), with the tags Envoy's tracer sets in an Istio waypoint. Made by the
 * telemetry stage when the request starts; ended when its outcome closes.
 *
 * <p>The parent is the inner request's W3C {@code traceparent}/{@code tracestate}, else its B3
 * ({@code b3} or {@code x-b3-*}), else the CONNECT's {@code traceparent}. A parent that says
 * "sampled" or "not sampled" decides; without one, {@link TracingSettings#samplingPercent()} does.
 *
 * <h2>Threading</h2>
 * The request's event loop; the SDK's batch processor exports from its own thread.
 */
final class RequestTrace implements AttemptObserver {
    static final RequestKey<RequestTrace> KEY = RequestKey.of("telemetry.trace", RequestTrace.class);

    private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();
    private static final TextMapPropagator B3_IN = B3Propagator.injectingSingleHeader();
    private static final TextMapPropagator B3_OUT = B3Propagator.injectingMultiHeaders();

    private static final TextMapGetter<HeadersView> HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HeadersView carrier) {
            return List.of("traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled");
        }

        @Override
        public String get(HeadersView carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private static final TextMapGetter<String> CONNECT = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(String carrier) {
            return List.of("traceparent");
        }

        @Override
        public String get(String carrier, String key) {
            return "traceparent".equals(key) ? carrier : null;
        }
    };

    private final Tracer tracer;
    private final Span server;
    private final Context serverContext;
    private final boolean b3;
    private final String clusterName;
    private Span client;
    private int clientAttempt;

    private RequestTrace(Tracer tracer, Span server, boolean b3, String clusterName) {
        this.tracer = tracer;
        this.server = server;
        this.serverContext = Context.root().with(server);
        this.b3 = b3;
        this.clusterName = clusterName;
    }

    /** The parent context of {@code request}: its own headers, else the CONNECT's {@code traceparent}. */
    static Context parent(RequestContext request) {
        HeadersView h = request.requestHeaders();
        Context c = W3C.extract(Context.root(), h, HEADERS);
        if (!Span.fromContext(c).getSpanContext().isValid()) {
            c = B3_IN.extract(Context.root(), h, HEADERS);
        }
        if (!Span.fromContext(c).getSpanContext().isValid() && request.tunnel().traceparent() != null) {
            c = W3C.extract(Context.root(), request.tunnel().traceparent(), CONNECT);
        }
        return c;
    }

    /** Whether to trace: a valid parent's sampled flag, else {@code percent} of requests. */
    static boolean sampled(SpanContext parent, double percent) {
        if (parent.isValid()) {
            return parent.isSampled();
        }
        return percent >= 100 || percent > 0 && ThreadLocalRandom.current().nextDouble(100) < percent;
    }

    /** Starts the trace of {@code request}, or returns null when it is not sampled. */
    static RequestTrace start(RequestContext request, TracingSettings settings, String clusterDomain) {
        return start(request, settings, clusterDomain, settings.samplingPercent(), null);
    }

    /**
     * As {@link #start(RequestContext, TracingSettings, String)} with a Telemetry's sampling
     * percentage and {@code customTags} (literal, request header, environment variable; set on the
     * server span, absent values with no default left out).
     */
    static RequestTrace start(RequestContext request, TracingSettings settings, String clusterDomain,
                              double samplingPercent, java.util.Map<String, dev.waypoint.model.telemetry.TelemetrySpec.CustomTag> customTags) {
        Context parent = parent(request);
        if (!sampled(Span.fromContext(parent).getSpanContext(), samplingPercent)) {
            return null;
        }
        HeadersView h = request.requestHeaders();
        String host = request.target() instanceof Target.ServiceTarget s
                ? s.service().name().name() + "." + s.service().name().namespace() + ".svc." + clusterDomain + ":"
                + s.port().port() : request.target().authority().toString();
        // Envoy's default operation name: the host and a wildcard path
        Span server = settings.tracer().spanBuilder(host + "/*").setParent(parent).setSpanKind(SpanKind.SERVER).startSpan();
        if (customTags != null) {
            customTags.forEach((name, tag) -> {
                String v = switch (tag.kind()) {
                    case LITERAL -> tag.value();
                    case HEADER -> h.get(tag.value());
                    case ENVIRONMENT -> System.getenv(tag.value());
                };
                v = v == null ? tag.defaultValue() : v;
                if (v != null) {
                    server.setAttribute(name, v);
                }
            });
        }
        String cluster = request.target() instanceof Target.ServiceTarget s
                ? LogEntries.cluster(s, "http", clusterDomain) : "connect_originate";
        return new RequestTrace(settings.tracer(), server, h.get("b3") != null || h.get("x-b3-traceid") != null, cluster);
    }

    @Override
    public void started(int attempt, String endpoint, BiConsumer<String, String> setHeader) {
        endClient(0);
        client = tracer.spanBuilder("router " + clusterName + " egress").setParent(serverContext)
                .setSpanKind(SpanKind.CLIENT).startSpan();
        clientAttempt = attempt;
        client.setAttribute("upstream_address", endpoint);
        client.setAttribute("upstream_cluster", clusterName);
        client.setAttribute("upstream_cluster.name", clusterName);
        client.setAttribute("component", "proxy");
        client.setAttribute("retry.attempt", attempt);
        Context c = serverContext.with(client);
        W3C.inject(c, setHeader, BiConsumer::accept);
        if (b3) {
            B3_OUT.inject(c, setHeader, BiConsumer::accept);
        }
    }

    @Override
    public void ended(int attempt, int status) {
        if (attempt == clientAttempt) {
            endClient(status);
        }
    }

    private void endClient(int status) {
        if (client == null) {
            return;
        }
        if (status > 0) {
            client.setAttribute("http.status_code", Integer.toString(status));
        }
        if (status == 0 || status >= 500) {
            client.setAttribute("error", "true");
            client.setStatus(StatusCode.ERROR);
        }
        client.end();
        client = null;
    }

    /** Tags the server span with the request's outcome, as Envoy and Istio do, and ends it (and an open client span). */
    void end(RequestContext request, String[] labels) {
        RequestOutcome o = request.outcome();
        endClient(o.status());
        HeadersView h = request.attributes().headers();
        Span s = server;
        s.setAttribute("component", "proxy");
        s.setAttribute("node_id", "waypoint");
        s.setAttribute("http.method", request.attributes().method());
        s.setAttribute("http.url", request.attributes().scheme() + "://" + request.attributes().host()
                + request.attributes().path());
        s.setAttribute("http.protocol", request.attributes().protocol());
        s.setAttribute("http.status_code", Integer.toString(o.status()));
        s.setAttribute("response_flags", o.flags());
        s.setAttribute("request_size", Long.toString(o.requestBytes()));
        s.setAttribute("response_size", Long.toString(o.responseBytes()));
        s.setAttribute("upstream_cluster", clusterName);
        s.setAttribute("upstream_cluster.name", clusterName);
        s.setAttribute("downstream_cluster", "-");
        putIfPresent(s, "guid:x-request-id", h.get("x-request-id"));
        putIfPresent(s, "user_agent", h.get("user-agent"));
        if (request.tunnel().source() != null) {
            s.setAttribute("peer.address", request.tunnel().source().getAddress().getHostAddress());
        }
        // Istio's span tags: who called (source_*) and where it went, from the same labels as the metrics
        s.setAttribute("istio.source_workload", labels[1]);
        s.setAttribute("istio.source_namespace", labels[2]);
        s.setAttribute("istio.source_principal", labels[3]);
        PodSpec pod = o.endpointPod();
        s.setAttribute("istio.destination_workload", labels[9]);
        s.setAttribute("istio.destination_namespace", labels[10]);
        s.setAttribute("istio.canonical_service", labels[17]);
        s.setAttribute("istio.canonical_revision", labels[18]);
        s.setAttribute("istio.namespace", pod != null ? pod.name().namespace() : labels[16]);
        s.setAttribute("istio.cluster_id", labels[19]);
        s.setAttribute("istio.mesh_id", "cluster.local");
        if (o.status() >= 500 || o.status() == 0) {
            s.setAttribute("error", "true");
            s.setStatus(StatusCode.ERROR);
        }
        s.end();
    }

    private static void putIfPresent(Span s, String key, String value) {
        if (value != null) {
            s.setAttribute(key, value);
        }
    }

    /** A fresh {@code x-request-id}: a random UUID (v4 layout) from the thread's generator, not SecureRandom. */
    static String newRequestId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long hi = (r.nextLong() & ~0xF000L) | 0x4000L;
        long lo = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new java.util.UUID(hi, lo).toString();
    }
}
