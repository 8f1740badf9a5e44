package dev.waypoint.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What the sinks at the end of a pipeline keep from Netty's tail, and what they let through. */
class PeerFaultsTest {
    @Test
    void aPeersFaultIsAnHttp2OrIoErrorEvenWrapped() {
        assertThat(PeerFaults.isPeerFault(Http2Exception.connectionError(Http2Error.PROTOCOL_ERROR, "x"))).isTrue();
        assertThat(PeerFaults.isPeerFault(new DecoderException(new IOException("reset")))).isTrue();
        assertThat(PeerFaults.isPeerFault(new IllegalStateException("ours"))).isFalse();
    }

    /**
     * The nested sink keeps the inner codec's connection error from the tunnel's tail (which would
     * reset the tunnel before the codec's GOAWAY), and passes anything else on to it.
     */
    @Test
    void theNestedSinkKeepsConnectionErrorsAndPassesTheRestOn() {
        EmbeddedChannel tunnel = new EmbeddedChannel(PeerFaults.nestedConnectionSink(LoggerFactory.getLogger("test")));
        tunnel.pipeline().fireExceptionCaught(Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM, "flood"));
        tunnel.checkException(); // nothing reached the tail
        assertThat(tunnel.isOpen()).isTrue();

        tunnel.pipeline().fireExceptionCaught(new IllegalStateException("ours"));
        assertThatThrownBy(tunnel::checkException).isInstanceOf(IllegalStateException.class).hasMessage("ours");
        tunnel.finishAndReleaseAll();
    }

    @Test
    void theConnectionSinkKeepsEverything() {
        EmbeddedChannel connection = new EmbeddedChannel(PeerFaults.connectionSink(LoggerFactory.getLogger("test")));
        connection.pipeline().fireExceptionCaught(Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM, "flood"));
        connection.pipeline().fireExceptionCaught(new IOException("reset"));
        connection.pipeline().fireExceptionCaught(new IllegalStateException("ours"));
        connection.checkException();
        connection.finishAndReleaseAll();
    }
}
