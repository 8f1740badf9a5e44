package dev.waypoint.telemetry;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports spans as Zipkin v2 JSON ({@code POST /api/v2/spans}), as Envoy's Zipkin tracer for an
 * Istio {@code zipkin} provider: {@code traceId}, {@code id}, {@code parentId}, {@code name},
 * {@code kind}, {@code timestamp} and {@code duration} in microseconds, {@code localEndpoint}
 * with the proxy's service name, {@code tags} as strings. Sent with the JDK HttpClient from the
 * batch processor's thread, never an event loop. Written here instead of pulling zipkin-reporter
 * and its senders: the v2 JSON is a few fields.
 */
final class ZipkinJsonExporter implements SpanExporter, TracingProviders.ExportCounts {
    private static final Logger log = LoggerFactory.getLogger(ZipkinJsonExporter.class);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI uri;
    private final String serviceName;
    private final int maxTagLength;
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong droppedSpans = new AtomicLong();

    /**
     * @param endpoint {@code host:port} of the collector
     * @param maxTagLength the longest tag value sent (0: Envoy's 256)
     */
    ZipkinJsonExporter(String endpoint, String serviceName, int maxTagLength) {
        this.uri = URI.create("http://" + endpoint + "/api/v2/spans");
        this.serviceName = serviceName;
        this.maxTagLength = maxTagLength <= 0 ? 256 : maxTagLength;
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
        String body = json(spans, serviceName, maxTagLength);
        int count = spans.size(); // the batch processor reuses its list once the call returns
        CompletableResultCode result = new CompletableResultCode();
        http.sendAsync(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.discarding()).whenComplete((r, e) -> {
                    if (e == null && r.statusCode() / 100 == 2) {
                        result.succeed();
                    } else {
                        droppedSpans.addAndGet(count);
                        if (failures.getAndIncrement() == 0) {
                            log.warn("zipkin export to {} failed: {}", uri, e != null ? e.toString() : "HTTP " + r.statusCode());
                        }
                        result.fail();
                    }
                });
        return result;
    }

    /** The Zipkin v2 JSON list for {@code spans}. Pure. */
    static String json(Collection<SpanData> spans, String serviceName, int maxTagLength) {
        StringBuilder b = new StringBuilder(512 * spans.size());
        b.append('[');
        boolean first = true;
        for (SpanData s : spans) {
            if (!first) {
                b.append(',');
            }
            first = false;
            b.append("{\"traceId\":\"").append(s.getTraceId()).append("\",\"id\":\"").append(s.getSpanId()).append('"');
            if (s.getParentSpanContext().isValid()) {
                b.append(",\"parentId\":\"").append(s.getParentSpanId()).append('"');
            }
            b.append(",\"name\":");
            AccessLogFormat.FlatJson.quote(b, s.getName());
            if (s.getKind() == SpanKind.SERVER || s.getKind() == SpanKind.CLIENT) {
                b.append(",\"kind\":\"").append(s.getKind().name()).append('"');
            }
            long startMicros = s.getStartEpochNanos() / 1000;
            b.append(",\"timestamp\":").append(startMicros)
                    .append(",\"duration\":").append(Math.max(1, s.getEndEpochNanos() / 1000 - startMicros))
                    .append(",\"localEndpoint\":{\"serviceName\":");
            AccessLogFormat.FlatJson.quote(b, serviceName);
            b.append("},\"tags\":{");
            boolean firstTag = true;
            for (Map.Entry<AttributeKey<?>, Object> a : s.getAttributes().asMap().entrySet()) {
                if (!firstTag) {
                    b.append(',');
                }
                firstTag = false;
                AccessLogFormat.FlatJson.quote(b, a.getKey().getKey());
                b.append(':');
                String v = String.valueOf(a.getValue());
                AccessLogFormat.FlatJson.quote(b, v.length() > maxTagLength ? v.substring(0, maxTagLength) : v);
            }
            b.append("}}");
        }
        return b.append(']').toString();
    }

    @Override
    public long failedExports() {
        return failures.get();
    }

    @Override
    public long droppedSpans() {
        return droppedSpans.get();
    }

    @Override
    public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
    }
}
