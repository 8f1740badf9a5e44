package dev.waypoint.identity;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;

/** Checks that a private key belongs to a certificate, by signing and verifying a probe. */
final class KeyMatch {
    private static final byte[] PROBE = "waypoint key/certificate match probe".getBytes(StandardCharsets.US_ASCII);

    private KeyMatch() {}

    static void check(X509Certificate leaf, PrivateKey key, String keyLabel) {
        PublicKey pub = leaf.getPublicKey();
        String algorithm = signatureAlgorithm(key.getAlgorithm());
        if (algorithm == null) {
            throw new IllegalArgumentException(keyLabel + ": unsupported key algorithm " + key.getAlgorithm()
                    + " (expected: EC or RSA)");
        }
        if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
            throw new IllegalArgumentException(keyLabel + " does not match the leaf certificate (key is "
                    + key.getAlgorithm() + ", certificate key is " + pub.getAlgorithm() + ')');
        }
        boolean matches;
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(PROBE);
            byte[] sig = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(pub);
            verifier.update(PROBE);
            matches = verifier.verify(sig);
        } catch (GeneralSecurityException e) {
            // e.g. an EC key on another curve than the certificate's
            matches = false;
        }
        if (!matches) {
            throw new IllegalArgumentException(keyLabel + " does not match the leaf certificate");
        }
    }

    private static String signatureAlgorithm(String keyAlgorithm) {
        return switch (keyAlgorithm) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            default -> null;
        };
    }
}
