package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link IdleTimeout}: the all-idle event after the timeout without reads or flushed writes, on the
 * channel's (here: EmbeddedChannel's mock) clock, and promises passed through as they are.
 */
class IdleTimeoutTest {
    private EmbeddedChannel ch;
    private final List<Object> events = new ArrayList<>();
    private final List<ChannelPromise> promisesSeen = new ArrayList<>();

    @BeforeEach
    void setUp() {
        ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                promisesSeen.add(promise);
                ctx.write(msg, promise);
            }
        });
        ch.pipeline().addLast(new IdleTimeout(Duration.ofMillis(100)));
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                events.add(evt);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ((ByteBuf) msg).release();
            }
        });
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    /** Time passes a millisecond at a time, as on an event loop (each step runs the timers then due). */
    private void advance(long ms) {
        for (long i = 0; i < ms; i++) {
            ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
            ch.runScheduledPendingTasks();
        }
    }

    @Test
    void firesAfterTheTimeoutWithNothingReadOrWrittenThenAgainEveryTimeout() {
        advance(99);
        assertThat(events).isEmpty();
        advance(1);
        assertThat(events).containsExactly(IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT);
        advance(100);
        assertThat(events).containsExactly(IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT, IdleStateEvent.ALL_IDLE_STATE_EVENT);
    }

    @Test
    void aReadBurstStartsTheTimeoutAgain() {
        advance(60);
        ch.writeInbound(Unpooled.copiedBuffer(new byte[] {1}));
        advance(60);
        assertThat(events).as("60 ms after the read").isEmpty();
        advance(39);
        assertThat(events).as("never before the timeout after the read").isEmpty();
        advance(13);
        assertThat(events).as("at most a slice (12.5 ms) after it").containsExactly(IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT);
    }

    @Test
    void readsInEverySliceKeepABusyChannelFromTheEvent() {
        for (int i = 0; i < 40; i++) {
            ch.writeInbound(Unpooled.copiedBuffer(new byte[] {1}));
            advance(10);
        }
        assertThat(events).as("400 ms busy with a read every 10 ms").isEmpty();
        advance(99);
        assertThat(events).isEmpty();
        advance(14);
        assertThat(events).containsExactly(IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT);
    }

    @Test
    void aWriteCountsWhenItIsFlushed() {
        advance(60);
        ch.write(Unpooled.copiedBuffer(new byte[] {1}));
        advance(60);
        assertThat(events).as("a write not flushed yet keeps the channel busy").isEmpty();
        ch.flush();
        advance(99);
        assertThat(events).isEmpty();
        advance(14);
        assertThat(events).as("within a slice after the timeout from the flush").containsExactly(IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT);
        ((ByteBuf) ch.readOutbound()).release();
    }

    @Test
    void activityAfterAnEventMakesTheNextOneAFirstAgain() {
        advance(100);
        ch.writeInbound(Unpooled.copiedBuffer(new byte[] {1}));
        advance(113);
        assertThat(events).containsExactly(IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT, IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT);
    }

    @Test
    void promisesPassThroughUntouched() {
        ch.writeAndFlush(Unpooled.copiedBuffer(new byte[] {1}), ch.voidPromise());
        ChannelPromise real = ch.newPromise();
        ch.writeAndFlush(Unpooled.copiedBuffer(new byte[] {2}), real);
        assertThat(promisesSeen).hasSize(2);
        assertThat(promisesSeen.get(0).isVoid()).as("a void promise stays void").isTrue();
        assertThat(promisesSeen.get(1)).isSameAs(real);
        ((ByteBuf) ch.readOutbound()).release();
        ((ByteBuf) ch.readOutbound()).release();
    }

    @Test
    void nothingFiresAfterTheChannelClosed() {
        ch.close();
        advance(500);
        assertThat(events).isEmpty();
    }

    @Test
    void aZeroTimeoutNeverFires() {
        EmbeddedChannel never = new EmbeddedChannel();
        never.freezeTime();
        List<Object> seen = new ArrayList<>();
        never.pipeline().addLast(new IdleTimeout(Duration.ZERO), new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                seen.add(evt);
            }
        });
        never.advanceTimeBy(1, TimeUnit.DAYS);
        never.runScheduledPendingTasks();
        assertThat(seen).isEmpty();
        never.finishAndReleaseAll();
    }
}
