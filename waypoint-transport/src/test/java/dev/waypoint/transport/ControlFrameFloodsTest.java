package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ControlFrameFloods} on Netty's real server codecs (the HBONE connection's and the nested
 * h2c connection's), fed a client's raw frames: up to
 * Envoy's limits everything is read; one frame past them ends the connection with GOAWAY
 * ENHANCE_YOUR_CALM.
 */
class ControlFrameFloodsTest {
    private static final int PRIORITY = 0x2;
    private static final int WINDOW_UPDATE = 0x8;
    private static final int GOAWAY = 0x7;

    /**
     * A case: the client opens {@code streams} streams, the server writes {@code dataFrames} DATA
     * frames on the first, then the client sends frames of {@code type}; {@code allowed} of them
     * are read, the next one ends the connection.
     */
    record Case(String name, int type, int streams, int dataFrames, int dataBytes, long allowed) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Case> cases() {
        int p = ControlFrameFloods.PRIORITY_PER_STREAM;
        int w = ControlFrameFloods.WINDOW_UPDATES_PER_DATA_FRAME;
        return List.of(
                new Case("PRIORITY, no stream opened", PRIORITY, 0, 0, 1, p),
                new Case("PRIORITY, one stream", PRIORITY, 1, 0, 1, p * 2L),
                new Case("PRIORITY, three streams", PRIORITY, 3, 0, 1, p * 4L),
                new Case("WINDOW_UPDATE, nothing sent", WINDOW_UPDATE, 0, 0, 1, 5),
                new Case("WINDOW_UPDATE, two streams, nothing sent", WINDOW_UPDATE, 2, 0, 1, 5 + 2 * 2),
                new Case("WINDOW_UPDATE, one stream, 3 DATA frames sent", WINDOW_UPDATE, 1, 3, 1, 5 + 2 * (1 + w * 3L)),
                // one 40 KiB write leaves as three frames (the client's 16 KiB SETTINGS_MAX_FRAME_SIZE): three count
                new Case("WINDOW_UPDATE, one stream, one write of 40 KiB", WINDOW_UPDATE, 1, 1, 40 << 10, 5 + 2 * (1 + w * 3L)));
    }

    /** The two codecs bounded: the HBONE connection's, and the h2c connection nested in a tunnel. */
    enum Codec {
        /** {@link ControlFrameFloods#serverCodec}: an Http2FrameCodec whose decoder's listener counts. */
        HBONE,
        /** {@link ControlFrameFloods#nestedServerLogger} on Netty's Http2MultiplexCodec: its frame logger counts. */
        NESTED_H2C
    }

    static Stream<Arguments> codecsAndCases() {
        return Stream.of(Codec.values()).flatMap(k -> cases().stream().map(c -> Arguments.of(k, c)));
    }

    /** A server codec in an embedded channel, and what it did: streams opened, errors passed on. */
    record Server(Codec codec, EmbeddedChannel ch, List<Http2FrameStream> opened, List<Http2StreamChannel> children,
                  List<Throwable> passedOn) {
        /** How many streams the codec opened (as frames to the next handler, or as child channels). */
        int streams() {
            return codec == Codec.HBONE ? opened.size() : children.size();
        }
    }

    private static Server server(Codec codec) {
        return server(codec, Http2Settings.defaultSettings());
    }

    @SuppressWarnings("deprecation")
    private static Server server(Codec codec, Http2Settings settings) {
        List<Http2FrameStream> opened = new ArrayList<>();
        List<Http2StreamChannel> children = new ArrayList<>();
        List<Throwable> passedOn = new ArrayList<>();
        ChannelInboundHandlerAdapter after = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof Http2HeadersFrame h) {
                    opened.add(h.stream());
                }
                ReferenceCountUtil.release(msg);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                passedOn.add(cause); // the codec passes a connection error on after its GOAWAY (PeerFaults logs it)
            }
        };
        EmbeddedChannel ch = switch (codec) {
            case HBONE -> new EmbeddedChannel(ControlFrameFloods.serverCodec("hbone.frames").initialSettings(settings).build(), after);
            case NESTED_H2C -> new EmbeddedChannel(io.netty.handler.codec.http2.Http2MultiplexCodecBuilder
                    .forServer(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel stream) {
                            children.add(stream);
                            stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    ReferenceCountUtil.release(msg);
                                }
                            });
                        }
                    })
                    .frameLogger(ControlFrameFloods.nestedServerLogger("hbone.h2c.frames"))
                    .initialSettings(settings)
                    .build(), after);
        };
        // the client's SETTINGS, and its ACK of the server's (which applies SETTINGS_MAX_CONCURRENT_STREAMS)
        ch.writeInbound(Unpooled.wrappedBuffer(Http2CodecUtil.connectionPrefaceBuf()), frame(0x4, 0, 0, Unpooled.EMPTY_BUFFER),
                frame(0x4, 0x1, 0, Unpooled.EMPTY_BUFFER));
        return new Server(codec, ch, opened, children, passedOn);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("codecsAndCases")
    void framesUpToTheLimitAreReadAndTheNextEndsTheConnection(Codec codec, Case c) {
        Server server = server(codec);
        EmbeddedChannel ch = server.ch();
        List<Http2FrameStream> opened = server.opened();
        List<Http2StreamChannel> children = server.children();
        List<Throwable> passedOn = server.passedOn();
        for (int i = 0; i < c.streams(); i++) {
            ch.writeInbound(headers(1 + 2 * i));
        }
        ch.runPendingTasks();
        assertThat(server.streams()).isEqualTo(c.streams());
        for (int i = 0; i < c.dataFrames(); i++) {
            ByteBuf payload = Unpooled.wrappedBuffer(new byte[c.dataBytes()]);
            if (codec == Codec.HBONE) {
                ch.writeOutbound(new DefaultHttp2DataFrame(payload).stream(opened.get(0)));
            } else {
                children.get(0).writeAndFlush(new DefaultHttp2DataFrame(payload));
                ch.runPendingTasks();
            }
        }
        drainOutbound(ch);
        IntFunction<ByteBuf> next = i -> c.type() == PRIORITY
                ? frame(PRIORITY, 0, 101 + 2 * (i % 50), Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 15}))
                : frame(WINDOW_UPDATE, 0, c.streams() > 0 && i % 2 == 1 ? 1 : 0, Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 1}));

        for (int i = 0; i < c.allowed(); i++) {
            ch.writeInbound(next.apply(i));
        }
        assertThat(goAwayCode(drainOutbound(ch))).as("no GOAWAY within the limit").isNull();
        assertThat(ch.isOpen()).isTrue();
        assertThat(passedOn).isEmpty();

        ch.writeInbound(next.apply((int) c.allowed()));
        assertThat(goAwayCode(drainOutbound(ch))).isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code());
        assertThat(ch.isOpen()).isFalse();
        assertThat(passedOn).singleElement().asString().contains(c.type() == PRIORITY ? "PRIORITY" : "WINDOW_UPDATE");
        ch.finishAndReleaseAll();
    }

    /**
     * The frame past the limit ends the read where it is: a HEADERS right behind it in the same
     * bytes opens no stream (the connection is going away).
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Codec.class)
    void nothingAfterTheFramePastTheLimitIsRead(Codec codec) {
        Server server = server(codec);
        EmbeddedChannel ch = server.ch();
        ch.writeInbound(headers(1));
        ch.runPendingTasks();
        assertThat(server.streams()).isEqualTo(1);
        drainOutbound(ch);

        ByteBuf burst = Unpooled.buffer();
        for (int i = 0; i <= ControlFrameFloods.PRIORITY_PER_STREAM * 2; i++) { // one past 100 x (1 + 1 stream)
            ByteBuf f = frame(PRIORITY, 0, 101 + 2 * (i % 50), Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 15}));
            burst.writeBytes(f);
            f.release();
        }
        ByteBuf h = headers(3);
        burst.writeBytes(h);
        h.release();
        ch.writeInbound(burst);
        ch.runPendingTasks();

        assertThat(goAwayCode(drainOutbound(ch))).isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code());
        assertThat(server.streams()).as("the HEADERS after the flood opened no stream").isEqualTo(1);
        assertThat(server.passedOn()).singleElement().asString().contains("PRIORITY");
        ch.finishAndReleaseAll();
    }

    /** A stream refused past SETTINGS_MAX_CONCURRENT_STREAMS was not opened: it earns no PRIORITY allowance. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Codec.class)
    void refusedStreamsEarnNoAllowance(Codec codec) {
        Server server = server(codec, Http2Settings.defaultSettings().maxConcurrentStreams(1));
        EmbeddedChannel ch = server.ch();
        ch.writeInbound(headers(1)); // open, never ended: the one stream allowed
        ch.writeInbound(headers(3), headers(5), headers(7)); // refused (RST_STREAM REFUSED_STREAM)
        ch.runPendingTasks();
        assertThat(server.streams()).isEqualTo(1);
        drainOutbound(ch);
        for (int i = 0; i < ControlFrameFloods.PRIORITY_PER_STREAM * 2; i++) { // 100 x (1 + 1 stream opened)
            ch.writeInbound(frame(PRIORITY, 0, 101 + 2 * (i % 50), Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 15})));
        }
        assertThat(goAwayCode(drainOutbound(ch))).as("no GOAWAY within the limit").isNull();
        ch.writeInbound(frame(PRIORITY, 0, 201, Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 15})));
        assertThat(goAwayCode(drainOutbound(ch))).as("the three refused streams added nothing")
                .isEqualTo(Http2Error.ENHANCE_YOUR_CALM.code());
        ch.finishAndReleaseAll();
    }

    /** A frame: 9-byte header and payload (released by the codec). */
    private static ByteBuf frame(int type, int flags, int streamId, ByteBuf payload) {
        ByteBuf b = Unpooled.buffer(9 + payload.readableBytes());
        b.writeMedium(payload.readableBytes()).writeByte(type).writeByte(flags).writeInt(streamId).writeBytes(payload);
        payload.release();
        return b;
    }

    /** HEADERS with END_HEADERS opening {@code streamId}: GET http://a/ in HPACK (static table + one literal). */
    private static ByteBuf headers(int streamId) {
        byte[] block = {(byte) 0x82, (byte) 0x86, (byte) 0x84, 0x01, 0x01, 'a'};
        return frame(0x1, 0x4, streamId, Unpooled.wrappedBuffer(block));
    }

    /** Everything the codec wrote, as one buffer. */
    private static ByteBuf drainOutbound(EmbeddedChannel ch) {
        ByteBuf all = Unpooled.buffer();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            all.writeBytes(b);
            b.release();
        }
        return all;
    }

    /** The error code of the first GOAWAY in {@code out} (released), or null. */
    private static Long goAwayCode(ByteBuf out) {
        try {
            while (out.readableBytes() >= 9) {
                int length = out.readUnsignedMedium();
                int type = out.readUnsignedByte();
                out.skipBytes(5);
                if (type == GOAWAY) {
                    out.skipBytes(4);
                    return out.readUnsignedInt();
                }
                out.skipBytes(length);
            }
            return null;
        } finally {
            out.release();
        }
    }
}
