package dev.waypoint.identity;

import io.netty.handler.ssl.OpenSslCertificateException;
import io.netty.internal.tcnative.CertificateVerifier;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.PKIXReason;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The JDK's PKIX trust manager over the mesh roots, with one change for BoringSSL: a peer chain
 * that leads to none of the roots is refused with the TLS alert {@code unknown_ca}, as ztunnel
 * (rustls) and Envoy send it, instead of {@code internal_error}.
 *
 * <p>With netty-tcnative, Netty runs the Java trust manager from BoringSSL's verify callback and
 * turns the exception into an X.509 verify result, which BoringSSL turns into the alert. The JDK
 * reports a chain from another CA as a {@link CertificateException} wrapping a
 * {@link CertPathBuilderException} (no path to a root) or a {@link CertPathValidatorException} (a
 * root of the same name whose key did not sign it), which Netty cannot classify (verify result
 * "unspecified", alert {@code internal_error}: a peer on another stack reads that as a fault of
 * ours, not of its certificate). Here it becomes {@code X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY}, which BoringSSL
 * answers with {@code unknown_ca}. Expired and not-yet-valid certificates Netty already maps
 * ({@code certificate_expired}); everything else passes through unchanged.
 */
final class PeerChainTrust extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;

    private PeerChainTrust(X509ExtendedTrustManager pkix) {
        this.pkix = pkix;
    }

    /** The JDK's PKIX trust manager for {@code roots}, refusing unknown issuers with {@code unknown_ca}. */
    static X509ExtendedTrustManager forRoots(List<X509Certificate> roots) {
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (X509Certificate root : roots) {
                store.setCertificateEntry("root-" + i++, root);
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            for (TrustManager tm : factory.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x) {
                    return new PeerChainTrust(x);
                }
            }
            throw new IllegalStateException("the JDK's " + factory.getAlgorithm() + " trust manager factory made no X.509 trust manager");
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalArgumentException("cannot make a trust manager for the mesh roots: " + e.getMessage(), e);
        }
    }

    /** {@code e}, or the same failure with the verify result BoringSSL answers with {@code unknown_ca}. */
    static CertificateException classify(CertificateException e) {
        if (TlsContexts.PROVIDER != io.netty.handler.ssl.SslProvider.OPENSSL) {
            return e; // the JDK's engine picks its own alert; the verify results are BoringSSL's
        }
        if (!notFromTheRoots(e)) {
            return e;
        }
        OpenSslCertificateException unknownCa = new OpenSslCertificateException(
                "not issued by a trusted root (" + e.getMessage() + ")",
                CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        unknownCa.initCause(e);
        return unknownCa;
    }

    /**
     * Whether the chain leads to none of the roots: no path found, or a path whose signature a root
     * does not verify (another CA with the same name, as Istio's self-signed roots all are:
     * {@code O=cluster.local}).
     */
    private static boolean notFromTheRoots(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertPathBuilderException) {
                return true;
            }
            if (t instanceof CertPathValidatorException v) {
                return v.getReason() == CertPathValidatorException.BasicReason.INVALID_SIGNATURE
                        || v.getReason() == PKIXReason.NO_TRUST_ANCHOR
                        || v.getCause() instanceof java.security.SignatureException;
            }
        }
        return false;
    }

    /** One of the JDK trust manager's checks. */
    private interface Check {
        void run() throws CertificateException;
    }

    private static void classified(Check check) throws CertificateException {
        try {
            check.run();
        } catch (CertificateException e) {
            throw classify(e);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        classified(() -> pkix.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        classified(() -> pkix.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        classified(() -> pkix.checkClientTrusted(chain, authType));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        classified(() -> pkix.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        classified(() -> pkix.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        classified(() -> pkix.checkServerTrusted(chain, authType));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return pkix.getAcceptedIssuers();
    }
}
