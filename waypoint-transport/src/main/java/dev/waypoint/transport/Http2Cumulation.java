package dev.waypoint.transport;

import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;

/**
 * How the HTTP/2 codec of every HBONE connection (inbound and outbound) gathers the decrypted bytes
 * it parses frames from.
 *
 * <h2>No copy of every byte</h2>
 * Netty's default ({@code MERGE_CUMULATOR}) appends each read to one buffer whenever a frame is
 * still incomplete, which on a relayed bulk stream is nearly every read: a copy of every inbound byte
 * (5.5 % of the waypoint's CPU in the bulk profile, benchmarks/RESULTS.md). {@code
 * COMPOSITE_CUMULATOR} keeps the reads as components of one composite buffer instead; a DATA
 * payload is a slice of it, of one component mostly, of two when the frame straddled a read.
 *
 * <p>The one catch, measured before this was first tried: a payload of several components that
 * reaches {@code SslHandler} alone is wrapped one TLS record per component, so small reads upstream
 * became small records downstream. {@link TunnelFrameAdapter} therefore makes such a payload
 * contiguous before it is framed (a copy of the straddling frames only).
 */
public final class Http2Cumulation {
    private Http2Cumulation() {}

    /** Applies the composite cumulation above to {@code codec} (before it is added to the pipeline). */
    public static void withoutCopies(Http2ConnectionHandler codec) {
        codec.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
    }
}
