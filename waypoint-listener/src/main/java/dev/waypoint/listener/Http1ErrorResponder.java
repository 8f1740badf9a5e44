package dev.waypoint.listener;

import dev.waypoint.model.request.Rejection;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers inner HTTP/1.1 requests the codec could not parse: 414 for an over-long request line,
 * 431 for an over-large header block, 400 for the rest; then ends the tunnel. Never lets a
 * half-parsed request reach the request stages.
 */
final class Http1ErrorResponder extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Http1ErrorResponder.class);
    private boolean failed;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (failed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpObject http && http.decoderResult().isFailure()) {
            failed = true;
            DecoderResult result = http.decoderResult();
            ReferenceCountUtil.release(msg);
            Throwable cause = result.cause();
            HttpResponseStatus status;
            Rejection.Reason reason;
            if (cause instanceof TooLongHttpLineException) {
                status = HttpResponseStatus.REQUEST_URI_TOO_LONG;
                reason = Rejection.Reason.BAD_REQUEST;
            } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
                status = HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
                reason = Rejection.Reason.HEADERS_TOO_LARGE;
            } else {
                status = HttpResponseStatus.BAD_REQUEST;
                reason = Rejection.Reason.BAD_REQUEST;
            }
            Rejection r = new Rejection(reason, String.valueOf(cause == null ? "malformed request" : cause.getMessage()));
            log.info("inner HTTP/1.1 request refused: {}", r);
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    ByteBufUtil.writeUtf8(ctx.alloc(), r.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                    .set(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes())
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(res).addListener(f -> dev.waypoint.transport.HalfClose.shutdownOutput(ctx.channel())
                    .addListener(ChannelFutureListener.CLOSE));
            return;
        }
        ctx.fireChannelRead(msg);
    }
}
