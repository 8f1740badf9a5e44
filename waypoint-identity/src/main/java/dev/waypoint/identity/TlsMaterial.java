package dev.waypoint.identity;

import static java.util.Objects.requireNonNull;

import dev.waypoint.model.mesh.SpiffeId;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One immutable set of mesh TLS material: this proxy's SPIFFE identity, its certificate chain and
 * key, the mesh roots, and the two Netty {@link SslContext}s built from them.
 *
 * <p>Both contexts are built once, when the material is loaded. Handlers come from {@code
 * serverContext().newHandler(alloc)} and {@code clientContext().newHandler(alloc)}; pass no peer
 * host, so no SNI is sent (ztunnel neither sends nor matches SNI on 15008).
 *
 * <ul>
 *   <li>Provider: BoringSSL (netty-tcnative) when {@link io.netty.handler.ssl.OpenSsl#isAvailable()},
 *       else the JDK provider with a logged warning.
 *   <li>TLS 1.3 and 1.2, ztunnel's suites: TLS 1.3 AES-256/128-GCM, TLS 1.2
 *       ECDHE-ECDSA/RSA-AES-256/128-GCM. BoringSSL does not let TLS 1.3 suites be restricted, so
 *       with it TLS 1.3 also allows ChaCha20-Poly1305.
 *   <li>ALPN {@code h2} only; a peer that offers no {@code h2} gets no protocol selected.
 *   <li>Server: presents the chain, requires a client certificate chaining to {@link #roots()}.
 *   <li>Client: presents the same chain (the waypoint is one identity in both directions),
 *       verifies the server chain against {@link #roots()}, no hostname verification (identity is
 *       the URI SAN, checked by the caller with {@link PeerIdentities}), no session resumption.
 * </ul>
 *
 * <p>Chain validation only proves "issued by the mesh CA"; which SPIFFE ID is acceptable (the
 * expected destination identity outbound, the trust domain inbound) is decided by the caller.
 *
 * <h2>Lifecycle</h2>
 * The contexts are not reference counted ({@code SslProvider.OPENSSL}, not {@code OPENSSL_REFCNT});
 * they are freed by the garbage collector once no connection holds an engine from them, so
 * replaced material needs no explicit release.
 */
public final class TlsMaterial {
    static final String CERT_CHAIN = "cert-chain.pem";
    static final String KEY = "key.pem";
    static final String ROOT_CERT = "root-cert.pem";

    private final SpiffeId identity;
    private final X509Certificate[] chain;
    private final List<X509Certificate> roots;
    private final Instant notAfter;
    private final SslContext serverContext;
    private final SslContext clientContext;

    private TlsMaterial(SpiffeId identity, X509Certificate[] chain, List<X509Certificate> roots,
            SslContext serverContext, SslContext clientContext) {
        this.identity = identity;
        this.chain = chain;
        this.roots = roots;
        this.notAfter = chain[0].getNotAfter().toInstant();
        this.serverContext = serverContext;
        this.clientContext = clientContext;
    }

    /**
     * Loads Istio's file-mounted layout from {@code certDir}: {@code cert-chain.pem} (leaf first,
     * then intermediates), {@code key.pem} (PKCS#8, SEC1 or PKCS#1; EC or RSA; unencrypted) and
     * {@code root-cert.pem} (one or more roots).
     *
     * @throws IOException if a file is missing or unreadable
     * @throws IllegalArgumentException if a file's content is unusable; the message names the file
     *     and the problem, e.g. {@code "cert-chain.pem: leaf has no spiffe:// URI SAN"}
     */
    public static TlsMaterial load(Path certDir) throws IOException {
        requireNonNull(certDir, "certDir");
        return parse(read(certDir, CERT_CHAIN), read(certDir, KEY), read(certDir, ROOT_CERT));
    }

    /**
     * Builds material from objects already in memory (tests, the demo).
     *
     * @param chain leaf first, then intermediates
     * @param key the leaf's private key, EC or RSA
     * @param roots trust anchors for peers, at least one
     * @throws IllegalArgumentException if the leaf has no SPIFFE ID or the key does not match it
     */
    public static TlsMaterial of(X509Certificate[] chain, PrivateKey key, List<X509Certificate> roots) {
        requireNonNull(chain, "chain");
        requireNonNull(key, "key");
        requireNonNull(roots, "roots");
        if (chain.length == 0) {
            throw new IllegalArgumentException("chain: empty (expected: leaf first, then intermediates)");
        }
        if (roots.isEmpty()) {
            throw new IllegalArgumentException("roots: empty (expected: at least one root)");
        }
        for (X509Certificate c : chain) {
            requireNonNull(c, "chain element");
        }
        return create(chain.clone(), key, List.copyOf(roots), "chain", "key");
    }

    /** Parses the three PEM files' bytes; the unit {@link CertificateSource} reloads. */
    static TlsMaterial parse(byte[] chainPem, byte[] keyPem, byte[] rootPem) {
        List<X509Certificate> chain = Pem.certificates(chainPem, CERT_CHAIN);
        PrivateKey key = Pem.privateKey(keyPem, KEY);
        List<X509Certificate> roots = Pem.certificates(rootPem, ROOT_CERT);
        return create(chain.toArray(X509Certificate[]::new), key, roots, CERT_CHAIN, KEY);
    }

    private static TlsMaterial create(X509Certificate[] chain, PrivateKey key, List<X509Certificate> roots,
            String chainLabel, String keyLabel) {
        X509Certificate leaf = chain[0];
        Optional<SpiffeId> id = PeerIdentities.fromCertificate(leaf);
        if (id.isEmpty()) {
            throw new IllegalArgumentException(chainLabel + ": leaf has no spiffe:// URI SAN "
                    + "(expected: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>, subject: "
                    + leaf.getSubjectX500Principal() + ')');
        }
        KeyMatch.check(leaf, key, keyLabel);
        SslContext server = TlsContexts.server(chain, key, roots);
        SslContext client = TlsContexts.client(chain, key, roots);
        return new TlsMaterial(id.get(), chain, roots, server, client);
    }

    private static byte[] read(Path dir, String name) throws IOException {
        try {
            return Files.readAllBytes(dir.resolve(name));
        } catch (NoSuchFileException e) {
            throw new IOException(name + ": not found in " + dir, e);
        } catch (IOException e) {
            throw new IOException(name + ": cannot read (" + e + ')', e);
        }
    }

    /** This proxy's identity, from the leaf certificate's URI SAN. */
    public SpiffeId identity() {
        return identity;
    }

    /** The certificate chain, leaf first (a copy). */
    public X509Certificate[] chain() {
        return chain.clone();
    }

    /** The mesh roots peers are verified against (immutable). */
    public List<X509Certificate> roots() {
        return roots;
    }

    /** When the leaf certificate expires. */
    public Instant notAfter() {
        return notAfter;
    }

    /** Context for accepting HBONE connections (mutual TLS, ALPN {@code h2}). */
    public SslContext serverContext() {
        return serverContext;
    }

    /** Context for opening HBONE connections (presents {@link #identity()}, ALPN {@code h2}, no SNI). */
    public SslContext clientContext() {
        return clientContext;
    }

    @Override
    public String toString() {
        return "TlsMaterial{identity=" + identity + ", notAfter=" + notAfter + ", chain=" + chain.length
                + ", roots=" + roots.size() + ", serial=" + chain[0].getSerialNumber().toString(16) + '}';
    }
}
