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

    /**
     * After the upstream answered a WebSocket upgrade with {@code 101} and its (empty) last
     * piece reached the sink: the upstream connection as a byte stream, handed over to the
     * caller for good (its HTTP codec removed, never pooled; closing it is the caller's). What
     * the upstream sent past the {@code 101} waits in a {@link HeldBytes} at the end of its
     * pipeline. Null when this call has no such connection; the call is over either way.
     */
    default io.netty.channel.Channel takeUpgraded() {
        return null;
    }
}
