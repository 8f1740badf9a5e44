package dev.waypoint.listener;

import io.netty.buffer.ByteBuf;

/**
 * Counts gRPC messages in one direction of a gRPC call: the body is a sequence of
 * length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length, the message;
 * gRPC over HTTP/2 protocol, "Length-Prefixed-Message"), split across chunks anywhere. A
 * message counts once its 5-byte prefix has arrived (Envoy's gRPC frame decoder counts at the
 * same point), so a call cut off mid-message still counts it. Reads without copying or
 * allocating.
 *
 * <h2>Threading</h2>
 * Confined to the request's event loop.
 */
final class GrpcMessageCounter {
    private static final int PREFIX = 5;

    /** Message bytes still to skip. */
    private long remaining;
    /** Prefix bytes seen of the next message (0 between messages). */
    private int prefixSeen;
    private long length;

    /** Feeds {@code chunk} (its readable bytes, left untouched) and returns how many messages started in it. */
    int count(ByteBuf chunk) {
        int i = chunk.readerIndex();
        int end = chunk.writerIndex();
        int started = 0;
        while (i < end) {
            if (remaining > 0) {
                int skip = (int) Math.min(remaining, end - i);
                i += skip;
                remaining -= skip;
                continue;
            }
            int b = chunk.getUnsignedByte(i++);
            if (prefixSeen > 0) {
                length = (length << 8) | b; // prefix byte 0 is the compressed flag
            }
            if (++prefixSeen == PREFIX) {
                started++;
                remaining = length;
                length = 0;
                prefixSeen = 0;
            }
        }
        return started;
    }
}
