package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.waypoint.testing.EchoServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The backpressure check several end-to-end tests share: a client that stops reading a 1 GiB
 * download must hold the backend back (windows, write buffers and socket buffers full, no
 * buffering in between), and reading again must let everything through.
 */
final class SlowReader {
    private SlowReader() {}

    /**
     * On tunnel {@code t} (just accepted, nothing read yet): stops reading, asks {@code backend} for
     * 1 GiB as {@code host}, checks production stops under 64 MiB with under 64 MiB more direct
     * memory in use than before, then reads again and checks the bytes flow on. Closes {@code t}.
     */
    static void holdsTheBackendBack(Channel t, EchoServer backend, String host) {
        AtomicLong received = new AtomicLong();
        t.config().setOption(ChannelOption.AUTO_READ, false);
        t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                received.addAndGet(((ByteBuf) msg).readableBytes());
                ReferenceCountUtil.release(msg);
            }
        });
        long start = backend.generatedBytes();
        // the allocator keeps what earlier tests in this JVM freed: what this download holds is the growth
        long directBefore = usedDirect();
        long size = 1L << 30; // 1 GiB: without backpressure the backend would just keep producing
        t.writeAndFlush(Unpooled.copiedBuffer("GET /bytes/" + size + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
                StandardCharsets.US_ASCII));
        // production must stop once windows, write buffers and socket buffers are full. Stopped means
        // flat for 2 s (8 samples): one flat pair of samples is just as likely a backend that did not
        // get the CPU on a busy machine.
        long[] last = {-1};
        int[] flat = {0};
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).until(() -> {
            long now = backend.generatedBytes() - start;
            flat[0] = now > 0 && now == last[0] ? flat[0] + 1 : 0;
            last[0] = now;
            return flat[0] >= 8;
        });
        long produced = backend.generatedBytes() - start;
        assertThat(produced).as("bytes produced while the client reads nothing").isLessThan(64L << 20);
        long direct = usedDirect() - directBefore;
        assertThat(direct).as("direct memory taken across client, waypoint, ztunnel and backend").isLessThan(64L << 20);
        // reading again lets the backend go on, and everything held back reaches the client
        t.config().setOption(ChannelOption.AUTO_READ, true);
        t.read();
        await().atMost(Duration.ofSeconds(30)).until(() ->
                received.get() > produced && backend.generatedBytes() - start > produced + (8 << 20));
        t.close();
    }

    private static long usedDirect() {
        return ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric().usedDirectMemory();
    }
}
