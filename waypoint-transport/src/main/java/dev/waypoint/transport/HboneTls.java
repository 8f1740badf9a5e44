package dev.waypoint.transport;

import io.netty.handler.ssl.SslHandler;

/**
 * How the {@link SslHandler} of every HBONE connection (inbound and outbound) turns written bytes
 * into TLS records.
 *
 * <h2>Up to 64 KiB per wrap</h2>
 * {@code SslHandler} takes at most {@link SslHandler#setWrapDataSize wrapDataSize} bytes of what is
 * pending per {@code wrap} step, and each step costs a promise, an output buffer and an entry in the
 * channel's outbound buffer. Netty's default is 16 KiB, one TLS record's plaintext, so a relayed bulk
 * stream paid all three for every record (16 KiB DATA frames, the peer's SETTINGS_MAX_FRAME_SIZE,
 * each with its 9-byte header: never one buffer per record, so the queue gathers them by copying
 * anyway). At {@link #WRAP_DATA_SIZE} one step gathers up to four records' worth and encrypts them
 * as consecutive full records into one output buffer ({@code SslHandler.wrapMultiple}): the records
 * on the wire are the same 16 KiB ones, the bookkeeping is a quarter. Small writes are unaffected:
 * a step takes only what is pending, and nothing waits for more.
 */
public final class HboneTls {
    /** Bytes of plaintext gathered per wrap step (four full TLS records). */
    public static final int WRAP_DATA_SIZE = 64 << 10;

    private HboneTls() {}

    /** Applies the record batching above to {@code ssl} (before the handshake or after: either works). */
    public static void batchRecords(SslHandler ssl) {
        ssl.setWrapDataSize(WRAP_DATA_SIZE);
    }
}
