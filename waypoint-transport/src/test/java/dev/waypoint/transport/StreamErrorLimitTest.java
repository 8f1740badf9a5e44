package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link StreamErrorLimit}: each stream error the peer causes is answered with RST_STREAM of its
 * own code and passed on; past the limit within the window the connection gets GOAWAY
 * ENHANCE_YOUR_CALM and closes; a new window starts the count again.
 */
class StreamErrorLimitTest {
    private record Stream(int id) implements Http2FrameStream {
        @Override
        public Http2Stream.State state() {
            return Http2Stream.State.OPEN;
        }
    }

    private static Http2FrameStreamException error(int id, Http2Error code) {
        return new Http2FrameStreamException(new Stream(id), code, new IllegalStateException("peer broke stream " + id));
    }

    /** Records what was passed on after the limit. */
    private final List<Throwable> passedOn = new ArrayList<>();

    private EmbeddedChannel channel(int max, int windowSeconds) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(new StreamErrorLimit(max, windowSeconds), new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
                passedOn.add(cause);
            }
        });
        return ch;
    }

    @Test
    void eachErrorIsAnsweredWithItsOwnCodeAndPassedOn() {
        EmbeddedChannel ch = channel(5, 30);
        ch.pipeline().fireExceptionCaught(error(1, Http2Error.PROTOCOL_ERROR));
        ch.pipeline().fireExceptionCaught(error(3, Http2Error.FLOW_CONTROL_ERROR));
        Http2ResetFrame first = ch.readOutbound();
        Http2ResetFrame second = ch.readOutbound();
        assertThat(first.errorCode()).isEqualTo(Http2Error.PROTOCOL_ERROR.code());
        assertThat(first.stream().id()).isEqualTo(1);
        assertThat(second.errorCode()).isEqualTo(Http2Error.FLOW_CONTROL_ERROR.code());
        assertThat(passedOn).hasSize(2);
        assertThat(ch.isOpen()).isTrue();
        // anything else passes untouched and writes nothing
        ch.pipeline().fireExceptionCaught(new IllegalArgumentException("not a stream error"));
        assertThat((Object) ch.readOutbound()).isNull();
        assertThat(passedOn).hasSize(3);
        ch.finishAndReleaseAll();
    }

    @Test
    void pastTheLimitWithinTheWindowTheConnectionIsClosedWithEnhanceYourCalm() {
        EmbeddedChannel ch = channel(5, 30);
        for (int i = 0; i < 5; i++) {
            ch.pipeline().fireExceptionCaught(error(1 + 2 * i, Http2Error.PROTOCOL_ERROR));
        }
        assertThat(ch.isOpen()).isTrue();
        ch.advanceTimeBy(29, TimeUnit.SECONDS);
        ch.pipeline().fireExceptionCaught(error(11, Http2Error.PROTOCOL_ERROR));
        List<Object> out = new ArrayList<>();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            out.add(o);
        }
        assertThat(out).hasSize(7); // six resets, then the GOAWAY
        assertThat(out.get(6)).isInstanceOfSatisfying(Http2GoAwayFrame.class,
                g -> assertThat(g.errorCode()).isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code()));
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aNewWindowCountsAgain() {
        EmbeddedChannel ch = channel(5, 30);
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 5; i++) {
                ch.pipeline().fireExceptionCaught(error(1 + 2 * (5 * round + i), Http2Error.PROTOCOL_ERROR));
            }
            ch.advanceTimeBy(31, TimeUnit.SECONDS);
        }
        assertThat(ch.isOpen()).as("5 per window, 15 in all").isTrue();
        ch.finishAndReleaseAll();
    }
}
