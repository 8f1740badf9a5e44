package dev.waypoint.transport;

import io.netty.handler.codec.http.HttpContent;

/**
 * One request in the upstream stage, as the exchange handler drives it. All calls on the
 * request's event loop.
 */
public interface UpstreamCall {
    /**
     * The next piece of the request body; {@link io.netty.handler.codec.http.LastHttpContent}
     * ends it. Ownership moves to the call. Written, not flushed: see {@link #flushRequest()}.
     */
    void requestContent(HttpContent content);

    /** Flushes what was written upstream (end of the downstream's read burst). */
    void flushRequest();

    /** Whether the upstream can take more request body now; when it turns true again the call says {@link ExchangeSink#requestWritable()}. */
    boolean isRequestWritable();

    /** The client can take more response now: go on reading the upstream. */
    void responseWritable();

    /**
     * The client side is done with this request before the exchange completed (it went away, or
     * the waypoint answered it): abandon the attempt, release what is held, never reuse its
     * connection. Idempotent; no sink callback follows.
     */
    void cancel();
}
