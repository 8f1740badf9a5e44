package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2UnknownFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2ResetFrame;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link TunnelFrameAdapter}: DATA ⇄ bytes, END_STREAM ⇄ half-close, and who releases what.
 */
class TunnelFrameAdapterTest {
    private EmbeddedChannel ch;
    /** User events that passed the adapter. */
    private final List<Object> events = new ArrayList<>();

    @BeforeEach
    void setUp() {
        ch = new EmbeddedChannel(new TunnelFrameAdapter(), new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                events.add(evt);
            }
        });
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    @Test
    void dataFrameContentIsPassedOnNotCopied() {
        ByteBuf content = bytes("hello");
        ch.writeInbound(new DefaultHttp2DataFrame(content, false));
        ByteBuf got = ch.readInbound();
        assertThat(got).isSameAs(content);
        assertThat(got.refCnt()).as("ownership moved with the content").isEqualTo(1);
        got.release();
        assertThat(events).isEmpty();
    }

    @Test
    void emptyDataFramesAreReleasedHere() {
        ByteBuf empty = Unpooled.buffer(0);
        ch.writeInbound(new DefaultHttp2DataFrame(empty, false));
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(empty.refCnt()).isZero();
    }

    @Test
    void endStreamBecomesOneInputShutdownAfterTheContent() {
        List<Object> order = new ArrayList<>();
        ch.pipeline().addAfter(ch.pipeline().firstContext().name(), "order", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                order.add(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                ((ByteBuf) msg).release();
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                order.add(evt);
            }
        });
        ch.writeInbound(new DefaultHttp2DataFrame(bytes("last"), true));
        // trailers after END_STREAM (a confused peer): no second EOF
        ch.writeInbound(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers(), true));
        assertThat(order).containsExactly("last", ChannelInputShutdownEvent.INSTANCE);
    }

    @Test
    void trailersWithEndStreamAreAnEof() {
        ch.writeInbound(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().add("x", "y"), false));
        assertThat(events).isEmpty();
        ch.writeInbound(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers(), true));
        assertThat(events).containsExactly(ChannelInputShutdownEvent.INSTANCE);
        assertThat((Object) ch.readInbound()).isNull();
    }

    @Test
    void otherFramesAreReleased() {
        ByteBuf payload = bytes("?");
        ch.writeInbound(new DefaultHttp2UnknownFrame((byte) 0x42, new Http2Flags(), payload));
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(payload.refCnt()).isZero();
    }

    @Test
    void bytesReplayedBehindTheAdapterPassAsTheyAre() {
        ByteBuf b = bytes("replayed");
        ch.writeInbound(b);
        ByteBuf got = ch.readInbound();
        assertThat(got).isSameAs(b);
        got.release();
    }

    @Test
    void resetFramesFromThePeerPassAsUserEvents() {
        Http2ResetFrame reset = new DefaultHttp2ResetFrame(Http2Error.CANCEL);
        ch.pipeline().fireUserEventTriggered(reset);
        assertThat(events).containsExactly(reset);
    }

    @Test
    void outboundBytesBecomeDataFramesWrappingTheSameBuffer() {
        ByteBuf b = bytes("out");
        ch.writeOutbound(b);
        Http2DataFrame frame = ch.readOutbound();
        assertThat(frame.content()).isSameAs(b);
        assertThat(frame.isEndStream()).isFalse();
        assertThat(frame.release()).as("the frame owns the buffer").isTrue();
    }

    @Test
    void closeAfterThePeersEndStreamEndsWithEndStreamNotReset() {
        ch.writeInbound(new DefaultHttp2DataFrame(Unpooled.buffer(0), true));
        ch.close();
        Http2DataFrame end = ch.readOutbound();
        assertThat(end.isEndStream()).isTrue();
        assertThat(end.content().readableBytes()).isZero();
        end.release();
        assertThat((Object) ch.readOutbound()).isNull();
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void closeWithTheInputStillOpenWritesNothing() {
        ch.close();
        assertThat((Object) ch.readOutbound()).isNull();
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void closeAfterOurOwnEndStreamWritesNoSecondOne() {
        ch.writeInbound(new DefaultHttp2DataFrame(Unpooled.buffer(0), true));
        ch.writeOutbound(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        ((Http2DataFrame) ch.readOutbound()).release();
        ch.close();
        assertThat((Object) ch.readOutbound()).isNull();
    }

    @Test
    void closeAfterAResetWritesNoEndStream() {
        ch.writeInbound(new DefaultHttp2DataFrame(Unpooled.buffer(0), true));
        ch.writeOutbound(new DefaultHttp2ResetFrame(Http2Error.CONNECT_ERROR));
        assertThat((Object) ch.readOutbound()).isInstanceOf(Http2ResetFrame.class);
        ch.close();
        assertThat((Object) ch.readOutbound()).isNull();
    }
}
