package dev.waypoint.identity;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A tiny CA for this module's tests. waypoint-testing's {@code TestCa} depends on this module, so
 * it cannot be used here; this fixture also makes the odd certificates (no SPIFFE SAN, foreign
 * key formats) that {@code TestCa} deliberately does not.
 */
final class TestCerts {
    private static final SecureRandom RANDOM = new SecureRandom();

    enum KeyType { EC, RSA }

    enum KeyFormat { PKCS8, TRADITIONAL }

    record Leaf(X509Certificate[] chain, PrivateKey key, X509Certificate root) {
        TlsMaterial material() {
            return TlsMaterial.of(chain, key, List.of(root));
        }

        void write(Path dir, KeyFormat format) {
            try {
                Files.createDirectories(dir);
                atomicWrite(dir.resolve("cert-chain.pem"), pem(chain));
                atomicWrite(dir.resolve("key.pem"), format == KeyFormat.PKCS8 ? pkcs8(key) : traditional(key));
                atomicWrite(dir.resolve("root-cert.pem"), pem(root));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private final KeyPair rootKeys;
    final X509Certificate root;

    private TestCerts(KeyPair rootKeys, X509Certificate root) {
        this.rootKeys = rootKeys;
        this.root = root;
    }

    static TestCerts ca() {
        try {
            KeyPair keys = keyPair(KeyType.EC);
            X500Name name = new X500Name("O=cluster.local,CN=identity test root");
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(3650))),
                    name, keys.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            return new TestCerts(keys, sign(b, keys.getPrivate()));
        } catch (IOException | GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A leaf with the given URI SANs, in order; with none, only a DNS SAN. */
    Leaf issue(KeyType type, String... uriSans) {
        try {
            KeyPair keys = keyPair(type);
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(root, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofHours(24))),
                    new X500Name(new org.bouncycastle.asn1.x500.RDN[0]), keys.getPublic());
            GeneralName[] names = uriSans.length == 0
                    ? new GeneralName[] {new GeneralName(GeneralName.dNSName, "no-spiffe.example")}
                    : java.util.Arrays.stream(uriSans)
                            .map(u -> new GeneralName(GeneralName.uniformResourceIdentifier, u))
                            .toArray(GeneralName[]::new);
            // The subject is empty, as in Istio workload certificates, so the SAN is critical (RFC 5280).
            b.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(names));
            b.addExtension(Extension.keyUsage, true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            return new Leaf(new X509Certificate[] {sign(b, rootKeys.getPrivate())}, keys.getPrivate(), root);
        } catch (IOException | GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    Leaf issue(String uriSan) {
        return issue(KeyType.EC, uriSan);
    }

    static KeyPair keyPair(KeyType type) throws GeneralSecurityException {
        if (type == KeyType.EC) {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        }
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return g.generateKeyPair();
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
            throws GeneralSecurityException, org.bouncycastle.operator.OperatorCreationException {
        String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(alg).build(key)));
    }

    private static BigInteger serial() {
        return new BigInteger(64, RANDOM).add(BigInteger.ONE);
    }

    static String pem(X509Certificate... certs) {
        StringBuilder sb = new StringBuilder();
        try {
            for (X509Certificate c : certs) {
                sb.append(block("CERTIFICATE", c.getEncoded()));
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        return sb.toString();
    }

    static String pkcs8(PrivateKey key) {
        return block("PRIVATE KEY", key.getEncoded());
    }

    /**
     * SEC1 {@code EC PRIVATE KEY} (with the curve OID, as openssl writes it) or PKCS#1 {@code RSA
     * PRIVATE KEY}. The JDK's PKCS#8 encoding keeps the curve only in the outer algorithm
     * identifier, so it is copied into the SEC1 structure here.
     */
    static String traditional(PrivateKey key) {
        PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
        try {
            if (key instanceof java.security.interfaces.ECPrivateKey ec) {
                org.bouncycastle.asn1.sec.ECPrivateKey sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(
                        ec.getParams().getOrder().bitLength(), ec.getS(),
                        info.getPrivateKeyAlgorithm().getParameters());
                return block("EC PRIVATE KEY", sec1.getEncoded());
            }
            return block("RSA PRIVATE KEY", info.parsePrivateKey().toASN1Primitive().getEncoded());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A PKCS#8 {@code ENCRYPTED PRIVATE KEY} block (structure only; nothing needs to decrypt it). */
    static String encryptedPkcs8() {
        try {
            byte[] der = new org.bouncycastle.asn1.pkcs.EncryptedPrivateKeyInfo(
                    new AlgorithmIdentifier(PKCSObjectIdentifiers.id_PBES2), new byte[64]).getEncoded();
            return block("ENCRYPTED PRIVATE KEY", der);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A legacy openssl-encrypted {@code EC PRIVATE KEY} block (headers plus opaque bytes). */
    static String encryptedTraditional() {
        return "-----BEGIN EC PRIVATE KEY-----\n"
                + "Proc-Type: 4,ENCRYPTED\n"
                + "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(new byte[96])
                + "\n-----END EC PRIVATE KEY-----\n";
    }

    static String block(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    static void atomicWrite(Path file, String content) throws IOException {
        Path tmp = Files.createTempFile(file.getParent(), ".tmp-", ".pem");
        Files.writeString(tmp, content, StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
