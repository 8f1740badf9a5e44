package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
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

    // --- ending as a TCP close does ---

    private TunnelFrameAdapter adapter() {
        return ch.pipeline().get(TunnelFrameAdapter.class);
    }

    private void finish() {
        adapter().finish(ch.pipeline().context(TunnelFrameAdapter.class));
    }

    @Test
    void finishSendsEndStreamAndClosesWhenThePeerEndsItsSide() {
        ch.writeOutbound(bytes("response"));
        finish();
        Http2DataFrame data = ch.readOutbound();
        assertThat(data.content().toString(StandardCharsets.UTF_8)).isEqualTo("response");
        data.release();
        Http2DataFrame end = ch.readOutbound();
        assertThat(end.isEndStream()).as("END_STREAM after what was written").isTrue();
        end.release();
        assertThat(ch.isOpen()).as("waits for the peer's END_STREAM").isTrue();

        ByteBuf late = bytes("more request");
        ch.writeInbound(new DefaultHttp2DataFrame(late, false));
        assertThat((Object) ch.readInbound()).as("dropped: the handlers after are done").isNull();
        assertThat(late.refCnt()).isZero();
        ch.writeInbound(new DefaultHttp2DataFrame(Unpooled.buffer(0), true));
        assertThat(ch.isOpen()).as("both sides ended").isFalse();
        assertThat(events).as("no half-close event passed on while finishing").isEmpty();
        assertThat((Object) ch.readOutbound()).as("no reset").isNull();
    }

    @Test
    void finishClosesAfterTheLingerWhenThePeerKeepsItsSideOpen() {
        ch.freezeTime();
        finish();
        ((Http2DataFrame) ch.readOutbound()).release();
        ch.advanceTimeBy(TunnelFrameAdapter.LINGER_MILLIS - 1, java.util.concurrent.TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        ch.advanceTimeBy(1, java.util.concurrent.TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).as("closed (a stream channel resets the stream)").isFalse();
    }

    @Test
    void finishResetsAPeerThatTakesNothingOfWhatIsQueued() {
        // writes that never complete: a peer whose window stays shut
        List<ChannelPromise> held = new ArrayList<>();
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                io.netty.util.ReferenceCountUtil.release(msg);
                held.add(promise);
            }
        });
        ch.freezeTime();
        ch.writeAndFlush(bytes("a response the peer does not take"));
        finish();
        assertThat(held).as("the response and END_STREAM, neither sent").hasSize(2);
        ch.advanceTimeBy(TunnelFrameAdapter.LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).as("reset: no progress within the linger").isFalse();
    }

    @Test
    void finishAfterThePeerEndedClosesOnceEndStreamIsWritten() {
        ch.writeInbound(new DefaultHttp2DataFrame(Unpooled.buffer(0), true));
        finish();
        Http2DataFrame end = ch.readOutbound();
        assertThat(end.isEndStream()).isTrue();
        end.release();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void finishDrainsWithReadsWhenAutoReadIsOff() {
        List<String> reads = new ArrayList<>();
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void read(ChannelHandlerContext ctx) {
                reads.add("read");
                ctx.read();
            }
        });
        ch.config().setAutoRead(false);
        reads.clear();
        finish();
        assertThat(reads).as("asks for the peer's next frames").hasSize(1);
        ch.writeInbound(new DefaultHttp2DataFrame(bytes("x"), false));
        assertThat(reads).as("and goes on after each").hasSize(2);
        ((Http2DataFrame) ch.readOutbound()).release();
    }

    // --- one DATA frame per flush ---

    @Test
    void smallPiecesOfOneFlushBecomeOneDataFrame() {
        ByteBuf head = bytes("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
        ByteBuf body = bytes("hello");
        ByteBuf last = Unpooled.buffer(0);
        ch.write(head);
        ch.write(body);
        ch.write(last);
        assertThat((Object) ch.readOutbound()).as("nothing is framed before the flush").isNull();
        ch.flush();
        Http2DataFrame frame = ch.readOutbound();
        assertThat(frame.content().toString(StandardCharsets.UTF_8))
                .isEqualTo("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        assertThat(frame.isEndStream()).isFalse();
        assertThat((Object) ch.readOutbound()).isNull();
        assertThat(head.refCnt()).as("copied pieces are released here").isZero();
        assertThat(body.refCnt()).isZero();
        assertThat(last.refCnt()).isZero();
        frame.release();
    }

    @Test
    void everyMergedPiecesPromiseCompletesWithTheFramesWrite() {
        var first = ch.newPromise();
        var second = ch.newPromise();
        ch.write(bytes("a"), first);
        ch.write(bytes("b"), ch.voidPromise());
        ch.write(bytes("c"), second);
        assertThat(first.isDone()).isFalse();
        ch.flush();
        assertThat(first.isSuccess()).isTrue();
        assertThat(second.isSuccess()).isTrue();
        Http2DataFrame frame = ch.readOutbound();
        assertThat(frame.content().toString(StandardCharsets.UTF_8)).isEqualTo("abc");
        frame.release();
    }

    @Test
    void piecesBeyondTheLimitAreFramedApartAndBigOnesUncopied() {
        ByteBuf small = Unpooled.buffer().writeZero(3000);
        ByteBuf next = Unpooled.buffer().writeZero(2000);
        ByteBuf big = Unpooled.buffer().writeZero(TunnelFrameAdapter.COALESCE_LIMIT);
        ch.write(small);
        ch.write(next);
        ch.write(big);
        ch.flush();
        Http2DataFrame a = ch.readOutbound();
        Http2DataFrame b = ch.readOutbound();
        Http2DataFrame c = ch.readOutbound();
        assertThat(a.content()).as("3000 + 2000 exceed the limit: framed apart, as written").isSameAs(small);
        assertThat(b.content()).isSameAs(next);
        assertThat(c.content()).isSameAs(big);
        assertThat((Object) ch.readOutbound()).isNull();
        a.release();
        b.release();
        c.release();
    }

    @Test
    void heldBytesLeaveBeforeEndStreamAndReset() {
        ch.write(bytes("tail"));
        ch.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
        Http2DataFrame data = ch.readOutbound();
        Http2DataFrame end = ch.readOutbound();
        assertThat(data.content().toString(StandardCharsets.UTF_8)).isEqualTo("tail");
        assertThat(data.isEndStream()).isFalse();
        assertThat(end.isEndStream()).isTrue();
        data.release();
        end.release();

        EmbeddedChannel other = new EmbeddedChannel(new TunnelFrameAdapter());
        other.write(bytes("x"));
        other.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        Http2DataFrame x = other.readOutbound();
        assertThat(x.content().toString(StandardCharsets.UTF_8)).isEqualTo("x");
        x.release();
        assertThat((Object) other.readOutbound()).isInstanceOf(Http2ResetFrame.class);
        other.finishAndReleaseAll();
    }

    @Test
    void closeAfterThePeersEndStreamSendsTheHeldBytesFirst() {
        ch.writeInbound(new DefaultHttp2DataFrame(Unpooled.buffer(0), true));
        ch.write(bytes("bye"));
        ch.close();
        Http2DataFrame data = ch.readOutbound();
        Http2DataFrame end = ch.readOutbound();
        assertThat(data.content().toString(StandardCharsets.UTF_8)).isEqualTo("bye");
        assertThat(end.isEndStream()).isTrue();
        data.release();
        end.release();
    }

    @Test
    void removingTheAdapterWritesAndFlushesWhatItHeld() {
        ch.write(bytes("held"));
        ch.pipeline().remove(TunnelFrameAdapter.class);
        Http2DataFrame data = ch.readOutbound();
        assertThat(data.content().toString(StandardCharsets.UTF_8)).isEqualTo("held");
        data.release();
    }
}
