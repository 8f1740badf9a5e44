package dev.waypoint.model.request;

import java.util.Objects;

/**
 * One piece of a request or response body as the body hooks of {@link HttpFilter} see it: its
 * bytes, which a filter may replace (the rewritten bytes go on to the next filter and then to the
 * peer), and whether it is the last piece.
 *
 * <p>A filter that wants to see more before anything goes on (Envoy's
 * {@code StopIterationAndBuffer}) keeps the bytes itself and leaves an empty chunk; at the end of
 * the stream it puts what it kept (rewritten or not) back. Only requests with a filter that
 * {@linkplain HttpFilter#wantsRequestBody wants the body} pay for this object.
 *
 * <h2>Threading</h2>
 * The request's event loop, for the duration of one hook call.
 */
public final class BodyChunk {
    private static final byte[] EMPTY = new byte[0];

    private byte[] bytes;
    private final boolean endOfStream;

    public BodyChunk(byte[] bytes, boolean endOfStream) {
        this.bytes = Objects.requireNonNull(bytes, "bytes");
        this.endOfStream = endOfStream;
    }

    /** The bytes that go on (not copied: the array is the chunk's). */
    public byte[] bytes() {
        return bytes;
    }

    /** Replaces the bytes that go on; {@code null} or empty: nothing goes on from this chunk. */
    public void bytes(byte[] replacement) {
        this.bytes = replacement == null ? EMPTY : replacement;
    }

    /** Whether this is the body's last piece (trailers, if any, follow it). */
    public boolean endOfStream() {
        return endOfStream;
    }

    @Override
    public String toString() {
        return "BodyChunk[" + bytes.length + " bytes" + (endOfStream ? ", end" : "") + "]";
    }
}
