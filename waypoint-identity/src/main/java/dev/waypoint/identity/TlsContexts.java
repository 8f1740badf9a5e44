package dev.waypoint.identity;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.stream.Stream;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSessionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds the HBONE server and client {@link SslContext}s (see {@link TlsMaterial} for the contract). */
final class TlsContexts {
    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);

    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    /**
     * ztunnel's suites (src/tls/lib.rs): TLS 1.3 AES-GCM, and for TLS 1.2 ECDHE with AES-GCM only.
     * IANA names; Netty maps them to OpenSSL names for BoringSSL.
     */
    static final List<String> TLS12_CIPHERS = List.of(
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");

    /**
     * BoringSSL cannot restrict TLS 1.3 suites: it always enables AES-128-GCM, AES-256-GCM and
     * ChaCha20-Poly1305 (Netty logs an INFO line per context if asked for anything else). So with
     * BoringSSL we state the set it really uses; the JDK provider gets ztunnel's AES-GCM pair.
     */
    private static final List<String> TLS13_CIPHERS_BORINGSSL =
            List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

    private static final List<String> TLS13_CIPHERS_JDK = List.of("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256");

    /** ALPN {@code h2} only. NO_ADVERTISE + ACCEPT are the only behaviours BoringSSL supports. */
    static final ApplicationProtocolConfig ALPN_H2 = new ApplicationProtocolConfig(
            Protocol.ALPN,
            SelectorFailureBehavior.NO_ADVERTISE,
            SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2);

    /** Chosen once per process. */
    static final SslProvider PROVIDER = chooseProvider();

    static final List<String> CIPHERS = ciphers(PROVIDER);

    private TlsContexts() {}

    private static SslProvider chooseProvider() {
        if (OpenSsl.isAvailable()) {
            return SslProvider.OPENSSL;
        }
        log.warn("BoringSSL (netty-tcnative) is not available, falling back to the JDK TLS provider",
                OpenSsl.unavailabilityCause());
        return SslProvider.JDK;
    }

    private static List<String> ciphers(SslProvider provider) {
        List<String> tls13 = provider == SslProvider.JDK ? TLS13_CIPHERS_JDK : TLS13_CIPHERS_BORINGSSL;
        return Stream.concat(tls13.stream(), TLS12_CIPHERS.stream()).toList();
    }

    /**
     * Peer chains are verified in Java (the JDK PKIX trust manager, called back from BoringSSL); a
     * chain to none of the roots is refused with {@code unknown_ca} ({@link PeerChainTrust}).
     */
    static SslContext server(X509Certificate[] chain, PrivateKey key, List<X509Certificate> roots) {
        SslContextBuilder b = SslContextBuilder.forServer(key, chain)
                .trustManager(PeerChainTrust.forRoots(roots))
                .clientAuth(ClientAuth.REQUIRE);
        return build(common(b), "server");
    }

    static SslContext client(X509Certificate[] chain, PrivateKey key, List<X509Certificate> roots) {
        SslContextBuilder b = SslContextBuilder.forClient()
                .keyManager(key, chain)
                .trustManager(PeerChainTrust.forRoots(roots))
                // Netty 4.2 turns on HTTPS hostname verification for clients by default. Mesh peers
                // are identified by their URI SAN, and handlers are made without a peer host.
                .endpointIdentificationAlgorithm(null);
        return build(common(b), "client");
    }

    private static SslContextBuilder common(SslContextBuilder b) {
        return b.sslProvider(PROVIDER)
                // Netty hands the key and chain to the key manager through an in-memory KeyStore
                // that never leaves the process. The default type, PKCS12, encrypts the key on the
                // way in and decrypts it on the way out with 10,000 PBKDF2 rounds each: ~200 ms of
                // CPU per start (and per certificate renewal) in a cold JVM. JKS's key protection
                // is one cheap pass (benchmarks/RESULTS.md, "Issue 17: start, RSS and idle tunnels").
                .keyStoreType("JKS")
                .protocols(PROTOCOLS)
                .ciphers(CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                .applicationProtocolConfig(ALPN_H2);
    }

    private static SslContext build(SslContextBuilder b, String side) {
        SslContext ctx;
        try {
            ctx = b.build();
        } catch (SSLException e) {
            throw new IllegalArgumentException("cannot build the TLS " + side + " context (" + e.getMessage() + ')', e);
        }
        disableResumption(ctx.sessionContext());
        return ctx;
    }

    /**
     * ztunnel disables resumption on its client; we turn it off on both sides so every connection
     * is a full handshake against the current roots. With BoringSSL, Netty already leaves session
     * tickets off unless ticket keys are set; this turns the session-ID cache off too. The JDK
     * provider offers no switch, so it keeps its default.
     */
    private static void disableResumption(SSLSessionContext sessions) {
        if (sessions instanceof OpenSslSessionContext openSsl) {
            openSsl.setSessionCacheEnabled(false);
        }
    }
}
