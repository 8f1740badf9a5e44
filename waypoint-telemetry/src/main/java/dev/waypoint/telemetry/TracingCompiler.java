package dev.waypoint.telemetry;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;

/**
 * Compiles tracing for a snapshot from the mesh config, as Istio without a Telemetry resource:
 * the first of {@code defaultProviders.tracing} names an {@code extensionProviders} entry of
 * kind {@code zipkin} (Zipkin v2 JSON to {@code /api/v2/spans}) or {@code opentelemetry}
 * (OTLP/HTTP protobuf to {@code http.path}, default {@code /v1/traces}, when {@code http} is set;
 * else OTLP/gRPC, {@link OtlpGrpcSpanExporter}); sampling is
 * {@code defaultConfig.tracing.sampling} percent (Istio's default 1); {@code enableTracing:
 * false} turns it off. The provider's {@code service} ({@code name.ns.svc.<domain>} or
 * {@code ns/name}) is resolved from the config like any upstream: a ready pod the Service
 * selects, at the port's target; a host that is no Service here is used as written (DNS).
 * Problems (an unknown provider, a kind that is no tracer) are warnings: tracing is
 * off for the generation and traffic is untouched.
 */
public final class TracingCompiler implements PartCompiler<TracingSettings> {
    /** Istio's default {@code defaultConfig.tracing.sampling}, percent. */
    static final double DEFAULT_SAMPLING = 1.0;

    private final TracingProviders providers;
    private final String clusterDomain;

    public TracingCompiler(TracingProviders providers, String clusterDomain) {
        this.providers = providers;
        this.clusterDomain = clusterDomain;
    }

    @Override
    public SnapshotPart<TracingSettings> part() {
        return TracingSettings.PART;
    }

    @Override
    public TracingSettings compile(ResourceSet resources, Diagnostics diagnostics) {
        MeshConfigSpec mesh = resources.meshConfig();
        if (Boolean.FALSE.equals(mesh.enableTracing()) || mesh.defaultProviders().tracing().isEmpty()) {
            return TracingSettings.OFF;
        }
        String name = mesh.defaultProviders().tracing().get(0);
        ExtensionProviderSpec p = mesh.provider(name);
        String service;
        int port;
        if (p instanceof ExtensionProviderSpec.Zipkin z) {
            service = z.service();
            port = z.port();
        } else if (p instanceof ExtensionProviderSpec.OpenTelemetry o) { // OTLP/HTTP with http, else OTLP/gRPC
            service = o.service();
            port = o.port();
        } else {
            diagnostics.warning(mesh.source(), "MeshConfig", null, "defaultProviders.tracing",
                    p == null ? "no extensionProvider named " + name + "; no tracing"
                            : "provider " + name + " (" + p.kind() + ") is not a tracer this waypoint supports; no tracing");
            return TracingSettings.OFF;
        }
        String endpoint = resolve(resources, service, port);
        double sampling = mesh.tracingSampling() != null ? mesh.tracingSampling() : DEFAULT_SAMPLING;
        String kind = p instanceof ExtensionProviderSpec.OpenTelemetry o
                ? (o.httpPath() == null ? "opentelemetry, OTLP/gRPC" : "opentelemetry, OTLP/HTTP") : p.kind();
        return new TracingSettings(providers.tracer(p, endpoint), sampling,
                name + " (" + kind + ") -> " + endpoint + ", sampling " + sampling + "%");
    }

    /** {@code service:port} to {@code ip:port} of a ready pod of that Service, else as written. */
    String resolve(ResourceSet resources, String service, int port) {
        String ns;
        String svcName;
        int slash = service.indexOf('/');
        String suffix = ".svc." + clusterDomain;
        if (slash > 0) {
            ns = service.substring(0, slash);
            svcName = service.substring(slash + 1);
        } else if (service.endsWith(suffix) && service.substring(0, service.length() - suffix.length()).indexOf('.') > 0) {
            String head = service.substring(0, service.length() - suffix.length());
            int dot = head.indexOf('.');
            svcName = head.substring(0, dot);
            ns = head.substring(dot + 1);
        } else {
            return service + ":" + port;
        }
        for (ServiceSpec s : resources.services()) {
            if (!s.name().name().equals(svcName) || !s.name().namespace().equals(ns) || s.selector() == null) {
                continue;
            }
            for (ServicePortSpec sp : s.ports()) {
                if (sp.port() != port) {
                    continue;
                }
                for (PodSpec pod : resources.pods()) {
                    if (pod.ip() == null || !pod.healthy() || !pod.name().namespace().equals(ns)
                            || !pod.labels().entrySet().containsAll(s.selector().entrySet())) {
                        continue;
                    }
                    int target = sp.targetPortName() != null ? pod.namedPorts().getOrDefault(sp.targetPortName(), 0)
                            : sp.targetPortNumber();
                    if (target > 0) {
                        return new dev.waypoint.model.mesh.HostPort(pod.ip(), target).authority();
                    }
                }
            }
        }
        return (slash > 0 ? svcName + "." + ns + suffix : service) + ":" + port;
    }
}
