package dev.waypoint.identity;

import static java.util.Objects.requireNonNull;

import dev.waypoint.model.mesh.SpiffeId;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Reads the SPIFFE identity of a TLS peer.
 *
 * <p>Istio puts the workload identity in the certificate's URI SAN, {@code
 * spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}; the subject is usually empty. The
 * first URI SAN that {@link SpiffeId#parse(String)} accepts is the identity.
 *
 * <h2>Threading</h2>
 * All methods are thread-safe. {@link #fromChannel(Channel)} caches its answer on the channel that
 * holds the {@link SslHandler}, so calling it for every request of a connection parses the peer
 * certificate once.
 */
public final class PeerIdentities {
    /** URI entry of {@link X509Certificate#getSubjectAlternativeNames()} (RFC 5280 GeneralName tag 6). */
    private static final int SAN_URI = 6;

    /**
     * Cached result for the TLS channel. Only written after a successful handshake; TLS 1.3 has no
     * renegotiation and BoringSSL refuses it for 1.2 by default, so the peer cannot change later.
     */
    private static final AttributeKey<Optional<SpiffeId>> PEER_ID =
            AttributeKey.valueOf(PeerIdentities.class, "peerSpiffeId");

    private PeerIdentities() {}

    /** The first URI SAN of {@code cert} that is an Istio SPIFFE ID; empty if there is none. */
    public static Optional<SpiffeId> fromCertificate(X509Certificate cert) {
        requireNonNull(cert, "cert");
        Collection<List<?>> sans;
        try {
            sans = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return Optional.empty();
        }
        if (sans == null) {
            return Optional.empty();
        }
        for (List<?> san : sans) {
            if (san.size() >= 2 && san.get(0) instanceof Integer type && type == SAN_URI
                    && san.get(1) instanceof String uri) {
                Optional<SpiffeId> id = SpiffeId.parse(uri);
                if (id.isPresent()) {
                    return id;
                }
            }
        }
        return Optional.empty();
    }

    /** The identity of the peer's leaf certificate; empty if the peer sent none or it has no SPIFFE ID. */
    public static Optional<SpiffeId> fromSession(SSLSession session) {
        requireNonNull(session, "session");
        Certificate[] peer;
        try {
            peer = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
        if (peer == null || peer.length == 0 || !(peer[0] instanceof X509Certificate leaf)) {
            return Optional.empty();
        }
        return fromCertificate(leaf);
    }

    /**
     * The identity of the TLS peer of {@code channel}: the {@link SslHandler} is looked up in the
     * channel's own pipeline, then in its parent's (an HTTP/2 stream channel's parent is the TLS
     * connection). Empty if there is no {@code SslHandler}, the handshake has not succeeded, or the
     * peer certificate carries no SPIFFE ID.
     */
    public static Optional<SpiffeId> fromChannel(Channel channel) {
        requireNonNull(channel, "channel");
        for (Channel c = channel; c != null; c = c.parent()) {
            SslHandler ssl = c.pipeline().get(SslHandler.class);
            if (ssl == null) {
                continue;
            }
            Optional<SpiffeId> cached = c.attr(PEER_ID).get();
            if (cached != null) {
                return cached;
            }
            Future<Channel> handshake = ssl.handshakeFuture();
            if (!handshake.isSuccess()) {
                return Optional.empty();
            }
            Optional<SpiffeId> id = fromSession(ssl.engine().getSession());
            c.attr(PEER_ID).set(id);
            return id;
        }
        return Optional.empty();
    }
}
