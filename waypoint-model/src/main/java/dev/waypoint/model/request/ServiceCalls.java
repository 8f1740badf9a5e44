package dev.waypoint.model.request;

import dev.waypoint.model.mesh.NamespacedName;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * A capability a stage is handed to make its own HTTP call to a Service of the mesh (an ext_authz
 * provider), reached like any other upstream: an endpoint of the Service port is picked from the
 * request's snapshot, mesh endpoints through an outbound HBONE tunnel, the rest in plaintext.
 * Implemented by the upstream module; stages see only this interface (they depend on the model
 * alone).
 *
 * <h2>Threading</h2>
 * {@link #call} is made on the request's event loop and never blocks it; the returned stage
 * completes on that same event loop, so its callbacks may touch the {@link RequestContext}.
 */
public interface ServiceCalls {
    /**
     * Sends {@code call} and buffers the whole response (at most {@link Call#maxResponseBytes}).
     *
     * @return the response; completes exceptionally with a {@link RejectedException} when no
     *         endpoint could be reached, the exchange failed, the response was too big, or the
     *         timeout passed ({@link Rejection.Reason#REQUEST_TIMEOUT})
     */
    CompletionStage<Response> call(RequestContext request, Call call);

    /** A capability that refuses every call (validation, {@code explain}: nothing is sent). */
    static ServiceCalls refusing(String why) {
        return (request, call) -> java.util.concurrent.CompletableFuture.failedFuture(
                new RejectedException(new Rejection(Rejection.Reason.UPSTREAM_REFUSED, why)));
    }

    /**
     * One request.
     *
     * @param service the Service whose port is called
     * @param port the Service port
     * @param h2 HTTP/2 with prior knowledge (h2c; gRPC), else HTTP/1.1
     * @param method the request method
     * @param path the request target (origin form)
     * @param authority the {@code Host} / {@code :authority}
     * @param headers the other request headers, lower-case names, in order (repeats allowed)
     * @param body the request body (may be empty)
     * @param timeout from the call to the end of the response
     * @param maxResponseBytes the largest response body accepted
     */
    record Call(NamespacedName service, int port, boolean h2, String method, String path, String authority,
                List<Map.Entry<String, String>> headers, byte[] body, Duration timeout, int maxResponseBytes) {
        public Call {
            Objects.requireNonNull(service, "service");
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(authority, "authority");
            headers = List.copyOf(headers);
            Objects.requireNonNull(body, "body");
            Objects.requireNonNull(timeout, "timeout");
        }
    }

    /**
     * One response.
     *
     * @param status the HTTP status
     * @param headers response headers, lower-case names, in order
     * @param body the whole body
     * @param trailers the trailers (gRPC's {@code grpc-status}), lower-case names; empty when none
     */
    record Response(int status, List<Map.Entry<String, String>> headers, byte[] body,
                    List<Map.Entry<String, String>> trailers) {
        public Response {
            headers = List.copyOf(headers);
            Objects.requireNonNull(body, "body");
            trailers = List.copyOf(trailers);
        }

        /** The first value of header {@code name} (lower case), or null. */
        public String header(String name) {
            for (Map.Entry<String, String> e : headers) {
                if (e.getKey().equals(name)) {
                    return e.getValue();
                }
            }
            return null;
        }

        /** The first value of trailer {@code name} (lower case), else of the header: gRPC's trailers-only responses. */
        public String trailer(String name) {
            for (Map.Entry<String, String> e : trailers) {
                if (e.getKey().equals(name)) {
                    return e.getValue();
                }
            }
            return header(name);
        }
    }
}
