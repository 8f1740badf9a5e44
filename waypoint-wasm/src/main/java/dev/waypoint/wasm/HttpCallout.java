package dev.waypoint.wasm;

import dev.waypoint.model.request.RequestContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * {@code proxy_http_call}: a request a plugin sends to a mesh Service, named as Envoy names the
 * cluster ({@code outbound|PORT||HOST}, HOST the Service's {@code name.namespace.svc.cluster.local}).
 * Implemented by the server over the upstream stage (endpoint pick, outbound HBONE), so the wasm
 * stage depends on no other stage.
 *
 * <h2>Threading</h2>
 * Called on the event loop of {@code origin}; the result completes on that same loop.
 */
public interface HttpCallout {
    /**
     * Sends one request.
     *
     * @param origin the request whose plugin calls out (its tunnel and snapshot are used)
     * @param headers the request headers, with {@code :method}, {@code :path} and {@code :authority}
     * @return the response, or a failure (unknown cluster, no endpoint, timeout, reset)
     */
    CompletionStage<Response> call(RequestContext origin, String cluster, List<Map.Entry<String, String>> headers,
                                   byte[] body, Duration timeout);

    /** What came back. */
    record Response(int status, List<Map.Entry<String, String>> headers, byte[] body,
                    List<Map.Entry<String, String>> trailers) {
        public Response {
            headers = List.copyOf(headers);
            Objects.requireNonNull(body, "body");
            trailers = List.copyOf(trailers);
        }
    }
}
