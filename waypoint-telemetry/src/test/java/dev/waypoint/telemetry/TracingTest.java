package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.AttemptObserver;
import dev.waypoint.model.request.RequestContext;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Trace context in and out, sampling, spans and their tags, the Zipkin JSON, and the compiler. */
class TracingTest {
    final List<SpanData> exported = new ArrayList<>();
    final SdkTracerProvider sdk = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(new SpanExporter() {
        @Override
        public CompletableResultCode export(Collection<SpanData> spans) {
            exported.addAll(spans);
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode flush() {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown() {
            return CompletableResultCode.ofSuccess();
        }
    })).build();
    final TracingProviders providers = new TracingProviders("waypoint.istio-system");

    @AfterEach
    void close() {
        sdk.shutdown();
        providers.close();
    }

    TracingSettings settings(double percent) {
        return new TracingSettings(sdk.get("test"), percent, "test");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            w3c in the request        | traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 | | 4bf92f3577b34da6a3ce929d0e0e4736 | 00f067aa0ba902b7 | true
            w3c not sampled           | traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 | | 4bf92f3577b34da6a3ce929d0e0e4736 | 00f067aa0ba902b7 | false
            b3 single header          | b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1 | | 80f198ee56343ba864fe8b2a57d3eff7 | e457b5a2e4d86bd1 | true
            b3 multi headers          | x-b3-traceid=80f198ee56343ba864fe8b2a57d3eff7;x-b3-spanid=e457b5a2e4d86bd1;x-b3-sampled=1 | | 80f198ee56343ba864fe8b2a57d3eff7 | e457b5a2e4d86bd1 | true
            w3c wins over b3          | traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01;b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1 | | 4bf92f3577b34da6a3ce929d0e0e4736 | 00f067aa0ba902b7 | true
            else the CONNECT's        | | 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 | 0af7651916cd43dd8448eb211c80319c | b7ad6b7169203331 | true
            the request's over CONNECT's | traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 | 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 | 4bf92f3577b34da6a3ce929d0e0e4736 | 00f067aa0ba902b7 | true
            """)
    void theParentComesFromTheRequestElseTheConnect(String name, String headers, String connect, String traceId,
                                                     String spanId, boolean sampled) {
        RequestContext r = Requests.finishedWithTrace(parse(headers), connect);
        SpanContext parent = Span.fromContext(RequestTrace.parent(r)).getSpanContext();
        assertThat(parent.getTraceId()).isEqualTo(traceId);
        assertThat(parent.getSpanId()).isEqualTo(spanId);
        assertThat(parent.isSampled()).isEqualTo(sampled);
    }

    static Map<String, String> parse(String headers) {
        Map<String, String> m = new HashMap<>();
        if (headers != null) {
            for (String kv : headers.split(";")) {
                int eq = kv.indexOf('=');
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return m;
    }

    @ParameterizedTest
    @CsvSource({"01, 0, true", "00, 100, false", "-, 100, true", "-, 0, false"})
    void aParentsFlagDecidesElseThePercentage(String flags, double percent, boolean sampled) {
        SpanContext parent = flags.equals("-") ? SpanContext.getInvalid()
                : SpanContext.createFromRemoteParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
                        TraceFlags.fromHex(flags, 0), TraceState.getDefault());
        assertThat(RequestTrace.sampled(parent, percent)).isEqualTo(sampled);
    }

    @Test
    void aSampledRequestHasAServerSpanAndAClientSpanPerAttemptWithTheirParents() {
        RequestContext r = Requests.finishedWithTrace(parse("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), null);
        RequestTrace trace = RequestTrace.start(r, settings(0), "cluster.local");
        assertThat(trace).isNotNull();
        Map<String, String> first = new HashMap<>();
        Map<String, String> second = new HashMap<>();
        trace.started(1, "10.244.0.11:9080", first::put);
        trace.ended(1, 0);
        trace.started(2, "10.244.0.12:9080", second::put);
        trace.ended(2, 200);
        trace.end(r, IstioLabels.values(r, "cluster.local", "Kubernetes"));
        assertThat(exported).hasSize(3);
        SpanData server = exported.get(2);
        assertThat(server.getParentSpanId()).isEqualTo("00f067aa0ba902b7");
        assertThat(server.getName()).isEqualTo("reviews.demo.svc.cluster.local:9080/*");
        assertThat(server.getAttributes().asMap().toString()).contains("istio.source_workload=curl",
                "istio.canonical_service=reviews", "http.status_code=200", "guid:x-request-id=6f1c0f6c");
        SpanData a1 = exported.get(0);
        SpanData a2 = exported.get(1);
        assertThat(a1.getParentSpanId()).isEqualTo(server.getSpanId());
        assertThat(a2.getParentSpanId()).isEqualTo(server.getSpanId());
        assertThat(a1.getAttributes().asMap().toString()).contains("error=true", "upstream_address=10.244.0.11:9080");
        assertThat(first.get("traceparent")).isEqualTo("00-4bf92f3577b34da6a3ce929d0e0e4736-" + a1.getSpanId() + "-01");
        assertThat(second.get("traceparent")).isEqualTo("00-4bf92f3577b34da6a3ce929d0e0e4736-" + a2.getSpanId() + "-01");
        assertThat(first).doesNotContainKey("X-B3-TraceId");
    }

    @Test
    void aB3RequestGetsB3HeadersUpstreamToo() {
        RequestContext r = Requests.finishedWithTrace(parse("b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), null);
        RequestTrace trace = RequestTrace.start(r, settings(0), "cluster.local");
        Map<String, String> h = new HashMap<>();
        trace.started(1, "10.244.0.12:9080", h::put);
        // (header names as the B3 propagator writes them; HTTP header names are case-insensitive)
        assertThat(h).containsEntry("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7").containsKey("X-B3-SpanId")
                .containsEntry("X-B3-Sampled", "1").containsKey("traceparent");
    }

    @Test
    void noProviderMeansNoTraceAndNoObserverButARequestId() {
        RequestContext r = Requests.finishedWithTrace(Map.of(), null);
        r.requestHeaders().remove("x-request-id");
        new TelemetryFilter(new IstioMetrics(10), null, "cluster.local", "Kubernetes").onRequest(r);
        assertThat(r.get(AttemptObserver.KEY)).isNull();
        assertThat(r.get(RequestTrace.KEY)).isNull();
        assertThat(r.requestHeaders().get("x-request-id")).matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    }

    @Test
    void anUnsampledRequestIsLeftAlone() {
        RequestContext r = Requests.finishedWithTrace(parse("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), null);
        assertThat(RequestTrace.start(r, settings(100), "cluster.local")).isNull();
        assertThat(r.requestHeaders().get("traceparent")).endsWith("-00");
    }

    @Test
    void zipkinJsonHasTheV2Fields() {
        RequestContext r = Requests.finishedWithTrace(parse("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), null);
        RequestTrace trace = RequestTrace.start(r, settings(0), "cluster.local");
        trace.end(r, IstioLabels.values(r, "cluster.local", "Kubernetes"));
        String json = ZipkinJsonExporter.json(exported, "waypoint.istio-system", 256);
        assertThat(json).startsWith("[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"id\":\"")
                .contains("\"parentId\":\"00f067aa0ba902b7\"", "\"name\":\"reviews.demo.svc.cluster.local:9080/*\"",
                        "\"kind\":\"SERVER\"", "\"localEndpoint\":{\"serviceName\":\"waypoint.istio-system\"}",
                        "\"http.method\":\"GET\"")
                .containsPattern("\"timestamp\":\\d{16},\"duration\":\\d+").endsWith("}}]");
        assertThat(ZipkinJsonExporter.json(exported, "s", 3)).contains("\"http.method\":\"GET\"", "\"component\":\"pro\"");
    }

    static ResourceSet mesh(List<String> defaults, Boolean enable, Double sampling, ExtensionProviderSpec... providers) {
        MeshConfigSpec m = new MeshConfigSpec(new SourceRef("mesh.yaml", 1), null, List.of(), null, List.of(providers),
                new MeshConfigSpec.DefaultProviders(List.of(), defaults, List.of()), null, null,
                MeshConfigSpec.AccessLogEncoding.TEXT, null, enable, sampling, null, null);
        ServiceSpec zipkin = new ServiceSpec(new NamespacedName("istio-system", "zipkin"), Map.of(),
                List.of(HostPort.parseIp("10.96.9.9")), List.of(new ServicePortSpec("http", 9411, 0, "query", null)),
                Map.of("app", "zipkin"), SourceRef.NONE);
        PodSpec pod = new PodSpec(new NamespacedName("istio-system", "zipkin-0"), Map.of("app", "zipkin"), "default",
                HostPort.parseIp("10.244.9.9"), true, Map.of("query", 9411), SourceRef.NONE);
        return ResourceSet.builder(new NamespacedName("istio-system", "waypoint"), "cluster.local").meshConfig(m)
                .services(List.of(zipkin)).pods(List.of(pod)).build();
    }

    @Test
    void theCompilerPicksTheDefaultProviderAndResolvesItsServiceToAPod() {
        Diagnostics d = new Diagnostics();
        TracingSettings s = new TracingCompiler(providers, "cluster.local").compile(mesh(List.of("zipkin"), null, null,
                new ExtensionProviderSpec.Zipkin("zipkin", "zipkin.istio-system.svc.cluster.local", 9411, 0, false)), d);
        assertThat(s.tracer()).isNotNull();
        assertThat(s.debug()).isEqualTo("zipkin (zipkin) -> 10.244.9.9:9411, sampling 1.0%");
        assertThat(d.problems()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            ns/name form          | istio-system/zipkin                     | 10.244.9.9:9411
            not a Service here    | collector.example.com                   | collector.example.com:9411
            unknown Service       | other.istio-system.svc.cluster.local    | other.istio-system.svc.cluster.local:9411
            """)
    void providerServicesResolveLikeUpstreams(String name, String service, String endpoint) {
        assertThat(new TracingCompiler(providers, "cluster.local").resolve(mesh(List.of(), null, null), service, 9411))
                .isEqualTo(endpoint);
    }

    @Test
    void offCases() {
        TracingCompiler c = new TracingCompiler(providers, "cluster.local");
        ExtensionProviderSpec z = new ExtensionProviderSpec.Zipkin("zipkin", "zipkin.istio-system.svc.cluster.local", 9411, 0, false);
        assertThat(c.compile(mesh(List.of(), null, null, z), new Diagnostics()).tracer()).as("no default provider").isNull();
        assertThat(c.compile(mesh(List.of("zipkin"), false, null, z), new Diagnostics()).tracer()).as("enableTracing false").isNull();
        Diagnostics d = new Diagnostics();
        assertThat(c.compile(mesh(List.of("nope"), null, null, z), d).tracer()).isNull();
        assertThat(d.problems()).singleElement().satisfies(p -> assertThat(p.message()).isEqualTo("no extensionProvider named nope; no tracing"));
        Diagnostics g = new Diagnostics();
        TracingSettings grpc = c.compile(mesh(List.of("otel"), null, 50.0, new ExtensionProviderSpec.OpenTelemetry("otel",
                "otel.istio-system.svc.cluster.local", 4317, 0, null, null, Map.of())), g);
        assertThat(grpc.tracer()).as("no http block: OTLP/gRPC").isNotNull();
        assertThat(grpc.debug()).isEqualTo("otel (opentelemetry, OTLP/gRPC) -> otel.istio-system.svc.cluster.local:4317, "
                + "sampling 50.0%");
        assertThat(g.problems()).isEmpty();
        TracingSettings otlp = c.compile(mesh(List.of("otel"), null, 50.0, new ExtensionProviderSpec.OpenTelemetry("otel",
                "otel.istio-system.svc.cluster.local", 4318, 0, "/v1/traces", null, Map.of())), new Diagnostics());
        assertThat(otlp.tracer()).isNotNull();
        assertThat(otlp.samplingPercent()).isEqualTo(50.0);
    }

    @Test
    void aSnapshotWithoutTheTracingPartTracesNothing() {
        RequestContext r = Requests.finishedWithTrace(Map.of(), null);
        assertThat(r.snapshot().has(TracingSettings.PART)).isFalse();
        assertThat(ConfigSnapshot.class).isNotNull();
    }
}
