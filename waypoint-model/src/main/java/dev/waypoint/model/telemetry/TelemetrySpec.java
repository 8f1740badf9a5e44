package dev.waypoint.model.telemetry;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.security.PolicyTargetRef;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@code telemetry.istio.io/v1} (or {@code v1alpha1}) Telemetry, validated. CEL expressions
 * ({@code tagOverrides.value}, {@code filter.expression}) are kept as written; the telemetry
 * compiler compiles them once per snapshot.
 *
 * <p>At a waypoint (Istio {@code pilot/pkg/model/telemetry.go}, {@code applicableTelemetries}):
 * the first namespace-wide object (no selector, no targetRefs) of the root namespace, of the
 * waypoint's namespace and of the called Service's namespace apply, in that order, then the
 * objects of the Service's namespace whose targetRefs attach ({@link PolicyTargetRef#attaches}).
 * Selector-based objects apply to sidecars, not here.
 *
 * @param targetRefs {@code targetRefs} with the singular {@code targetRef} folded in
 * @param hasSelector whether {@code selector} was set
 */
public record TelemetrySpec(NamespacedName name, List<PolicyTargetRef> targetRefs, boolean hasSelector,
                            List<Metrics> metrics, List<Tracing> tracing, List<AccessLogging> accessLogging,
                            SourceRef source) {
    public TelemetrySpec {
        Objects.requireNonNull(name, "name");
        targetRefs = List.copyOf(targetRefs);
        metrics = List.copyOf(metrics);
        tracing = List.copyOf(tracing);
        accessLogging = List.copyOf(accessLogging);
        Objects.requireNonNull(source, "source");
    }

    /** Whether this object's targetRefs attach it to calls of a Service ({@link PolicyTargetRef#attaches}). */
    public boolean attaches(String serviceNamespace, String serviceName, String waypointNamespace, String waypointName,
                            String rootNamespace) {
        return PolicyTargetRef.attaches(targetRefs, name.namespace(), serviceNamespace, serviceName, waypointNamespace,
                waypointName, rootNamespace);
    }

    /** Namespace-wide: neither selector nor targetRefs. */
    public boolean namespaceWide() {
        return !hasSelector && targetRefs.isEmpty();
    }

    /** {@code WorkloadMode}: which side of a call a setting is for. A waypoint reports as {@code SERVER}. */
    public enum Mode { CLIENT_AND_SERVER, CLIENT, SERVER;
        /** Whether a setting of this mode applies at a waypoint (Istio: the inbound class, {@code SERVER}). */
        public boolean atWaypoint() {
            return this != CLIENT;
        }
    }

    /** Istio's standard metrics as {@code MetricSelector.IstioMetric} names them. */
    public enum Metric {
        REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE, RESPONSE_SIZE, TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS,
        TCP_SENT_BYTES, TCP_RECEIVED_BYTES, GRPC_REQUEST_MESSAGES, GRPC_RESPONSE_MESSAGES
    }

    /**
     * One {@code metrics[]} entry.
     *
     * @param reportingInterval {@code reportingInterval} (Istio: the stats filter's
     *        {@code tcp_reporting_duration}, how often open TCP connections report their bytes), or
     *        null when not set
     */
    public record Metrics(List<String> providers, List<MetricsOverride> overrides,
                          java.time.Duration reportingInterval) {
        public Metrics {
            providers = List.copyOf(providers);
            overrides = List.copyOf(overrides);
        }

        /** An entry without {@code reportingInterval}. */
        public Metrics(List<String> providers, List<MetricsOverride> overrides) {
            this(providers, overrides, null);
        }
    }

    /**
     * One {@code overrides[]} entry.
     *
     * @param metric the metric matched, or null for {@code ALL_METRICS} (also when {@code match} is unset)
     * @param disabled {@code disabled}, or null when not set
     * @param tagOverrides {@code tagOverrides} by label name
     */
    public record MetricsOverride(Metric metric, Mode mode, Boolean disabled, Map<String, TagOverride> tagOverrides) {
        public MetricsOverride {
            Objects.requireNonNull(mode, "mode");
            tagOverrides = Map.copyOf(tagOverrides);
        }
    }

    /** {@code UPSERT} with a CEL {@code value}, or {@code REMOVE} ({@code value} null). */
    public record TagOverride(boolean remove, String value) {}

    /**
     * One {@code tracing[]} entry; null fields were not set (and inherit).
     *
     * @param customTags null when not set (a set map replaces the parent's, as Istio's shallow merge)
     */
    public record Tracing(List<String> providers, Mode mode, Double randomSamplingPercentage,
                          Boolean disableSpanReporting, Map<String, CustomTag> customTags) {
        public Tracing {
            providers = List.copyOf(providers);
            Objects.requireNonNull(mode, "mode");
            customTags = customTags == null ? null : Map.copyOf(customTags);
        }
    }

    /** A {@code customTags} value: a {@code literal}, a request {@code header} or an {@code environment} variable. */
    public record CustomTag(Kind kind, String value, String defaultValue) {
        public enum Kind { LITERAL, HEADER, ENVIRONMENT }

        public CustomTag {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(value, "value");
        }
    }

    /**
     * One {@code accessLogging[]} entry.
     *
     * @param disabled {@code disabled}, or null when not set
     * @param filter {@code filter.expression} (CEL), or null
     */
    public record AccessLogging(List<String> providers, Mode mode, Boolean disabled, String filter) {
        public AccessLogging {
            providers = List.copyOf(providers);
            Objects.requireNonNull(mode, "mode");
        }
    }
}
