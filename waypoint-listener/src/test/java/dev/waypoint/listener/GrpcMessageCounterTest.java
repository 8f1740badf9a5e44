package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** gRPC messages counted across any chunking of the length-prefixed stream. */
class GrpcMessageCounterTest {
    /** A body of messages with these payload sizes. */
    static byte[] body(int... sizes) {
        int total = 0;
        for (int s : sizes) {
            total += 5 + s;
        }
        byte[] b = new byte[total];
        int i = 0;
        for (int s : sizes) {
            b[i] = 0; // not compressed
            b[i + 1] = (byte) (s >>> 24);
            b[i + 2] = (byte) (s >>> 16);
            b[i + 3] = (byte) (s >>> 8);
            b[i + 4] = (byte) s;
            for (int k = 0; k < s; k++) {
                b[i + 5 + k] = 0x05; // payload bytes that look like a prefix would mislead a naive scan
            }
            i += 5 + s;
        }
        return b;
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                // name, payload sizes, chunk size (0: one chunk), messages
                Arguments.of("one message, one chunk", new int[] {10}, 0, 1),
                Arguments.of("three messages, one chunk", new int[] {3, 0, 300}, 0, 3),
                Arguments.of("empty messages", new int[] {0, 0, 0, 0}, 0, 4),
                Arguments.of("byte by byte", new int[] {7, 1, 70000}, 1, 3),
                Arguments.of("chunks splitting prefixes", new int[] {2, 2, 2, 2}, 3, 4),
                Arguments.of("a large message over many chunks", new int[] {1 << 20, 5}, 16384, 2),
                Arguments.of("no body", new int[] {}, 0, 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void countsMessagesWhateverTheChunking(String name, int[] sizes, int chunk, int expected) {
        byte[] b = body(sizes);
        GrpcMessageCounter counter = new GrpcMessageCounter();
        List<ByteBuf> chunks = new ArrayList<>();
        int step = chunk == 0 ? Math.max(1, b.length) : chunk;
        for (int i = 0; i < b.length; i += step) {
            chunks.add(Unpooled.wrappedBuffer(b, i, Math.min(step, b.length - i)));
        }
        int n = 0;
        for (ByteBuf c : chunks) {
            int before = c.readerIndex();
            n += counter.count(c);
            assertThat(c.readerIndex()).as("the chunk is left for the upstream").isEqualTo(before);
            c.release();
        }
        assertThat(n).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aCallCutOffAfterAPrefixCountsThatMessage(String name, int[] sizes, int chunk, int expected) {
        if (sizes.length == 0 || sizes[sizes.length - 1] == 0) {
            return;
        }
        byte[] b = body(sizes);
        GrpcMessageCounter counter = new GrpcMessageCounter();
        ByteBuf cut = Unpooled.wrappedBuffer(b, 0, b.length - 1); // the last payload byte never comes
        assertThat(counter.count(cut)).isEqualTo(expected);
        cut.release();
    }
}
