package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link FlushBatching}: a flush asked while any connection of the loop is being read waits for the end
 * of that read, once per connection, and nothing is held past it (close, removal, a read that ends
 * without {@code channelReadComplete}, lost writability). Connections are EmbeddedChannels on the test
 * thread; "source" reads and forwards every message to the connection its text names, as the exchange
 * handler forwards a request to the upstream connection.
 */
class FlushBatchingTest {
    private final Map<String, EmbeddedChannel> conns = new HashMap<>();
    private final List<String> flushes = new ArrayList<>();

    /** A connection: [flush counter] → FlushBatching → (for "source") a forwarder to the named connection. */
    private EmbeddedChannel conn(String name) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(new ChannelOutboundHandlerAdapter() {
            @Override
            public void flush(ChannelHandlerContext ctx) {
                flushes.add(name);
                ctx.flush();
            }
        });
        ch.pipeline().addLast(HandlerNames.FLUSH, FlushBatching.newHandler());
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                String to = b.toString(StandardCharsets.US_ASCII);
                conns.get(to).writeAndFlush(b);
            }
        });
        conns.put(name, ch);
        return ch;
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    @AfterEach
    void tearDown() {
        // the loop's batch is back to "no read": a flush outside a read goes straight through
        EmbeddedChannel probe = conn("probe");
        flushes.clear();
        probe.writeAndFlush(text("x"));
        assertThat(flushes).containsExactly("probe");
        assertThat((ByteBuf) probe.readOutbound()).isNotNull().matches(b -> b.release());
        for (EmbeddedChannel ch : conns.values()) {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void aFlushOutsideAnyReadGoesStraightThrough() {
        EmbeddedChannel up = conn("up");
        up.writeAndFlush(text("x"));
        assertThat(flushes).containsExactly("up");
        assertThat(up.outboundMessages()).hasSize(1);
    }

    @Test
    void flushesAskedDuringAReadWaitForItsEnd() {
        EmbeddedChannel src = conn("source");
        EmbeddedChannel up = conn("up");
        src.pipeline().fireChannelRead(text("up"));
        assertThat(up.outboundMessages()).isEmpty(); // written, not flushed
        assertThat(flushes).isEmpty();
        src.pipeline().fireChannelReadComplete();
        assertThat(up.outboundMessages()).hasSize(1);
        assertThat(flushes).containsExactly("up");
    }

    @Test
    void oneFlushPerConnectionPerRead_inTheOrderAsked() {
        EmbeddedChannel src = conn("source");
        EmbeddedChannel a = conn("a");
        EmbeddedChannel b = conn("b");
        for (String to : List.of("b", "a", "b", "b", "a")) {
            src.pipeline().fireChannelRead(text(to));
        }
        src.pipeline().fireChannelReadComplete();
        assertThat(flushes).containsExactly("b", "a");
        assertThat(a.outboundMessages()).hasSize(2);
        assertThat(b.outboundMessages()).hasSize(3);
    }

    @Test
    void theReadConnectionsOwnFlushInItsReadCompleteIsBatchedToo() {
        EmbeddedChannel src = conn("source");
        src.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                ctx.writeAndFlush(text("ack")); // as the HTTP/2 codec flushes in channelReadComplete
            }
        });
        EmbeddedChannel up = conn("up");
        src.writeInbound(text("up")); // channelRead + channelReadComplete
        assertThat(flushes).containsExactly("up", "source");
        assertThat(up.outboundMessages()).hasSize(1);
        assertThat(src.outboundMessages()).hasSize(1);
    }

    @Test
    void closingAConnectionInsideARead_flushesWhatItHasFirst() {
        EmbeddedChannel src = conn("source");
        EmbeddedChannel up = conn("up");
        src.pipeline().fireChannelRead(text("up"));
        up.close();
        assertThat(up.outboundMessages()).hasSize(1); // on the wire before the close, not failed by it
        src.pipeline().fireChannelReadComplete();
        assertThat(flushes).containsExactly("up"); // and not flushed again at the batch's end
    }

    @Test
    void aReadThatEndsWithTheConnectionGoingAway_releasesTheBatch() {
        EmbeddedChannel src = conn("source");
        EmbeddedChannel up = conn("up");
        src.pipeline().fireChannelRead(text("up"));
        src.pipeline().fireChannelInactive(); // no channelReadComplete for this read
        assertThat(up.outboundMessages()).hasSize(1);
        up.writeAndFlush(text("later"));
        assertThat(up.outboundMessages()).hasSize(2);
    }

    @Test
    void removingTheHandlerInsideARead_releasesTheBatchAndFlushesItsOwn() {
        EmbeddedChannel src = conn("source");
        EmbeddedChannel up = conn("up");
        src.pipeline().fireChannelRead(text("up"));
        up.pipeline().remove(HandlerNames.FLUSH);
        assertThat(up.outboundMessages()).hasSize(1);
        src.pipeline().remove(HandlerNames.FLUSH);
        up.writeAndFlush(text("later"));
        assertThat(up.outboundMessages()).hasSize(2);
    }

    @Test
    void losingWritabilityFlushesAtOnce() {
        EmbeddedChannel src = conn("source");
        EmbeddedChannel up = conn("up");
        up.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1, 2));
        src.pipeline().fireChannelRead(text("up")); // 2 bytes pending: over the high mark
        assertThat(up.outboundMessages()).hasSize(1);
        assertThat(up.isWritable()).isTrue();
        src.pipeline().fireChannelReadComplete();
    }
}
