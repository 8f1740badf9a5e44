package dev.waypoint.model.gateway;

import java.util.List;
import java.util.Objects;

/**
 * One {@code HTTPRouteMatch} (or a {@code GRPCRouteMatch}, see {@link #grpcMethod}): every present field must match (AND). A match without a path was
 * given the CRD default ({@code PathPrefix /}) at translation.
 *
 * @param method the HTTP method, or null for any
 * @param grpcMethod the GRPCRoute method match this match was translated from, or null
 */
public record RouteMatchSpec(PathMatch path, List<ValueMatch> headers, List<ValueMatch> queryParams, String method,
                             GrpcMethodMatch grpcMethod) {
    public RouteMatchSpec {
        Objects.requireNonNull(path, "path");
        headers = List.copyOf(headers);
        queryParams = List.copyOf(queryParams);
    }

    /** An {@code HTTPRouteMatch} (no gRPC method). */
    public RouteMatchSpec(PathMatch path, List<ValueMatch> headers, List<ValueMatch> queryParams, String method) {
        this(path, headers, queryParams, method, null);
    }

    /**
     * A {@code GRPCRouteMatch.method}, kept for precedence ("characters in a matching service, then
     * in a matching method"); the translator also expresses it as the {@link #path} match on
     * {@code /<service>/<method>} that the router evaluates, as Istio does.
     *
     * @param service the service, or null for any
     * @param method the method, or null for any
     */
    public record GrpcMethodMatch(ValueType type, String service, String method) {
        public GrpcMethodMatch {
            Objects.requireNonNull(type, "type");
        }
    }

    /** The default match: {@code PathPrefix /}. */
    public static RouteMatchSpec any() {
        return new RouteMatchSpec(new PathMatch(PathType.PATH_PREFIX, "/"), List.of(), List.of(), null);
    }

    /** {@code path.type}. */
    public enum PathType { EXACT, PATH_PREFIX, REGULAR_EXPRESSION }

    /** {@code Exact} and {@code RegularExpression} for headers and query parameters. */
    public enum ValueType { EXACT, REGULAR_EXPRESSION }

    /** {@code path}. */
    public record PathMatch(PathType type, String value) {
        public PathMatch {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(value, "value");
        }
    }

    /** One {@code headers[]} or {@code queryParams[]} entry. */
    public record ValueMatch(ValueType type, String name, String value) {
        public ValueMatch {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
        }
    }
}
