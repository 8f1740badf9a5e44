package dev.waypoint.listener;

import dev.waypoint.model.request.Rejection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import java.util.Map;

/**
 * The one local-reply renderer: every answer the waypoint gives itself (CONNECT refusals, and
 * inner HTTP/1.1, HTTP/2 and gRPC replies from any stage) is rendered here, so they all look
 * alike: status from the {@link Rejection.Reason}, body {@link Rejection#body()} ({@code <code>: <message>\n},
 * or the reason's fixed body: {@code RBAC: access denied}) as
 * {@code text/plain}, and {@code x-waypoint-reason: <code>}. gRPC clients get a trailers-only
 * response instead: HTTP 200, {@code content-type: application/grpc}, {@code grpc-status} after
 * gRPC's mapping and {@code grpc-message}, no body (gRPC over HTTP/2 §Responses).
 *
 * <p>Pure apart from allocating the body; returns messages whose ownership moves to the caller.
 */
public final class LocalReplies {
    /** Response header naming the reason code of a local reply. */
    public static final String REASON_HEADER = "x-waypoint-reason";

    private LocalReplies() {}

    /**
     * An inner-request reply, as an HTTP object (the HTTP/2 stream codec turns it into frames).
     * {@code Content-Length} is set; {@code Connection} is left to the caller.
     *
     * @param headers extra headers ({@code www-authenticate}, {@code location}); may be empty
     */
    public static FullHttpResponse http(Rejection r, Map<String, String> headers, boolean grpc, ByteBufAllocator alloc) {
        FullHttpResponse res;
        if (grpc) {
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")
                    .set("grpc-status", Integer.toString(r.reason().grpcStatus()))
                    .set("grpc-message", grpcMessage(r.reason().fixedBody() != null ? r.reason().fixedBody()
                            : r.reason().code() + ": " + r.message()))
                    .set(REASON_HEADER, r.reason().code());
        } else {
            ByteBuf body = ByteBufUtil.writeUtf8(alloc, r.body());
            res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()), body);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                    .set(REASON_HEADER, r.reason().code());
        }
        headers.forEach(res.headers()::set);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
        return res;
    }

    /** A refused CONNECT: the HEADERS frame (status, reason) to write before {@link #connectBody}. */
    public static Http2HeadersFrame connectHeaders(Rejection r) {
        return new DefaultHttp2HeadersFrame(new DefaultHttp2Headers()
                .status(Integer.toString(r.reason().status()))
                .set("content-type", "text/plain; charset=utf-8")
                .set(REASON_HEADER, r.reason().code()), false);
    }

    /** A refused CONNECT: the DATA frame with the body and END_STREAM. */
    public static Http2DataFrame connectBody(Rejection r, ByteBufAllocator alloc) {
        return new DefaultHttp2DataFrame(ByteBufUtil.writeUtf8(alloc, r.body()), true);
    }

    /** Percent-encodes a grpc-message as the gRPC spec asks (printable ASCII but '%' stays as is). */
    static String grpcMessage(String s) {
        StringBuilder b = null;
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            int c = bytes[i] & 0xff;
            boolean plain = c >= 0x20 && c <= 0x7e && c != '%';
            if (!plain && b == null) {
                b = new StringBuilder(s.length() + 16);
                for (int j = 0; j < i; j++) {
                    b.append((char) bytes[j]);
                }
            }
            if (b != null) {
                if (plain) {
                    b.append((char) c);
                } else {
                    b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
                }
            }
        }
        return b == null ? s : b.toString();
    }
}
