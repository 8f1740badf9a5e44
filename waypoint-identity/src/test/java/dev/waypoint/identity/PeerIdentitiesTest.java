package dev.waypoint.identity;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.SpiffeId;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PeerIdentitiesTest {
    private static final TestCerts CA = TestCerts.ca();
    private static final SpiffeId ID = new SpiffeId("cluster.local", "default", "sleep");

    record SanCase(String name, String[] uris, Optional<SpiffeId> expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<SanCase> sans() {
        return Stream.of(
                new SanCase("istio spiffe id", new String[] {ID.uri()}, Optional.of(ID)),
                new SanCase("no URI SAN", new String[] {}, Optional.empty()),
                new SanCase("https URI only", new String[] {"https://sleep.default"}, Optional.empty()),
                new SanCase("spiffe but not ns/sa", new String[] {"spiffe://cluster.local/sleep"}, Optional.empty()),
                new SanCase("first parsable wins", new String[] {"spiffe://td/x", ID.uri(),
                        "spiffe://other/ns/a/sa/b"}, Optional.of(ID)),
                new SanCase("other trust domain", new String[] {"spiffe://corp.example/ns/a/sa/b"},
                        Optional.of(new SpiffeId("corp.example", "a", "b"))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sans")
    void fromCertificate(SanCase c) {
        assertThat(PeerIdentities.fromCertificate(CA.issue(TestCerts.KeyType.EC, c.uris()).chain()[0]))
                .isEqualTo(c.expected());
    }

    @Test
    void rootHasNoIdentity() {
        assertThat(PeerIdentities.fromCertificate(CA.root)).isEmpty();
    }

    @Test
    void channelWithoutTlsHasNoPeer() {
        EmbeddedChannel parent = new EmbeddedChannel();
        EmbeddedChannel child = new EmbeddedChannel(parent, DefaultChannelId.newInstance(), true, false);
        try {
            assertThat(PeerIdentities.fromChannel(parent)).isEmpty();
            assertThat(PeerIdentities.fromChannel(child)).isEmpty();
        } finally {
            child.finishAndReleaseAll();
            parent.finishAndReleaseAll();
        }
    }

    @Test
    void channelBeforeHandshakeHasNoPeer() {
        TlsMaterial m = CA.issue(ID.uri()).material();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(m.serverContext().newHandler(ch.alloc()));
        try {
            assertThat(PeerIdentities.fromChannel(ch)).isEmpty();
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
