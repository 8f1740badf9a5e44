package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The PING timeline on the embedded channel's clock: sent each interval, answered or fatal after the timeout. */
class Http2KeepaliveTest {
    final EmbeddedChannel ch = new EmbeddedChannel(new Http2Keepalive(Duration.ofSeconds(10), Duration.ofSeconds(20)));

    {
        ch.freezeTime(); // only advance() moves the clock: a slow machine must not fire a PING early
    }

    private Http2PingFrame sent() {
        Object o = ch.readOutbound();
        assertThat(o).isInstanceOf(Http2PingFrame.class);
        Http2PingFrame p = (Http2PingFrame) o;
        assertThat(p.ack()).isFalse();
        return p;
    }

    private void advance(long seconds) {
        ch.advanceTimeBy(seconds, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
    }

    @Test
    void anAnsweringPeerIsPingedEveryIntervalAndKept() {
        advance(9);
        assertThat((Object) ch.readOutbound()).isNull();
        for (int i = 0; i < 5; i++) {
            advance(1);
            Http2PingFrame p = sent();
            ch.writeInbound(new DefaultHttp2PingFrame(p.content(), true));
            assertThat((Object) ch.readInbound()).as("our ACKs are consumed").isNull();
            advance(9);
        }
        advance(30);
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void aPeerThatStopsAnsweringIsClosedTimeoutAfterThePing() {
        advance(10);
        sent();
        advance(10); // the next tick finds the first PING still waiting: nothing new is sent
        assertThat((Object) ch.readOutbound()).isNull();
        advance(9);
        assertThat(ch.isActive()).isTrue();
        advance(1); // 20 s after the PING
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void anAckOfAnotherPayloadDoesNotCount() {
        advance(10);
        Http2PingFrame p = sent();
        ch.writeInbound(new DefaultHttp2PingFrame(p.content() + 99, true));
        advance(20);
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void otherFramesPassAndThePeersPingsAreNotOurs() {
        DefaultHttp2PingFrame theirs = new DefaultHttp2PingFrame(5, false);
        ch.writeInbound(theirs);
        assertThat((Object) ch.readInbound()).isSameAs(theirs);
        ch.writeInbound("other");
        assertThat((Object) ch.readInbound()).isEqualTo("other");
        ch.finishAndReleaseAll();
    }

    @Test
    void badDurationsAreRefused() {
        assertThatThrownBy(() -> new Http2Keepalive(Duration.ZERO, Duration.ofSeconds(1)))
                .hasMessage("interval: PT0S (expected: > 0)");
    }
}
