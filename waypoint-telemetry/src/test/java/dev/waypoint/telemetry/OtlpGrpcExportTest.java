package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.request.RequestContext;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerTransportFilter;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.TraceServiceGrpc;
import io.opentelemetry.proto.trace.v1.Span;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code opentelemetry} provider without {@code http}: OTLP/gRPC. The receiver is a real gRPC
 * server (grpc-java, its {@code TraceService} generated from the OTLP protos); our exporter speaks
 * to it over our own HTTP/2 client. Spans arrive with their parent link and Istio's tags, the
 * call carries gRPC's headers, one connection serves consecutive exports, and a non-OK
 * {@code grpc-status} (or no collector at all) is a failed, counted export, summed over the
 * providers for the proxy's health metrics. Loopback 127.232.30.x.
 */
class OtlpGrpcExportTest {
    private static final String HOST = "127.232.30.1";

    private final List<ExportTraceServiceRequest> received = new CopyOnWriteArrayList<>();
    private final List<Map<String, String>> headers = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicReference<Status> answer = new AtomicReference<>(Status.OK);
    private Server server;
    private final List<AutoCloseable> closing = new ArrayList<>();
    private final io.netty.channel.EventLoopGroup loops = dev.waypoint.transport.EventLoops.newGroup(1, "otlp-test");

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** A real OTLP/gRPC receiver: records each request and its headers, answers {@link #answer}. */
    private String startReceiver() throws Exception {
        TraceServiceGrpc.TraceServiceImplBase service = new TraceServiceGrpc.TraceServiceImplBase() {
            @Override
            public void export(ExportTraceServiceRequest request, StreamObserver<ExportTraceServiceResponse> out) {
                received.add(request);
                Status s = answer.get();
                if (s.isOk()) {
                    out.onNext(ExportTraceServiceResponse.getDefaultInstance());
                    out.onCompleted();
                } else {
                    out.onError(s.asRuntimeException());
                }
            }
        };
        ServerInterceptor capture = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata md, ServerCallHandler<Q, R> next) {
                headers.add(Map.of("content-type", String.valueOf(md.get(Metadata.Key.of("content-type",
                        Metadata.ASCII_STRING_MARSHALLER))), ":authority", String.valueOf(call.getAuthority()),
                        "method", call.getMethodDescriptor().getFullMethodName()));
                return next.startCall(call, md);
            }
        };
        server = NettyServerBuilder.forAddress(new InetSocketAddress(HOST, 0))
                .addService(ServerInterceptors.intercept(service, capture))
                .addTransportFilter(new ServerTransportFilter() {
                    @Override
                    public io.grpc.Attributes transportReady(io.grpc.Attributes attrs) {
                        connections.incrementAndGet();
                        return attrs;
                    }
                }).build().start();
        return HOST + ":" + server.getPort();
    }

    private static List<Span> spans(List<ExportTraceServiceRequest> requests) {
        return requests.stream().flatMap(q -> q.getResourceSpansList().stream())
                .flatMap(rs -> rs.getScopeSpansList().stream()).flatMap(ss -> ss.getSpansList().stream()).toList();
    }

    @Test
    void spansArriveOverGrpcWithParentsAndTagsOnOneConnection() throws Exception {
        String endpoint = startReceiver();
        TracingProviders providers = new TracingProviders("waypoint.istio-system");
        closing.add(providers);
        ExtensionProviderSpec otel = new ExtensionProviderSpec.OpenTelemetry("otel",
                "opentelemetry-collector.observability.svc.cluster.local", 4317, 0, null, null, Map.of());
        TracingSettings settings = new TracingSettings(providers.tracer(otel, endpoint), 100, "test");
        for (int i = 0; i < 2; i++) { // two batches: two calls on one connection
            RequestContext r = Requests.finishedWithTrace(
                    TracingTest.parse("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), null);
            RequestTrace trace = RequestTrace.start(r, settings, "cluster.local");
            trace.started(1, "10.244.0.12:9080", (k, v) -> { });
            trace.ended(1, 200);
            trace.end(r, IstioLabels.values(r, "cluster.local", "Kubernetes"));
            providers.flush(Duration.ofSeconds(10));
            int calls = i + 1;
            await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == calls);
        }

        assertThat(connections.get()).as("connections").isEqualTo(1);
        // (grpc-java keeps te out of the Metadata it hands a service)
        assertThat(headers).first().isEqualTo(Map.of("content-type", "application/grpc",
                ":authority", "opentelemetry-collector.observability.svc.cluster.local:4317",
                "method", "opentelemetry.proto.collector.trace.v1.TraceService/Export"));
        List<Span> spans = spans(received.subList(0, 1));
        assertThat(spans).hasSize(2);
        Span server0 = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_SERVER).findFirst().orElseThrow();
        Span client = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT).findFirst().orElseThrow();
        HexFormat hex = HexFormat.of();
        assertThat(hex.formatHex(server0.getTraceId().toByteArray())).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(hex.formatHex(server0.getParentSpanId().toByteArray())).isEqualTo("00f067aa0ba902b7");
        assertThat(client.getParentSpanId()).isEqualTo(server0.getSpanId());
        assertThat(client.getTraceId()).isEqualTo(server0.getTraceId());
        assertThat(server0.getName()).isEqualTo("reviews.demo.svc.cluster.local:9080/*");
        assertThat(server0.getAttributesList()).anySatisfy(a -> {
            assertThat(a.getKey()).isEqualTo("istio.canonical_service");
            assertThat(a.getValue().getStringValue()).isEqualTo("reviews");
        });
        assertThat(client.getAttributesList()).anySatisfy(a -> {
            assertThat(a.getKey()).isEqualTo("upstream_address");
            assertThat(a.getValue().getStringValue()).isEqualTo("10.244.0.12:9080");
        });
        assertThat(received.get(0).getResourceSpans(0).getResource().getAttributesList()).anySatisfy(a -> {
            assertThat(a.getKey()).isEqualTo("service.name");
            assertThat(a.getValue().getStringValue()).isEqualTo("waypoint.istio-system");
        });
    }

    /** Spans of one finished SDK span, exported through {@code exporter} with a simple processor. */
    private static CompletableResultCode exportOne(SpanExporter exporter) {
        AtomicReference<CompletableResultCode> result = new AtomicReference<>();
        SpanExporter capturing = new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                CompletableResultCode r = exporter.export(spans);
                result.set(r);
                return r;
            }

            @Override
            public CompletableResultCode flush() {
                return exporter.flush();
            }

            @Override
            public CompletableResultCode shutdown() {
                return CompletableResultCode.ofSuccess();
            }
        };
        SdkTracerProvider p = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(capturing)).build();
        p.get("test").spanBuilder("one").startSpan().end();
        p.shutdown().join(5, TimeUnit.SECONDS);
        return result.get();
    }

    @Test
    void aNonOkGrpcStatusIsAFailedExportAndCounted() throws Exception {
        String endpoint = startReceiver();
        answer.set(Status.RESOURCE_EXHAUSTED.withDescription("collector full"));
        OtlpGrpcSpanExporter exporter = new OtlpGrpcSpanExporter(endpoint, "otel:4317", Duration.ofSeconds(10),
                loops.next());
        closing.add(() -> exporter.shutdown().join(5, TimeUnit.SECONDS));

        CompletableResultCode r = exportOne(exporter).join(10, TimeUnit.SECONDS);

        assertThat(received).hasSize(1); // the collector got it, and refused it
        assertThat(r.isDone()).isTrue();
        assertThat(r.isSuccess()).isFalse();
        assertThat(exporter.failedExports()).isEqualTo(1);
        assertThat(exporter.droppedSpans()).isEqualTo(1);
        assertThat(exporter.exports()).isZero();

        answer.set(Status.OK); // the same connection serves the next call, which succeeds
        assertThat(exportOne(exporter).join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
        assertThat(exporter.exports()).isEqualTo(1);
        assertThat(exporter.failedExports()).isEqualTo(1);
        assertThat(connections.get()).isEqualTo(1);
    }

    @Test
    void theProvidersSumTheirExportersFailures() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.232.30.3"))) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        TracingProviders providers = new TracingProviders("waypoint.istio-system");
        closing.add(providers);
        ExtensionProviderSpec otel = new ExtensionProviderSpec.OpenTelemetry("otel", "otel.example", 4317, 0, null, null,
                Map.of());
        TracingSettings settings = new TracingSettings(providers.tracer(otel, "127.232.30.3:" + port), 100, "test");
        RequestContext r = Requests.finishedWithTrace(Map.of(), null);
        RequestTrace trace = RequestTrace.start(r, settings, "cluster.local");
        trace.started(1, "10.244.0.12:9080", (k, v) -> { });
        trace.ended(1, 200);
        trace.end(r, IstioLabels.values(r, "cluster.local", "Kubernetes"));
        providers.flush(Duration.ofSeconds(10));

        await().atMost(Duration.ofSeconds(10)).until(() -> providers.exportFailures() == 1);
        assertThat(providers.droppedSpans()).isEqualTo(2); // the server and the client span
    }

    @Test
    void noCollectorIsAFailedExportAndCounted() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.232.30.2"))) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        OtlpGrpcSpanExporter exporter = new OtlpGrpcSpanExporter("127.232.30.2:" + port, "otel:4317", Duration.ofSeconds(10),
                loops.next());
        closing.add(() -> exporter.shutdown().join(5, TimeUnit.SECONDS));

        CompletableResultCode r = exportOne(exporter).join(10, TimeUnit.SECONDS);

        assertThat(r.isDone()).isTrue();
        assertThat(r.isSuccess()).isFalse();
        assertThat(exporter.failedExports()).isEqualTo(1);
        assertThat(exporter.droppedSpans()).isEqualTo(1);
    }
}
