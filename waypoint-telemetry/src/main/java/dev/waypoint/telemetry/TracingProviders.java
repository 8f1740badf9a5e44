package dev.waypoint.telemetry;

import dev.waypoint.model.mesh.ExtensionProviderSpec;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporterBuilder;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The trace exporters, one OpenTelemetry {@link SdkTracerProvider} (a batch processor and its
 * exporter) per collector, made when a snapshot first names it and kept for the life of the
 * server. The sampling decision is the telemetry stage's ({@link RequestTrace}); the SDK's
 * sampler records what it is given.
 */
public final class TracingProviders implements AutoCloseable {
    private final Map<String, SdkTracerProvider> providers = new ConcurrentHashMap<>();
    /** The exporters that count their failures (OTLP/gRPC, Zipkin); the SDK's OTLP/HTTP one does not. */
    private final java.util.List<ExportCounts> counted = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** An exporter's failed calls and the spans in them. */
    interface ExportCounts {
        long failedExports();

        long droppedSpans();
    }
    private final String serviceName;
    /** OTLP/gRPC exporters' event loop; null until one is made. */
    private io.netty.channel.EventLoopGroup grpcGroup;

    /** @param serviceName the proxy's service name in spans ({@code waypoint.istio-system}, as Istio's {@code <canonical name>.<namespace>}) */
    public TracingProviders(String serviceName) {
        this.serviceName = serviceName;
    }

    /** The tracer exporting to {@code provider} at {@code endpoint} ({@code host:port}). */
    Tracer tracer(ExtensionProviderSpec provider, String endpoint) {
        String key = provider.kind() + " " + endpoint + " " + (provider instanceof ExtensionProviderSpec.OpenTelemetry o
                ? (o.httpPath() == null ? "grpc " + authority(o) : o.httpPath() + " " + o.httpHeaders()) : "");
        return providers.computeIfAbsent(key, k -> build(exporter(provider, endpoint))).get("waypoint");
    }

    private SpanExporter exporter(ExtensionProviderSpec provider, String endpoint) {
        if (provider instanceof ExtensionProviderSpec.Zipkin z) {
            ZipkinJsonExporter e = new ZipkinJsonExporter(endpoint, serviceName, z.maxTagLength());
            counted.add(e);
            return e;
        }
        ExtensionProviderSpec.OpenTelemetry o = (ExtensionProviderSpec.OpenTelemetry) provider;
        if (o.httpPath() == null) {
            // no http block: OTLP over gRPC (Istio's tracing.go gives Envoy a grpc_service then)
            OtlpGrpcSpanExporter e = new OtlpGrpcSpanExporter(endpoint, authority(o), OtlpGrpcSpanExporter.DEFAULT_TIMEOUT,
                    grpcLoop());
            counted.add(e);
            return e;
        }
        OtlpHttpSpanExporterBuilder b = OtlpHttpSpanExporter.builder()
                .setEndpoint("http://" + endpoint + (o.httpPath() == null ? "/v1/traces" : o.httpPath()));
        if (o.httpTimeout() != null) {
            b.setTimeout(o.httpTimeout());
        }
        o.httpHeaders().forEach(b::addHeader);
        return b.build();
    }

    /** The one event loop all OTLP/gRPC exporters call on, made when the first one is (not a data-plane loop). */
    private synchronized io.netty.channel.EventLoop grpcLoop() {
        if (grpcGroup == null) {
            grpcGroup = dev.waypoint.transport.EventLoops.newGroup(1, "otlp-grpc");
        }
        return grpcGroup.next();
    }

    /** The {@code :authority} of OTLP/gRPC calls: the provider's service host and port, as written. */
    private static String authority(ExtensionProviderSpec.OpenTelemetry o) {
        return o.service() + ":" + o.port();
    }

    private SdkTracerProvider build(SpanExporter exporter) {
        return SdkTracerProvider.builder()
                .setResource(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), serviceName)))
                .setSampler(Sampler.alwaysOn())
                .addSpanProcessor(BatchSpanProcessor.builder(exporter).setScheduleDelay(Duration.ofMillis(500)).build())
                .build();
    }

    /** Span export calls that failed, over the exporters that count them (OTLP/gRPC, Zipkin). */
    public long exportFailures() {
        return counted.stream().mapToLong(ExportCounts::failedExports).sum();
    }

    /** Spans in failed export calls, over the same exporters (the batch queue's own drops are the SDK's). */
    public long droppedSpans() {
        return counted.stream().mapToLong(ExportCounts::droppedSpans).sum();
    }

    /** Exports what is queued (tests), waiting up to {@code timeout}. */
    public void flush(Duration timeout) {
        for (SdkTracerProvider p : providers.values()) {
            p.forceFlush().join(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void close() {
        for (SdkTracerProvider p : providers.values()) {
            p.shutdown().join(5, TimeUnit.SECONDS);
        }
        synchronized (this) {
            if (grpcGroup != null) {
                grpcGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }
}
