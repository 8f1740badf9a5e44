package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Stream;
import java.util.List;

/**
 * Keeps a malformed request a stream error. Netty validates a HEADERS block while it reads it,
 * before the stream exists: a block it refuses (an uppercase name, {@code connection}, {@code te:
 * gzip}, a bad pseudo-header) is answered {@code RST_STREAM(PROTOCOL_ERROR)} on a stream the
 * connection never opened, so the DATA the client had already sent behind it names a stream that
 * "does not exist" and ends the whole connection with GOAWAY(PROTOCOL_ERROR), and with it every
 * other tunnel on it. RFC 9113 §8.1.1 makes a malformed request a stream error only, and §5.1 has
 * frames that arrive on a stream after its RST_STREAM ignored.
 *
 * <p>This decoder opens and closes the stream at once when the reader refuses its first HEADERS,
 * so the connection counts it as having existed and later frames on it are dropped as on any
 * closed stream (their bytes still count against, and go back to, the connection window). The
 * stream error itself goes on to Netty as before (the RST_STREAM). A header list over the limit is
 * left to Netty, which opens the stream itself to answer 431.
 */
public final class RejectedHeaders {
    private RejectedHeaders() {}

    /** {@code decoder}, opening the streams whose first HEADERS it refuses. */
    public static Http2ConnectionDecoder decorate(Http2ConnectionDecoder decoder) {
        return new DecoratingHttp2ConnectionDecoder(decoder) {
            @Override
            public void decodeFrame(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Http2Exception {
                try {
                    super.decodeFrame(ctx, in, out);
                } catch (Http2Exception.StreamException e) {
                    if (!(e instanceof Http2Exception.HeaderListSizeException)) {
                        openClosed(connection(), e.streamId());
                    }
                    throw e;
                }
            }
        };
    }

    /** Opens stream {@code id} of the peer and closes it, if the peer may open it and has not yet. */
    static void openClosed(Http2Connection connection, int id) {
        Http2Connection.Endpoint<?> remote = connection.remote();
        if (connection.stream(id) != null || !remote.isValidStreamId(id) || remote.mayHaveCreatedStream(id)
                || connection.goAwaySent() || connection.goAwayReceived()) {
            return;
        }
        try {
            Http2Stream stream = remote.createStream(id, true);
            stream.close();
        } catch (Http2Exception refused) {
            // beyond the stream limit (or past a GOAWAY): the connection refuses the stream anyway
        }
    }
}
