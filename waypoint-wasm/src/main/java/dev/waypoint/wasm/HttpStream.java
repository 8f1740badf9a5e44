package dev.waypoint.wasm;

import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestContext;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One HTTP context of one plugin VM: a request as the plugin sees it. What the plugin decided
 * (a local reply, a pause) is left here for the wasm filter to act on.
 *
 * <h2>Threading</h2>
 * Confined to the event loop of the request (which is the loop of the VM).
 */
final class HttpStream {
    final int id;
    /** The request, or null when driven without the data path (host tests, benchmarks). */
    final RequestContext request;
    final HeadersView requestHeaders;
    HeadersView requestTrailers;
    HeadersView responseHeaders;
    HeadersView responseTrailers;
    int responseStatus;
    /** The body chunk of the current body callback, as the plugin may rewrite it. */
    byte[] requestBody = new byte[0];
    byte[] responseBody = new byte[0];

    /** Body bytes this plugin held back (it answered Pause to a body callback), or null. */
    byte[] heldRequestBody;
    byte[] heldResponseBody;

    /** Set by {@code proxy_send_local_response}: status, details, body, extra headers. */
    LocalReply localReply;
    /** Completed (after the callback that asked) by {@code proxy_continue_stream}; null unless paused. */
    CompletableFuture<Void> resumed;
    /** {@code proxy_on_done} already ran. */
    boolean done;

    HttpStream(int id, RequestContext request, HeadersView requestHeaders) {
        this.id = id;
        this.request = request;
        this.requestHeaders = requestHeaders;
    }

    /** What {@code proxy_send_local_response} asked for. */
    record LocalReply(int status, String details, byte[] body, List<Map.Entry<String, String>> headers, int grpcStatus) {}
}
