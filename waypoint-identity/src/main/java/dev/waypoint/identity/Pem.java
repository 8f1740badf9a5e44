package dev.waypoint.identity;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * PEM decoding for Istio's file-mounted certificates. Every failure is an {@link
 * IllegalArgumentException} whose message starts with the name of the input ({@code label}).
 */
final class Pem {
    private Pem() {}

    /** All certificates in {@code pem}, in file order; at least one. */
    static List<X509Certificate> certificates(byte[] pem, String label) {
        Collection<? extends Certificate> parsed;
        try {
            parsed = CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(pem));
        } catch (CertificateException e) {
            if (!containsPemBlock(pem)) {
                throw new IllegalArgumentException(label + ": no certificates found");
            }
            throw new IllegalArgumentException(label + ": malformed certificate (" + e.getMessage() + ')', e);
        }
        List<X509Certificate> out = new ArrayList<>(parsed.size());
        for (Certificate c : parsed) {
            if (!(c instanceof X509Certificate x509)) {
                throw new IllegalArgumentException(label + ": not an X.509 certificate: " + c.getType());
            }
            out.add(x509);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(label + ": no certificates found");
        }
        return List.copyOf(out);
    }

    /**
     * The first private key in {@code pem}: PKCS#8 {@code PRIVATE KEY}, SEC1 {@code EC PRIVATE KEY}
     * or PKCS#1 {@code RSA PRIVATE KEY}. Other blocks ({@code EC PARAMETERS}, certificates) are
     * skipped; encrypted keys are refused.
     */
    static PrivateKey privateKey(byte[] pem, String label) {
        Object found = null;
        try (Reader reader = new InputStreamReader(new ByteArrayInputStream(pem), StandardCharsets.US_ASCII);
                PEMParser parser = new PEMParser(reader)) {
            for (Object o = parser.readObject(); o != null && found == null; o = parser.readObject()) {
                if (o instanceof PrivateKeyInfo || o instanceof PEMKeyPair
                        || o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                    found = o;
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(label + ": malformed PEM (" + e.getMessage() + ')', e);
        }
        if (found == null) {
            throw new IllegalArgumentException(label + ": no private key found");
        }
        if (found instanceof PEMEncryptedKeyPair || found instanceof PKCS8EncryptedPrivateKeyInfo) {
            throw new IllegalArgumentException(label + ": encrypted private keys are not supported");
        }
        PrivateKeyInfo info = found instanceof PEMKeyPair pair ? pair.getPrivateKeyInfo() : (PrivateKeyInfo) found;
        try {
            // Default JCA providers (SunEC, SunRsaSign): the key's PKCS#8 encoding is what Netty hands
            // to BoringSSL, and BouncyCastle is never registered as a global provider.
            return new JcaPEMKeyConverter().getPrivateKey(info);
        } catch (IOException e) {
            throw new IllegalArgumentException(label + ": malformed private key (" + e.getMessage() + ')', e);
        }
    }

    private static boolean containsPemBlock(byte[] pem) {
        return new String(pem, StandardCharsets.US_ASCII).contains("-----BEGIN ");
    }
}
