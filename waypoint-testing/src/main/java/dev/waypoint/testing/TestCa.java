package dev.waypoint.testing;

import static java.util.Objects.requireNonNull;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.SpiffeId;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * An in-process mesh CA for tests, the {@code waypoint demo} command and benchmarks: a
 * self-signed EC P-256 root that issues workload certificates shaped like istiod's.
 *
 * <p>Issued leaves have an empty subject, a critical URI SAN holding the SPIFFE ID, EKU
 * serverAuth + clientAuth, key usage digitalSignature + keyEncipherment, and validity from one hour
 * ago (clock skew) to 24 hours from now unless told otherwise. Keys are EC P-256 (what ztunnel
 * requests), or RSA 2048 (pilot-agent's default) through {@link #issueWithRsaKey(SpiffeId)}.
 *
 * <p>The CA does not restrict trust domains: it signs whatever identity it is asked for, so tests
 * can build foreign-trust-domain peers from the same root.
 *
 * <h2>Threading</h2>
 * Instances are immutable and thread-safe. Only JDK providers are used; BouncyCastle is not
 * registered as a security provider.
 */
public final class TestCa {
    static final String ROOT_CN = "waypoint test root";
    static final Duration ROOT_VALIDITY = Duration.ofDays(3650);
    static final Duration DEFAULT_VALIDITY = Duration.ofHours(24);
    static final Duration BACKDATE = Duration.ofHours(1);

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String trustDomain;
    private final KeyPair rootKeys;
    private final X509Certificate root;
    private final X500Name rootName;

    private TestCa(String trustDomain, KeyPair rootKeys, X509Certificate root, X500Name rootName) {
        this.trustDomain = trustDomain;
        this.rootKeys = rootKeys;
        this.root = root;
        this.rootName = rootName;
    }

    /**
     * A new CA with a fresh EC P-256 root: subject {@code O=<trustDomain>, CN=waypoint test root},
     * valid for 10 years, basicConstraints CA (critical), keyUsage keyCertSign + cRLSign.
     */
    public static TestCa create(String trustDomain) {
        requireNonNull(trustDomain, "trustDomain");
        if (trustDomain.isEmpty()) {
            throw new IllegalArgumentException("trustDomain: \"\" (expected: non-empty, e.g. cluster.local)");
        }
        KeyPair keys = ecKeyPair();
        X500Name name = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, trustDomain)
                .addRDN(BCStyle.CN, ROOT_CN)
                .build();
        Instant now = Instant.now();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                name, serial(), Date.from(now.minus(BACKDATE)), Date.from(now.plus(ROOT_VALIDITY)), name,
                keys.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
        } catch (CertIOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build the test root", e);
        }
        return new TestCa(trustDomain, keys, sign(b, keys.getPrivate()), name);
    }

    /** The trust domain this CA was created for (its root's organization). */
    public String trustDomain() {
        return trustDomain;
    }

    /** The self-signed root certificate. */
    public X509Certificate root() {
        return root;
    }

    /** A leaf for {@code id} with an EC P-256 key, valid from one hour ago until 24 hours from now. */
    public Issued issue(SpiffeId id) {
        return issue(id, DEFAULT_VALIDITY);
    }

    /** A leaf for {@code id} with an EC P-256 key, valid from one hour ago until {@code validity} from now. */
    public Issued issue(SpiffeId id, Duration validity) {
        requireNonNull(id, "id");
        requireNonNull(validity, "validity");
        return issue(id, validity, ecKeyPair());
    }

    /** A leaf for {@code id} with an RSA 2048 key (pilot-agent's default key type), valid for 24 hours. */
    public Issued issueWithRsaKey(SpiffeId id) {
        requireNonNull(id, "id");
        return issue(id, DEFAULT_VALIDITY, rsaKeyPair());
    }

    /**
     * Signs someone else's key, as a CA answering a CSR does: a leaf for {@code id} valid from now
     * (no backdating, so the lifetime is exactly {@code validity}) with the same extensions as
     * {@link #issue}.
     */
    public X509Certificate sign(SpiffeId id, PublicKey key, Duration validity) {
        requireNonNull(id, "id");
        requireNonNull(key, "key");
        requireNonNull(validity, "validity");
        if (validity.isNegative() || validity.isZero()) {
            throw new IllegalArgumentException("validity: " + validity + " (expected: > 0)");
        }
        Instant now = Instant.now();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                rootName, serial(), Date.from(now), Date.from(now.plus(validity)), new X500Name(new RDN[0]), key);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.subjectAlternativeName, true,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.uri())));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.keyUsage, true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(root));
        } catch (CertIOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a certificate for " + id, e);
        }
        return sign(b, rootKeys.getPrivate());
    }

    /**
     * A TLS server certificate with an EC P-256 key for host names and IP addresses (what istiod
     * serves on 15012: {@code istiod.istio-system.svc}), valid for 24 hours.
     *
     * @param names DNS names, or IP literals (written as IP SANs)
     */
    public Issued issueServer(String... names) {
        requireNonNull(names, "names");
        if (names.length == 0) {
            throw new IllegalArgumentException("names: none (expected: at least one DNS name or IP)");
        }
        KeyPair keys = ecKeyPair();
        Instant now = Instant.now();
        GeneralName[] sans = new GeneralName[names.length];
        for (int i = 0; i < names.length; i++) {
            boolean ip = names[i].matches("[0-9.]+") || names[i].contains(":");
            sans[i] = new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, names[i]);
        }
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                rootName, serial(), Date.from(now.minus(BACKDATE)), Date.from(now.plus(DEFAULT_VALIDITY)),
                new X500Name(new RDN[0]), keys.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(sans));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth}));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(root));
        } catch (CertIOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a server certificate for " + List.of(names), e);
        }
        return new Issued(new X509Certificate[] {sign(b, rootKeys.getPrivate())}, keys.getPrivate(), root);
    }

    private Issued issue(SpiffeId id, Duration validity, KeyPair keys) {
        if (validity.isNegative() || validity.isZero()) {
            throw new IllegalArgumentException("validity: " + validity + " (expected: > 0)");
        }
        Instant now = Instant.now();
        // Istio workload certificates have an empty subject, so the SAN must be critical (RFC 5280 4.2.1.6).
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                rootName, serial(), Date.from(now.minus(BACKDATE)), Date.from(now.plus(validity)),
                new X500Name(new RDN[0]), keys.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.subjectAlternativeName, true,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.uri())));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.keyUsage, true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(root));
        } catch (CertIOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a certificate for " + id, e);
        }
        X509Certificate leaf = sign(b, rootKeys.getPrivate());
        return new Issued(new X509Certificate[] {leaf}, keys.getPrivate(), root);
    }

    @Override
    public String toString() {
        return "TestCa{trustDomain=" + trustDomain + ", root=" + root.getSerialNumber().toString(16) + '}';
    }

    /**
     * A certificate issued by a {@link TestCa}: the chain (leaf first), its private key and the
     * root it chains to. Arrays are copied in and out.
     */
    public record Issued(X509Certificate[] chain, PrivateKey key, X509Certificate root) {
        static final String CERT_CHAIN = "cert-chain.pem";
        static final String KEY = "key.pem";
        static final String ROOT_CERT = "root-cert.pem";

        public Issued {
            requireNonNull(chain, "chain");
            requireNonNull(key, "key");
            requireNonNull(root, "root");
            chain = chain.clone();
        }

        /** The chain, leaf first (a copy). */
        @Override
        public X509Certificate[] chain() {
            return chain.clone();
        }

        /** The leaf certificate. */
        public X509Certificate leaf() {
            return chain[0];
        }

        /** Builds {@link TlsMaterial} trusting {@link #root()}; builds new SSL contexts on each call. */
        public TlsMaterial material() {
            return TlsMaterial.of(chain, key, List.of(root));
        }

        /**
         * Writes Istio's file-mounted layout into {@code dir} (created if absent): {@code
         * cert-chain.pem}, {@code key.pem} (PKCS#8) and {@code root-cert.pem}. Each file is written
         * to a temporary file and moved into place atomically, so a concurrent reader never sees a
         * half-written file (it can still see one new file beside two old ones, as with any
         * three-file rotation).
         */
        public void writeIstioLayout(Path dir) throws IOException {
            requireNonNull(dir, "dir");
            Files.createDirectories(dir);
            StringBuilder chainPem = new StringBuilder();
            for (X509Certificate c : chain) {
                chainPem.append(pem("CERTIFICATE", encoded(c)));
            }
            atomicWrite(dir, ROOT_CERT, pem("CERTIFICATE", encoded(root)));
            atomicWrite(dir, KEY, pem("PRIVATE KEY", key.getEncoded()));
            atomicWrite(dir, CERT_CHAIN, chainPem.toString());
        }

        @Override
        public String toString() {
            return "Issued{leaf=" + chain[0].getSerialNumber().toString(16) + ", notAfter="
                    + chain[0].getNotAfter().toInstant() + ", key=" + key.getAlgorithm() + '}';
        }
    }

    private static KeyPair ecKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 is required of every JVM", e);
        }
    }

    private static KeyPair rsaKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048, RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("RSA is required of every JVM", e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) {
        try {
            ContentSigner cs = new JcaContentSignerBuilder("SHA256withECDSA").build(signer);
            return new JcaX509CertificateConverter().getCertificate(b.build(cs));
        } catch (OperatorCreationException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign a test certificate", e);
        }
    }

    /** Positive, non-zero, at most 20 octets (RFC 5280 4.1.2.2). */
    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).setBit(126);
    }

    private static byte[] encoded(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static void atomicWrite(Path dir, String name, String content) throws IOException {
        Path tmp = Files.createTempFile(dir, "." + name + '.', ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.US_ASCII);
            try {
                Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException(name + ": the file system of " + dir + " cannot move files atomically", e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
