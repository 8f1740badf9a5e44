package dev.waypoint.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.request.RequestContext;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.trace.v1.Span;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The {@code opentelemetry} provider over OTLP/HTTP: the SDK exporter (JDK sender) posts
 * protobuf to {@code http.path} with the provider's headers; a receiver decodes it with the OTLP
 * protos and finds the server and client spans with their parent link and Istio's tags.
 * Loopback 127.150.30.1.
 */
class OtlpExportTest {
    @Test
    void spansArriveAsOtlpProtobufWithParentsAndTags() throws Exception {
        List<ExportTraceServiceRequest> received = new CopyOnWriteArrayList<>();
        List<String> seen = new CopyOnWriteArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.150.30.1", 0), 0);
        server.createContext("/otlp/v1/traces", ex -> {
            seen.add(ex.getRequestMethod() + " " + ex.getRequestHeaders().getFirst("Content-Type") + " "
                    + ex.getRequestHeaders().getFirst("X-Tenant"));
            received.add(ExportTraceServiceRequest.parseFrom(ex.getRequestBody().readAllBytes()));
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        server.start();
        TracingProviders providers = new TracingProviders("waypoint.istio-system");
        try {
            String endpoint = "127.150.30.1:" + server.getAddress().getPort();
            ExtensionProviderSpec otel = new ExtensionProviderSpec.OpenTelemetry("otel", "otel.example", 4318, 0,
                    "/otlp/v1/traces", null, Map.of("X-Tenant", "mesh"));
            TracingSettings settings = new TracingSettings(providers.tracer(otel, endpoint), 100, "test");
            RequestContext r = Requests.finishedWithTrace(
                    TracingTest.parse("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), null);
            RequestTrace trace = RequestTrace.start(r, settings, "cluster.local");
            trace.started(1, "10.244.0.12:9080", (k, v) -> { });
            trace.ended(1, 200);
            trace.end(r, IstioLabels.values(r, "cluster.local", "Kubernetes"));
            providers.flush(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(10)).until(() -> received.stream()
                    .mapToLong(q -> q.getResourceSpansList().stream().flatMap(rs -> rs.getScopeSpansList().stream())
                            .mapToLong(ss -> ss.getSpansCount()).sum()).sum() == 2);
        } finally {
            providers.close();
            server.stop(0);
        }
        assertThat(seen).first().isEqualTo("POST application/x-protobuf mesh");
        List<Span> spans = received.stream().flatMap(q -> q.getResourceSpansList().stream())
                .flatMap(rs -> rs.getScopeSpansList().stream()).flatMap(ss -> ss.getSpansList().stream()).toList();
        Span server0 = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_SERVER).findFirst().orElseThrow();
        Span client = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT).findFirst().orElseThrow();
        HexFormat hex = HexFormat.of();
        assertThat(hex.formatHex(server0.getTraceId().toByteArray())).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
        assertThat(hex.formatHex(server0.getParentSpanId().toByteArray())).isEqualTo("00f067aa0ba902b7");
        assertThat(client.getParentSpanId()).isEqualTo(server0.getSpanId());
        assertThat(server0.getName()).isEqualTo("reviews.demo.svc.cluster.local:9080/*");
        assertThat(server0.getAttributesList()).anySatisfy(a -> {
            assertThat(a.getKey()).isEqualTo("istio.canonical_service");
            assertThat(a.getValue().getStringValue()).isEqualTo("reviews");
        });
        assertThat(received.get(0).getResourceSpans(0).getResource().getAttributesList()).anySatisfy(a -> {
            assertThat(a.getKey()).isEqualTo("service.name");
            assertThat(a.getValue().getStringValue()).isEqualTo("waypoint.istio-system");
        });
    }
}
