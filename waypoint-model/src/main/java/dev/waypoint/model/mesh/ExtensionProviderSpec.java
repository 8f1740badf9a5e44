package dev.waypoint.model.mesh;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One entry of MeshConfig {@code extensionProviders}: a name plus exactly one provider kind. The
 * kinds this waypoint reads are typed records; any other kind (stackdriver, datadog, skywalking,
 * envoyOtelAls, ...) is kept as {@link Unsupported} so that a policy naming it can be told apart
 * from a policy naming nothing (Istio's {@code istio/api mesh/v1alpha1/config.proto}).
 */
public sealed interface ExtensionProviderSpec {
    /** The provider's {@code name}, unique within the mesh config; policies and Telemetry refer to it. */
    String name();

    /** The provider kind as written in YAML ({@code envoyExtAuthzHttp}, {@code zipkin}, ...). */
    String kind();

    /**
     * {@code includeRequestBodyInCheck}: the request body is buffered and sent with the check.
     *
     * @param maxRequestBytes the most body bytes buffered (Envoy replies 413 above it unless partial)
     * @param allowPartialMessage send the first {@code maxRequestBytes} instead of rejecting a bigger body
     * @param packAsBytes send the body as raw bytes rather than UTF-8 text (gRPC only)
     */
    record RequestBody(int maxRequestBytes, boolean allowPartialMessage, boolean packAsBytes) {}

    /**
     * {@code envoyExtAuthzHttp}: an HTTP authorization server (Envoy's ext_authz HTTP service).
     *
     * @param service the provider's hostname ({@code name.ns.svc.cluster.local} or {@code ns/name})
     * @param port the service port
     * @param timeout how long the check may take (Istio's default: 600s)
     * @param pathPrefix prepended to the request path in the check request (default empty)
     * @param failOpen let the request through when the provider cannot be reached or times out
     * @param statusOnError the status sent when the provider fails and not {@code failOpen} (default 403)
     * @param includeRequestHeadersInCheck request headers copied into the check request (lower case)
     * @param includeAdditionalHeadersInCheck headers added to the check request
     * @param includeRequestBody the body settings, or null when the body is not sent
     * @param headersToUpstreamOnAllow check-response headers copied to the upstream request on allow
     * @param headersToDownstreamOnAllow check-response headers copied to the client's response on allow
     * @param headersToDownstreamOnDeny check-response headers copied to the client's response on deny
     */
    record EnvoyExtAuthzHttp(String name, String service, int port, Duration timeout, String pathPrefix,
                             boolean failOpen, int statusOnError, List<String> includeRequestHeadersInCheck,
                             Map<String, String> includeAdditionalHeadersInCheck, RequestBody includeRequestBody,
                             List<String> headersToUpstreamOnAllow, List<String> headersToDownstreamOnAllow,
                             List<String> headersToDownstreamOnDeny) implements ExtensionProviderSpec {
        public EnvoyExtAuthzHttp {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(service, "service");
            Objects.requireNonNull(timeout, "timeout");
            pathPrefix = pathPrefix == null ? "" : pathPrefix;
            includeRequestHeadersInCheck = List.copyOf(includeRequestHeadersInCheck);
            includeAdditionalHeadersInCheck = Map.copyOf(includeAdditionalHeadersInCheck);
            headersToUpstreamOnAllow = List.copyOf(headersToUpstreamOnAllow);
            headersToDownstreamOnAllow = List.copyOf(headersToDownstreamOnAllow);
            headersToDownstreamOnDeny = List.copyOf(headersToDownstreamOnDeny);
        }

        @Override
        public String kind() {
            return "envoyExtAuthzHttp";
        }
    }

    /**
     * {@code envoyExtAuthzGrpc}: a gRPC {@code envoy.service.auth.v3.Authorization/Check} server.
     *
     * @param service the provider's hostname ({@code name.ns.svc.cluster.local} or {@code ns/name})
     * @param port the service port
     * @param timeout how long the check may take (Istio's default: 600s)
     * @param failOpen let the request through when the provider cannot be reached or times out
     * @param statusOnError the status sent when the provider fails and not {@code failOpen} (default 403)
     * @param includeRequestBody the body settings, or null when the body is not sent
     */
    record EnvoyExtAuthzGrpc(String name, String service, int port, Duration timeout, boolean failOpen,
                             int statusOnError, RequestBody includeRequestBody) implements ExtensionProviderSpec {
        public EnvoyExtAuthzGrpc {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(service, "service");
            Objects.requireNonNull(timeout, "timeout");
        }

        @Override
        public String kind() {
            return "envoyExtAuthzGrpc";
        }
    }

    /**
     * {@code zipkin}: a Zipkin trace collector.
     *
     * @param maxTagLength the longest tag value sent (0: Envoy's default, 256)
     * @param enable64bitTraceId 64-bit instead of 128-bit trace ids
     */
    record Zipkin(String name, String service, int port, int maxTagLength, boolean enable64bitTraceId)
            implements ExtensionProviderSpec {
        public Zipkin {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(service, "service");
        }

        @Override
        public String kind() {
            return "zipkin";
        }
    }

    /**
     * {@code opentelemetry}: an OTLP trace collector, over gRPC unless {@code httpPath} is set.
     *
     * @param maxTagLength the longest tag value sent (0: the default)
     * @param httpPath OTLP/HTTP path ({@code http.path}, default {@code /v1/traces} when {@code http}
     *        is present), or null for OTLP/gRPC
     * @param httpTimeout OTLP/HTTP timeout ({@code http.timeout}), or null for the default
     * @param httpHeaders OTLP/HTTP headers with literal values ({@code http.headers[].value})
     */
    record OpenTelemetry(String name, String service, int port, int maxTagLength, String httpPath,
                         Duration httpTimeout, Map<String, String> httpHeaders) implements ExtensionProviderSpec {
        public OpenTelemetry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(service, "service");
            httpHeaders = Map.copyOf(httpHeaders);
        }

        @Override
        public String kind() {
            return "opentelemetry";
        }
    }

    /**
     * {@code envoyFileAccessLog}: access log lines written to a file.
     *
     * @param path the file ({@code /dev/stdout} when not set)
     * @param textFormat {@code logFormat.text}, or null
     * @param labels {@code logFormat.labels} (JSON output), values as written; empty when not JSON
     */
    record EnvoyFileAccessLog(String name, String path, String textFormat, Map<String, String> labels)
            implements ExtensionProviderSpec {
        public EnvoyFileAccessLog {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(path, "path");
            labels = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(labels));
        }

        @Override
        public String kind() {
            return "envoyFileAccessLog";
        }
    }

    /** {@code prometheus}: metrics scraped from the stats endpoint (no settings). */
    record Prometheus(String name) implements ExtensionProviderSpec {
        public Prometheus {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public String kind() {
            return "prometheus";
        }
    }

    /** A provider kind this waypoint does not implement; kept by name, reported as a note. */
    record Unsupported(String name, String kind) implements ExtensionProviderSpec {
        public Unsupported {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(kind, "kind");
        }
    }
}
