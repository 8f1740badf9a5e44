package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.request.Rejection;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** The one local-reply renderer, as a table over every rejection reason and both client kinds. */
class LocalRepliesTest {
    @ParameterizedTest
    @EnumSource(Rejection.Reason.class)
    void httpRepliesCarryStatusReasonAndBody(Rejection.Reason reason) {
        FullHttpResponse res = LocalReplies.http(new Rejection(reason, "why"), Map.of("x-extra", "1"), false,
                ByteBufAllocator.DEFAULT);
        try {
            assertThat(res.status().code()).isEqualTo(reason.status());
            assertThat(res.headers().get(LocalReplies.REASON_HEADER)).isEqualTo(reason.code());
            assertThat(res.headers().get("x-extra")).isEqualTo("1");
            String body = res.content().toString(StandardCharsets.UTF_8);
            assertThat(res.headers().getInt(HttpHeaderNames.CONTENT_LENGTH)).isEqualTo(res.content().readableBytes());
            assertThat(body).isEqualTo(new Rejection(reason, "why").body());
        } finally {
            res.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"NO_HEALTHY_UPSTREAM, 14", "UPSTREAM_REFUSED, 14", "UPSTREAM_RESET, 14", "CONNECT_TIMEOUT, 14",
            "REQUEST_TIMEOUT, 4", "BAD_REQUEST, 13", "HEADERS_TOO_LARGE, 13", "TARGET_UNBOUND, 14", "INTERNAL, 13"})
    void grpcRepliesAreTrailersOnlyWithTheMappedStatus(Rejection.Reason reason, int grpcStatus) {
        FullHttpResponse res = LocalReplies.http(new Rejection(reason, "no 100% sure"), Map.of(), true, ByteBufAllocator.DEFAULT);
        try {
            assertThat(res.status().code()).isEqualTo(200);
            assertThat(res.headers().get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/grpc");
            assertThat(res.headers().getInt("grpc-status")).isEqualTo(grpcStatus);
            // grpc-message is percent-encoded (the gRPC spec): '%' itself included
            assertThat(res.headers().get("grpc-message")).isEqualTo(reason.code() + ": no 100%25 sure");
            assertThat(res.content().readableBytes()).isZero();
        } finally {
            res.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"plain ascii, plain ascii", "caf\u00e9, caf%C3%A9", "tab\there, tab%09here", "50%, 50%25"})
    void grpcMessagesArePercentEncoded(String in, String out) {
        assertThat(LocalReplies.grpcMessage(in)).isEqualTo(out);
    }

    @ParameterizedTest
    @EnumSource(value = Rejection.Reason.class, names = {"NOT_CONNECT", "BAD_AUTHORITY", "NOT_BOUND", "NOT_READY",
            "UPSTREAM_REFUSED", "CONNECT_TIMEOUT"})
    void connectRefusalsAreHeadersThenABodyThatEndsTheStream(Rejection.Reason reason) {
        Rejection r = new Rejection(reason, "because");
        Http2HeadersFrame h = LocalReplies.connectHeaders(r);
        Http2DataFrame d = LocalReplies.connectBody(r, ByteBufAllocator.DEFAULT);
        try {
            assertThat(h.headers().status()).hasToString(Integer.toString(reason.status()));
            assertThat(h.isEndStream()).isFalse();
            assertThat(h.headers().get(LocalReplies.REASON_HEADER)).hasToString(reason.code());
            assertThat(d.isEndStream()).isTrue();
            assertThat(d.content().toString(StandardCharsets.UTF_8)).isEqualTo(reason.code() + ": because\n");
        } finally {
            d.release();
        }
    }
}
