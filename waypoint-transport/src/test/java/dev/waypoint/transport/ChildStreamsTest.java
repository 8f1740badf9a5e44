package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link ChildStreams} on an embedded connection, with embedded channels standing in for its stream
 * channels (what it does with them is close them; the HTTP/2 side is shown end to end in
 * HeldBackTunnelEndToEndTest).
 */
class ChildStreamsTest {
    @Test
    void streamsStillOpenWhenTheConnectionGoesAwayAreClosedAndTheirHandlersSeeIt() {
        ChildStreams streams = new ChildStreams();
        EmbeddedChannel connection = new EmbeddedChannel(streams);
        AtomicBoolean inactive = new AtomicBoolean();
        EmbeddedChannel heldBack = new EmbeddedChannel(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                inactive.set(true);
            }
        });
        heldBack.config().setAutoRead(false);
        EmbeddedChannel other = new EmbeddedChannel();
        streams.track(heldBack);
        streams.track(other);
        assertThat(streams.openStreams()).isEqualTo(2);

        connection.close();

        assertThat(heldBack.isOpen()).isFalse();
        assertThat(inactive).isTrue();
        assertThat(other.isOpen()).isFalse();
        assertThat(streams.openStreams()).isZero();
    }

    @Test
    void aStreamThatClosedByItselfIsForgotten() {
        ChildStreams streams = new ChildStreams();
        EmbeddedChannel connection = new EmbeddedChannel(streams);
        EmbeddedChannel done = new EmbeddedChannel();
        streams.track(done);
        streams.track(done); // tracked once
        assertThat(streams.openStreams()).isEqualTo(1);

        done.close();

        assertThat(streams.openStreams()).isZero();
        connection.close();
    }

    @Test
    void aStreamThatStartsAfterTheConnectionWentAwayIsClosedAtOnce() {
        ChildStreams streams = new ChildStreams();
        EmbeddedChannel connection = new EmbeddedChannel(streams);
        connection.close();
        EmbeddedChannel late = new EmbeddedChannel();

        streams.track(late);

        assertThat(late.isOpen()).isFalse();
        assertThat(streams.openStreams()).isZero();
    }

    @Test
    void theConnectionsOwnEventsPassOn() {
        ChildStreams streams = new ChildStreams();
        AtomicBoolean inactive = new AtomicBoolean();
        EmbeddedChannel connection = new EmbeddedChannel(streams, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                inactive.set(true);
            }
        });
        connection.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        assertThat(connection.<io.netty.buffer.ByteBuf>readInbound().release()).isTrue();

        connection.close();

        assertThat(inactive).isTrue();
    }
}
