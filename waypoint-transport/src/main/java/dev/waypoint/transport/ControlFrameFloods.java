package dev.waypoint.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2FrameLogger;
import io.netty.handler.codec.http2.Http2FrameLogger.Direction;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.logging.LogLevel;

/**
 * Bounds the two HTTP/2 frames a peer can send without limit and at no cost of its own: PRIORITY
 * and WINDOW_UPDATE (CVE-2019-9513, "resource loop", and CVE-2019-9517-class floods). Netty bounds
 * RST_STREAM, empty DATA, CONTINUATION and the SETTINGS / PING acknowledgements it queues, not
 * these two. The limits are Envoy's, with its defaults (the waypoint Istio ships):
 * <ul>
 *   <li>PRIORITY frames over the connection's life ≤ {@value #PRIORITY_PER_STREAM} × (1 + streams
 *       the peer opened) ({@code max_inbound_priority_frames_per_stream});</li>
 *   <li>WINDOW_UPDATE frames ≤ 5 + 2 × (streams the peer opened + {@value #WINDOW_UPDATES_PER_DATA_FRAME}
 *       × DATA frames written to it) ({@code max_inbound_window_update_frames_per_data_frame_sent}):
 *       a receiver credits what it was sent, so updates follow our DATA.</li>
 * </ul>
 * Past either, the connection ends with GOAWAY {@code ENHANCE_YOUR_CALM}, as Envoy ends it.
 *
 * <p>Counted where the codec's decoder hands frames to its listener (after Netty's own checks) and
 * where its frame writer sends DATA frames (each frame, as Envoy counts them: one large write cut to
 * the peer's frame size is several). One instance per connection, on its event loop.
 *
 * <p>A codec whose decoder cannot be decorated ({@code Http2MultiplexCodecBuilder}'s, for the
 * HTTP/2 connection nested in a tunnel stream, {@link #nestedServerLogger}) is counted by its frame
 * logger alone, which sees every frame read and written; past a limit the logger throws the same
 * error out of the reader's call of the listener, which ends the connection the same way.
 */
public final class ControlFrameFloods {
    /** Envoy's {@code max_inbound_priority_frames_per_stream} default. */
    public static final int PRIORITY_PER_STREAM = 100;
    /** Envoy's {@code max_inbound_window_update_frames_per_data_frame_sent} default. */
    public static final int WINDOW_UPDATES_PER_DATA_FRAME = 10;

    private long streamsOpened;
    private long priorityFrames;
    private long windowUpdates;
    private long dataFramesSent;

    private int lastStreamSeen;

    private ControlFrameFloods() {}

    /**
     * A frame logger for one server connection's codec built by a builder that cannot be subclassed
     * ({@code Http2MultiplexCodecBuilder.frameLogger}): it bounds the connection as
     * {@link #serverCodec} does, from the frames it sees, and logs every frame at DEBUG under
     * {@code frameLoggerName} when that logger is enabled. One per connection.
     */
    public static Http2FrameLogger nestedServerLogger(String frameLoggerName) {
        return new ControlFrameFloods().new Logging(frameLoggerName);
    }

    /** A HEADERS frame on {@code streamId}: a new stream when above every stream seen (not trailers). */
    private void headers(int streamId) {
        if (streamId > lastStreamSeen) {
            lastStreamSeen = streamId;
            streamsOpened++;
        }
    }

    /** One PRIORITY frame read: the error that ends the connection past the limit, or null. */
    private Http2Exception priority() {
        if (++priorityFrames > PRIORITY_PER_STREAM * (1 + streamsOpened)) {
            return Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM,
                    "%d PRIORITY frames for %d streams (at most %d per stream)", priorityFrames, streamsOpened,
                    PRIORITY_PER_STREAM);
        }
        return null;
    }

    /** One WINDOW_UPDATE frame read: the error that ends the connection past the limit, or null. */
    private Http2Exception windowUpdate() {
        if (++windowUpdates > 5 + 2 * (streamsOpened + WINDOW_UPDATES_PER_DATA_FRAME * dataFramesSent)) {
            return Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM,
                    "%d WINDOW_UPDATE frames for %d streams and %d DATA frames sent", windowUpdates, streamsOpened,
                    dataFramesSent);
        }
        return null;
    }

    /**
     * An HTTP/2 frame codec builder for one server connection whose codec is bounded this way. Its
     * frame logger is set here (it counts the DATA frames written, as they leave, after the flow
     * controller has cut them to the peer's frame size and window); it also logs every frame at
     * DEBUG under {@code frameLoggerName} when that logger is enabled, so do not set another.
     */
    public static Http2FrameCodecBuilder serverCodec(String frameLoggerName) {
        return new Builder(frameLoggerName);
    }

    private static final class Builder extends Http2FrameCodecBuilder {
        private final ControlFrameFloods limits = new ControlFrameFloods();

        Builder(String frameLoggerName) {
            server(true);
            gracefulShutdownTimeoutMillis(0); // as forServer(): the caller sets its own
            frameLogger(limits.new DataFramesSent(frameLoggerName));
        }

        @Override
        protected Http2FrameCodec build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings) {
            return super.build(RejectedHeaders.decorate(limits.decoder(decoder)), encoder, settings);
        }
    }

    Http2ConnectionDecoder decoder(Http2ConnectionDecoder decoder) {
        return new DecoratingHttp2ConnectionDecoder(decoder) {
            @Override
            public void frameListener(Http2FrameListener listener) {
                super.frameListener(listener == null ? null : new Counting(listener));
            }
        };
    }

    /**
     * Netty's frame logger, counting the DATA frames the writer sends (and logging as it would). The
     * flow controller hands the writer what the windows allow, and the writer cuts that into frames
     * of the peer's {@code SETTINGS_MAX_FRAME_SIZE}: one logged write of {@code n} bytes is
     * {@code ceil(n / max)} frames on the wire (one for an empty END_STREAM).
     */
    private class DataFramesSent extends Http2FrameLogger {
        private int peerMaxFrameSize = io.netty.handler.codec.http2.Http2CodecUtil.DEFAULT_MAX_FRAME_SIZE;

        DataFramesSent(String name) {
            super(LogLevel.DEBUG, name);
        }

        @Override
        public void logSettings(Direction direction, ChannelHandlerContext ctx, Http2Settings settings) {
            if (direction == Direction.INBOUND && settings.maxFrameSize() != null) {
                peerMaxFrameSize = settings.maxFrameSize();
            }
            super.logSettings(direction, ctx, settings);
        }

        @Override
        public void logData(Direction direction, ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
                            boolean endStream) {
            if (direction == Direction.OUTBOUND) {
                int bytes = data.readableBytes() + padding;
                dataFramesSent += Math.max(1, (bytes + peerMaxFrameSize - 1) / peerMaxFrameSize);
            }
            super.logData(direction, ctx, streamId, data, padding, endStream);
        }
    }

    private final class Counting extends Http2FrameListenerDecorator {
        Counting(Http2FrameListener listener) {
            super(listener);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, io.netty.handler.codec.http2.Http2Headers headers,
                                  int padding, boolean endStream) throws Http2Exception {
            headers(streamId);
            super.onHeadersRead(ctx, streamId, headers, padding, endStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, io.netty.handler.codec.http2.Http2Headers headers,
                                  int streamDependency, short weight, boolean exclusive, int padding, boolean endStream)
                throws Http2Exception {
            headers(streamId);
            super.onHeadersRead(ctx, streamId, headers, streamDependency, weight, exclusive, padding, endStream);
        }

        @Override
        public void onPriorityRead(ChannelHandlerContext ctx, int streamId, int streamDependency, short weight,
                                   boolean exclusive) throws Http2Exception {
            Http2Exception flood = priority();
            if (flood != null) {
                throw flood;
            }
            super.onPriorityRead(ctx, streamId, streamDependency, weight, exclusive);
        }

        @Override
        public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int windowSizeIncrement)
                throws Http2Exception {
            Http2Exception flood = windowUpdate();
            if (flood != null) {
                throw flood;
            }
            super.onWindowUpdateRead(ctx, streamId, windowSizeIncrement);
        }
    }

    /**
     * The frame logger of a codec whose listener cannot be decorated: counts the frames read as
     * {@link Counting} does. Netty's reader calls it inside its call of the listener for the same
     * frame (a method that declares {@link Http2Exception}), so the error thrown here past a limit
     * takes the listener's path: the reader stops at that frame and the codec ends the connection
     * (GOAWAY), as for {@link Counting}'s.
     */
    private final class Logging extends DataFramesSent {
        Logging(String name) {
            super(name);
        }

        @Override
        public void logHeaders(Direction direction, ChannelHandlerContext ctx, int streamId,
                               io.netty.handler.codec.http2.Http2Headers headers, int padding, boolean endStream) {
            if (direction == Direction.INBOUND) {
                inboundHeaders(ctx, streamId);
            }
            super.logHeaders(direction, ctx, streamId, headers, padding, endStream);
        }

        @Override
        public void logHeaders(Direction direction, ChannelHandlerContext ctx, int streamId,
                               io.netty.handler.codec.http2.Http2Headers headers, int streamDependency, short weight,
                               boolean exclusive, int padding, boolean endStream) {
            if (direction == Direction.INBOUND) {
                inboundHeaders(ctx, streamId);
            }
            super.logHeaders(direction, ctx, streamId, headers, streamDependency, weight, exclusive, padding, endStream);
        }

        /**
         * Called before the decoder sees the frame: a new stream it will refuse (past
         * SETTINGS_MAX_CONCURRENT_STREAMS) is not counted, as {@link Counting}, after the decoder,
         * never sees one.
         */
        private void inboundHeaders(ChannelHandlerContext ctx, int streamId) {
            if (ctx.handler() instanceof Http2ConnectionHandler codec && codec.connection().stream(streamId) == null
                    && !codec.connection().remote().canOpenStream()) {
                return;
            }
            headers(streamId);
        }

        @Override
        public void logPriority(Direction direction, ChannelHandlerContext ctx, int streamId, int streamDependency,
                                short weight, boolean exclusive) {
            if (direction == Direction.INBOUND) {
                throwIfFlood(priority());
            }
            super.logPriority(direction, ctx, streamId, streamDependency, weight, exclusive);
        }

        @Override
        public void logWindowsUpdate(Direction direction, ChannelHandlerContext ctx, int streamId,
                                     int windowSizeIncrement) {
            if (direction == Direction.INBOUND) {
                throwIfFlood(windowUpdate());
            }
            super.logWindowsUpdate(direction, ctx, streamId, windowSizeIncrement);
        }

        private void throwIfFlood(Http2Exception flood) {
            if (flood != null) {
                ControlFrameFloods.<RuntimeException>rethrow(flood);
            }
        }
    }

    /**
     * Throws a checked exception from a method that cannot declare it (Netty's frame logger
     * callbacks); the caller up the stack declares and handles it.
     */
    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void rethrow(Throwable e) throws E {
        throw (E) e;
    }
}
