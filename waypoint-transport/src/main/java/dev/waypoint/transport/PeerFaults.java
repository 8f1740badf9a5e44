package dev.waypoint.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http2.Http2Exception;
import java.io.IOException;
import org.slf4j.Logger;

/**
 * Tells the exceptions a peer causes (its HTTP/2 protocol errors, its TCP resets, a broken TLS
 * record) from the waypoint's own failures, so the handlers that end a stream or a connection can
 * log them for what they are.
 *
 * <p>Why: a hostile client chooses how many of these it causes. Every {@code WINDOW_UPDATE} of 0 on
 * a stream is a stream error (RFC 9113 §6.9); logged as a WARN with a stack trace, one connection
 * within Netty's RST limit wrote some 11,000 log lines in half a second. Envoy logs codec errors
 * at debug for the same reason. A peer's fault is logged in one line (at the caller's level); a
 * fault of ours keeps its WARN and stack trace.
 */
public final class PeerFaults {
    private PeerFaults() {}

    /**
     * Whether {@code cause} is the peer's doing: an {@link Http2Exception} (stream or connection
     * error the codec found in what the peer sent) or an {@link IOException} (reset, broken pipe,
     * TLS failure), possibly wrapped in a {@link DecoderException}.
     */
    public static boolean isPeerFault(Throwable cause) {
        Throwable c = cause;
        while (c instanceof DecoderException && c.getCause() != null) {
            c = c.getCause();
        }
        return c instanceof Http2Exception || c instanceof IOException;
    }

    /**
     * Logs {@code cause} of {@code what} (e.g. "CONNECT stream to 10.0.0.1:80 failed"): a peer's
     * fault as one DEBUG line, anything else as a WARN with its stack trace.
     */
    public static void log(Logger log, String what, Throwable cause) {
        if (isPeerFault(cause)) {
            if (log.isDebugEnabled()) {
                log.debug("{}: {}", what, cause.toString());
            }
        } else {
            log.warn(what, cause);
        }
    }

    /**
     * The last handler of a connection's pipeline: what reaches it would otherwise reach Netty's
     * tail, which logs every exception as a WARN with a stack trace ("reached at the tail of the
     * pipeline"). HTTP/2 connection errors arrive here after the codec has already answered them
     * with GOAWAY (Netty's {@code Http2FrameCodec} passes them on), and I/O errors after the
     * transport has closed the channel, so this only logs: an HTTP/2 connection error in one INFO
     * line (it names the limit a flood hit), an I/O error in one DEBUG line, anything else as a WARN
     * with its stack trace. Stateless and shareable.
     */
    public static ChannelHandler connectionSink(Logger log) {
        return new Sink(log);
    }

    /**
     * The last handler of a tunnel that carries an HTTP/2 connection (inner h2c): an HTTP/2
     * connection error reaching it was found by the inner codec, which passes it on before it
     * writes its GOAWAY and closes the tunnel; logged here in one INFO line and kept from Netty's
     * stream-channel tail, which would reset the tunnel at once with the error's code (the GOAWAY,
     * and its debug text, never reaching the client). Anything else goes on to that tail, which
     * closes the tunnel. Stateless and shareable.
     */
    public static ChannelHandler nestedConnectionSink(Logger log) {
        return new NestedSink(log);
    }

    @ChannelHandler.Sharable
    private static final class NestedSink extends ChannelInboundHandlerAdapter {
        private final Logger log;

        NestedSink(Logger log) {
            this.log = log;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof Http2Exception) {
                log.info("HTTP/2 connection error inside a tunnel from {}: {}", ctx.channel().remoteAddress(),
                        cause.getMessage());
            } else {
                ctx.fireExceptionCaught(cause);
            }
        }
    }

    @ChannelHandler.Sharable
    private static final class Sink extends ChannelInboundHandlerAdapter {
        private final Logger log;

        Sink(Logger log) {
            this.log = log;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof Http2Exception) {
                log.info("HTTP/2 connection error from {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
            } else {
                log(log, "connection from " + ctx.channel().remoteAddress() + " failed", cause);
            }
        }
    }
}
