package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.timeout.IdleStateEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link Relay} between a client's CONNECT stream and each kind of upstream: a plaintext socket
 * (a pod outside the mesh) and an outbound HBONE stream. Each test states exactly what each end
 * is sent — bytes, END_STREAM / FIN, RST_STREAM / RST — in order, that both ends close when they
 * should, and that every buffer ends with a reference count of 0 (each is released exactly once,
 * by whoever ends up owning it).
 */
class RelayTest {
    enum Upstream { SOCKET, STREAM }

    private TestEnds.Stream client;
    private TestEnds.End upstream;
    private final List<ByteBuf> sent = new ArrayList<>();

    private void start(Upstream kind) {
        start(kind, () -> { });
    }

    private void start(Upstream kind, Runnable beforeFirstRead) {
        client = new TestEnds.Stream(null);
        client.pipeline().addLast("tunnel", new TunnelFrameAdapter());
        if (kind == Upstream.SOCKET) {
            upstream = new TestEnds.Socket(client);
        } else {
            upstream = new TestEnds.Stream(client);
            upstream.pipeline().addLast("tunnel", new TunnelFrameAdapter());
        }
        Relay.start(client, upstream, beforeFirstRead);
    }

    @AfterEach
    void noLeaks() {
        if (client != null) {
            client.finishAndReleaseAll();
            upstream.finishAndReleaseAll();
        }
        // every buffer a test put in was released exactly once, by whoever ended up owning it
        assertThat(sent).allSatisfy(b -> assertThat(b.refCnt()).isZero());
    }

    // --- what arrives ---

    private ByteBuf bytes(String s) {
        ByteBuf b = s.isEmpty() ? Unpooled.buffer(0) : Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
        sent.add(b);
        return b;
    }

    private void clientSends(String s, boolean endStream) {
        client.writeInbound(new DefaultHttp2DataFrame(bytes(s), endStream));
    }

    private void upstreamSends(String s) {
        if (upstream instanceof TestEnds.Socket) {
            upstream.writeInbound(bytes(s));
        } else {
            upstream.writeInbound(new DefaultHttp2DataFrame(bytes(s), false));
        }
    }

    /** The upstream's FIN (socket) or END_STREAM (its ztunnel: the pod closed). */
    private void upstreamEnds() {
        if (upstream instanceof TestEnds.Socket) {
            upstream.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            upstream.pipeline().fireChannelReadComplete();
        } else {
            upstream.writeInbound(new DefaultHttp2DataFrame(bytes(""), true));
        }
        settle();
    }

    private void settle() {
        client.runPendingTasks(); // one loop for both ends
    }

    // --- what leaves ---

    /**
     * What {@code end} was sent since last asked, releasing it: {@code bytes:…} on a socket,
     * {@code data:…[+END_STREAM]} and {@code RST_STREAM(code)} on a stream, {@code FIN}. The
     * relay's empty write barriers are not listed.
     */
    private static List<String> sentTo(EmbeddedChannel end) {
        List<String> out = new ArrayList<>();
        for (Object m; (m = end.readOutbound()) != null; ) {
            if (m instanceof Http2DataFrame d) {
                out.add("data:" + d.content().toString(StandardCharsets.UTF_8) + (d.isEndStream() ? "+END_STREAM" : ""));
                if (d.content() != Unpooled.EMPTY_BUFFER) {
                    assertThat(d.release()).as("the frame held the last reference").isTrue();
                }
            } else if (m instanceof Http2ResetFrame r) {
                out.add("RST_STREAM(" + Http2Error.valueOf(r.errorCode()) + ")");
            } else if (m instanceof ByteBuf b) {
                if (b.isReadable()) {
                    out.add("bytes:" + b.toString(StandardCharsets.UTF_8));
                }
                if (b != Unpooled.EMPTY_BUFFER) {
                    assertThat(b.release()).as("the socket got the last reference").isTrue();
                }
            } else {
                out.add(String.valueOf(m));
            }
        }
        return out;
    }

    private List<String> toUpstream(String s) {
        return List.of(upstream instanceof TestEnds.Socket ? "bytes:" + s : "data:" + s);
    }

    private String upstreamEof() {
        return upstream instanceof TestEnds.Socket ? TestEnds.FIN : "data:+END_STREAM";
    }

    private String upstreamReset() {
        return upstream instanceof TestEnds.Socket ? "RST" : "RST_STREAM(CONNECT_ERROR)";
    }

    /** The socket's close was a reset (SO_LINGER 0), or the stream's RST_STREAM, as a line. */
    private List<String> upstreamResetSeen() {
        List<String> out = sentTo(upstream);
        if (upstream instanceof TestEnds.Socket s && Integer.valueOf(0).equals(s.linger())) {
            out.add("RST");
        }
        return out;
    }

    // --- the tests ---

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void bytesGoBothWaysAndOwnershipMovesWithThem(Upstream kind) {
        start(kind);
        clientSends("hello", false);
        assertThat(sentTo(upstream)).isEqualTo(toUpstream("hello"));
        upstreamSends("world");
        assertThat(sentTo(client)).containsExactly("data:world");
        assertThat(client.isActive()).isTrue();
        assertThat(upstream.isActive()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void clientEndsFirstThenTheUpstream(Upstream kind) {
        start(kind);
        clientSends("ping", true); // the data and END_STREAM in one frame
        settle();
        assertThat(sentTo(upstream)).containsExactly(toUpstream("ping").get(0), upstreamEof());
        assertThat(client.isActive()).as("the other direction is still open").isTrue();
        assertThat(upstream.isActive()).isTrue();

        upstreamSends("pong");
        upstreamEnds();
        assertThat(sentTo(client)).containsExactly("data:pong", "data:+END_STREAM");
        assertThat(client.isActive()).isFalse();
        assertThat(upstream.isActive()).isFalse();
        assertThat(upstreamResetSeen()).isEmpty(); // closed, not reset
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void upstreamEndsFirstThenTheClient(Upstream kind) {
        start(kind);
        clientSends("ping", false);
        upstreamSends("bye");
        upstreamEnds();
        assertThat(sentTo(client)).containsExactly("data:bye", "data:+END_STREAM");
        assertThat(client.isActive()).as("the other direction is still open").isTrue();

        clientSends("more", false);
        clientSends("", true);
        settle();
        assertThat(sentTo(upstream)).containsExactly(toUpstream("ping").get(0), toUpstream("more").get(0), upstreamEof());
        assertThat(client.isActive()).isFalse();
        assertThat(upstream.isActive()).isFalse();
        assertThat(sentTo(client)).isEmpty(); // no RST_STREAM after the END_STREAM
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void anUpstreamResetResetsTheClient(Upstream kind) {
        start(kind);
        upstreamSends("partial");
        resetByUpstream();
        assertThat(sentTo(client)).containsExactly("data:partial", "RST_STREAM(CONNECT_ERROR)");
        assertThat(client.isActive()).isFalse();
        assertThat(upstream.isActive()).isFalse();
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void anUpstreamResetAfterTheClientEndedIsStillAReset(Upstream kind) {
        start(kind);
        clientSends("request", true);
        settle();
        sentTo(upstream);
        resetByUpstream();
        // not END_STREAM: the client must not take a cut-off answer for a whole one
        assertThat(sentTo(client)).containsExactly("RST_STREAM(CONNECT_ERROR)");
        assertThat(client.isActive()).isFalse();
    }

    private void resetByUpstream() {
        if (upstream instanceof TestEnds.Socket) {
            upstream.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        } else {
            upstream.pipeline().fireUserEventTriggered(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        }
        settle();
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void aClientResetResetsTheUpstream(Upstream kind) {
        start(kind);
        clientSends("half a request", false);
        sentTo(upstream);
        client.pipeline().fireUserEventTriggered(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        assertThat(client.isActive()).as("not closed inside the codec's RST_STREAM callback").isTrue();
        settle();
        assertThat(client.isActive()).isFalse();
        assertThat(upstream.isActive()).isFalse();
        assertThat(upstreamResetSeen()).containsExactly(upstreamReset());
        assertThat(sentTo(client)).as("no RST_STREAM in answer to one").isEmpty();
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void aClientResetAfterTheUpstreamEndedStillResetsIt(Upstream kind) {
        start(kind);
        upstreamEnds();
        sentTo(client);
        client.pipeline().fireUserEventTriggered(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        settle();
        assertThat(upstream.isActive()).isFalse();
        assertThat(upstreamResetSeen()).containsExactly(upstreamReset());
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void theClientGoingAwayWithoutAResetResetsTheUpstream(Upstream kind) {
        start(kind);
        client.close(); // e.g. its HBONE connection closed: the stream just ends
        settle();
        assertThat(upstream.isActive()).isFalse();
        assertThat(upstreamResetSeen()).containsExactly(upstreamReset());
    }

    @ParameterizedTest
    @EnumSource(Upstream.class)
    void idleTunnelsAreReset(Upstream kind) {
        start(kind);
        upstream.pipeline().fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        settle();
        assertThat(upstream.isActive()).isFalse();
        assertThat(sentTo(client)).containsExactly("RST_STREAM(CONNECT_ERROR)");
        assertThat(client.isActive()).isFalse();
    }

    @Test
    void theClientsLastBytesReachASlowSocketBeforeTheFin() {
        start(Upstream.SOCKET);
        TestEnds.Socket socket = (TestEnds.Socket) upstream;
        socket.stalled = true; // the pod reads nothing for now
        clientSends("x".repeat(100_000), true);
        settle();
        assertThat(socket.outputShutdown).as("FIN waits for the bytes queued before it").isFalse();
        socket.unstall();
        settle();
        assertThat(sentTo(socket)).containsExactly("bytes:" + "x".repeat(100_000), TestEnds.FIN);
    }

    @Test
    void readingStopsWhileThePeerIsUnwritableAndResumesWhenItDrains() {
        start(Upstream.SOCKET);
        upstream.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));
        upstream.stalled = true;
        int reads = client.reads;
        clientSends("more than sixteen bytes", false);
        assertThat(upstream.isWritable()).isFalse();
        assertThat(client.reads).as("no read while the upstream is unwritable").isEqualTo(reads);
        upstream.unstall();
        assertThat(upstream.isWritable()).isTrue();
        assertThat(client.reads).as("read again once it drained").isEqualTo(reads + 1);
        assertThat(sentTo(upstream)).containsExactly("bytes:more than sixteen bytes");
    }

    @Test
    void whatAHandlerReadAheadIsRelayedBeforeTheFirstRead() {
        int[] readsBefore = {-1};
        start(Upstream.SOCKET, () -> {
            readsBefore[0] = client.reads;
            ByteBuf early = bytes("early");
            client.pipeline().context("tunnel").fireChannelRead(early);
            client.pipeline().context("tunnel").fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        });
        settle();
        assertThat(client.reads).as("the relay's first read came after the replay").isEqualTo(readsBefore[0] + 1);
        assertThat(sentTo(upstream)).containsExactly("bytes:early", TestEnds.FIN);
    }

    @Test
    void bytesForAnEndThatIsGoneAreReleased() {
        start(Upstream.SOCKET);
        // inactive now; its channelInactive (which resets the client) runs later, as on a real loop
        upstream.closeAsTransport();
        ByteBuf late = bytes("late");
        client.pipeline().context("tunnel").fireChannelRead(late);
        assertThat(late.refCnt()).isZero();
        settle();
        assertThat(sentTo(client)).containsExactly("RST_STREAM(CONNECT_ERROR)");
    }

    @Test
    void endsOnTwoEventLoopsAreRefused() {
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        assertThatThrownBy(() -> Relay.start(a, b)).isInstanceOf(IllegalArgumentException.class);
        a.finish();
        b.finish();
    }
}
