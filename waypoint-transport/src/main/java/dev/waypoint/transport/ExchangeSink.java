package dev.waypoint.transport;

import dev.waypoint.model.request.Rejection;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;

/**
 * Where the upstream stage delivers one request's response: implemented by the exchange handler,
 * which owns the client side (ordering, keep-alive, local replies, the outcome). Every method on
 * the request's event loop; a sink whose request is over ignores (and releases) what still comes.
 */
public interface ExchangeSink {
    /** Whether the client can take more response bytes now (else wait for {@link UpstreamCall#responseWritable()}). */
    boolean isWritable();

    /**
     * A response head: an informational one (1xx, passed on as is) or the final one. May also be
     * a full response. Ownership moves to the sink. Hop-by-hop headers are already removed.
     */
    void responseHead(HttpResponse head);

    /** A piece of the response body; {@link io.netty.handler.codec.http.LastHttpContent} ends the response. */
    void responseContent(HttpContent content);

    /** The end of a burst of response reads: flush toward the client. */
    void responseFlush();

    /** The upstream can take request body again. */
    void requestWritable();

    /**
     * The exchange failed and will not be retried: before the response head this becomes a local
     * reply with {@code rejection}; after it, the client's stream is reset (a truncated response
     * must never look complete).
     */
    void failed(Rejection rejection);
}
