package dev.waypoint.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.identity.TestCerts.KeyFormat;
import dev.waypoint.identity.TestCerts.KeyType;
import dev.waypoint.identity.TestCerts.Leaf;
import dev.waypoint.model.mesh.SpiffeId;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class TlsMaterialTest {
    private static final String WAYPOINT = "spiffe://cluster.local/ns/shop/sa/waypoint";
    private static final SpiffeId WAYPOINT_ID = new SpiffeId("cluster.local", "shop", "waypoint");
    private static final TestCerts CA = TestCerts.ca();

    @TempDir
    Path dir;

    @Test
    void boringSslIsAvailable() {
        // The project ships netty-tcnative-boringssl-static for linux-x86_64 and requires it there.
        assertThat(OpenSsl.isAvailable()).as("%s", OpenSsl.unavailabilityCause()).isTrue();
        assertThat(OpenSsl.versionString()).contains("BoringSSL");
        assertThat(SslProvider.isTlsv13Supported(SslProvider.OPENSSL)).isTrue();
        assertThat(SslProvider.isAlpnSupported(SslProvider.OPENSSL)).isTrue();
        assertThat(TlsContexts.PROVIDER).isEqualTo(SslProvider.OPENSSL);
    }

    static Stream<Arguments> keyTypesAndFormats() {
        return Stream.of(
                Arguments.of(KeyType.EC, KeyFormat.PKCS8, "-----BEGIN PRIVATE KEY-----"),
                Arguments.of(KeyType.EC, KeyFormat.TRADITIONAL, "-----BEGIN EC PRIVATE KEY-----"),
                Arguments.of(KeyType.RSA, KeyFormat.PKCS8, "-----BEGIN PRIVATE KEY-----"),
                Arguments.of(KeyType.RSA, KeyFormat.TRADITIONAL, "-----BEGIN RSA PRIVATE KEY-----"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("keyTypesAndFormats")
    void loadsIstioLayout(KeyType type, KeyFormat format, String keyHeader) throws IOException {
        Leaf leaf = CA.issue(type, WAYPOINT);
        leaf.write(dir, format);
        assertThat(Files.readString(dir.resolve("key.pem"))).startsWith(keyHeader);

        TlsMaterial m = TlsMaterial.load(dir);

        assertThat(m.identity()).isEqualTo(WAYPOINT_ID);
        assertThat(m.chain()).containsExactly(leaf.chain());
        assertThat(m.roots()).containsExactly(CA.root);
        assertThat(m.notAfter()).isEqualTo(leaf.chain()[0].getNotAfter().toInstant());
        assertThat(m.serverContext().isServer()).isTrue();
        assertThat(m.clientContext().isClient()).isTrue();
        assertThat(m.serverContext().applicationProtocolNegotiator().protocols()).containsExactly("h2");
        assertThat(m.clientContext().applicationProtocolNegotiator().protocols()).containsExactly("h2");
    }

    @Test
    void chainIsACopy() {
        TlsMaterial m = CA.issue(WAYPOINT).material();
        m.chain()[0] = null;
        assertThat(m.chain()[0]).isNotNull();
    }

    @Test
    void rootFileMayHoldSeveralRoots() throws IOException {
        // During a root rotation Istio mounts the old and the new root together.
        TestCerts other = TestCerts.ca();
        CA.issue(WAYPOINT).write(dir, KeyFormat.PKCS8);
        Files.writeString(dir.resolve("root-cert.pem"), TestCerts.pem(other.root, CA.root));

        assertThat(TlsMaterial.load(dir).roots()).containsExactly(other.root, CA.root);
    }

    @Test
    void skipsEcParametersBlockBeforeTheKey() throws IOException {
        // `openssl ecparam -genkey` writes an EC PARAMETERS block first.
        Leaf leaf = CA.issue(WAYPOINT);
        leaf.write(dir, KeyFormat.TRADITIONAL);
        String params = TestCerts.block("EC PARAMETERS", new byte[] {0x06, 0x08, 0x2a, (byte) 0x86, 0x48,
                (byte) 0xce, 0x3d, 0x03, 0x01, 0x07});
        Files.writeString(dir.resolve("key.pem"), params + Files.readString(dir.resolve("key.pem")));

        assertThat(TlsMaterial.load(dir).identity()).isEqualTo(WAYPOINT_ID);
    }

    /** One way to break the layout, and what the error must say. */
    record BadFile(String name, String file, String content, Class<? extends Exception> type, String message) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<BadFile> badFiles() {
        Leaf leaf = CA.issue(WAYPOINT);
        Leaf other = CA.issue(WAYPOINT);
        return Stream.of(
                new BadFile("chain missing", "cert-chain.pem", null, IOException.class,
                        "cert-chain.pem: not found in "),
                new BadFile("key missing", "key.pem", null, IOException.class, "key.pem: not found in "),
                new BadFile("roots missing", "root-cert.pem", null, IOException.class,
                        "root-cert.pem: not found in "),
                new BadFile("chain empty", "cert-chain.pem", "", IllegalArgumentException.class,
                        "cert-chain.pem: no certificates found"),
                new BadFile("chain not PEM", "cert-chain.pem", "hello\n", IllegalArgumentException.class,
                        "cert-chain.pem: no certificates found"),
                new BadFile("chain corrupt", "cert-chain.pem", TestCerts.block("CERTIFICATE", new byte[] {1, 2, 3}),
                        IllegalArgumentException.class, "cert-chain.pem: malformed certificate"),
                new BadFile("leaf without SAN URI", "cert-chain.pem", TestCerts.pem(CA.issue(KeyType.EC).chain()),
                        IllegalArgumentException.class, "cert-chain.pem: leaf has no spiffe:// URI SAN"),
                new BadFile("leaf with non-Istio SPIFFE ID", "cert-chain.pem",
                        TestCerts.pem(CA.issue("spiffe://cluster.local/workload/x").chain()),
                        IllegalArgumentException.class, "cert-chain.pem: leaf has no spiffe:// URI SAN"),
                new BadFile("key empty", "key.pem", "", IllegalArgumentException.class,
                        "key.pem: no private key found"),
                new BadFile("key file holds a certificate", "key.pem", TestCerts.pem(leaf.chain()),
                        IllegalArgumentException.class, "key.pem: no private key found"),
                new BadFile("key corrupt", "key.pem", TestCerts.block("PRIVATE KEY", new byte[] {1, 2, 3}),
                        IllegalArgumentException.class, "key.pem: malformed"),
                new BadFile("key encrypted (PKCS#8)", "key.pem", TestCerts.encryptedPkcs8(),
                        IllegalArgumentException.class, "key.pem: encrypted private keys are not supported"),
                new BadFile("key encrypted (legacy openssl)", "key.pem", TestCerts.encryptedTraditional(),
                        IllegalArgumentException.class, "key.pem: encrypted private keys are not supported"),
                new BadFile("key of another certificate", "key.pem", TestCerts.pkcs8(other.key()),
                        IllegalArgumentException.class, "key.pem does not match the leaf certificate"),
                new BadFile("RSA key for an EC certificate", "key.pem",
                        TestCerts.pkcs8(CA.issue(KeyType.RSA, WAYPOINT).key()),
                        IllegalArgumentException.class, "key.pem does not match the leaf certificate"),
                new BadFile("roots empty", "root-cert.pem", "", IllegalArgumentException.class,
                        "root-cert.pem: no certificates found"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badFiles")
    void badFilesAreNamedInTheError(BadFile bad) throws IOException {
        CA.issue(WAYPOINT).write(dir, KeyFormat.PKCS8);
        Path file = dir.resolve(bad.file());
        if (bad.content() == null) {
            Files.delete(file);
        } else {
            Files.writeString(file, bad.content());
        }

        assertThatThrownBy(() -> TlsMaterial.load(dir))
                .isInstanceOf(bad.type())
                .hasMessageStartingWith(bad.message());
    }

    @Test
    void ofChecksTheSameThings() {
        Leaf leaf = CA.issue(WAYPOINT);
        Leaf other = CA.issue(WAYPOINT);
        List<X509Certificate> roots = List.of(CA.root);

        assertThat(TlsMaterial.of(leaf.chain(), leaf.key(), roots).identity()).isEqualTo(WAYPOINT_ID);
        assertThatThrownBy(() -> TlsMaterial.of(leaf.chain(), other.key(), roots))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("key does not match the leaf certificate");
        assertThatThrownBy(() -> TlsMaterial.of(CA.issue(KeyType.EC).chain(), leaf.key(), roots))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("chain: leaf has no spiffe:// URI SAN");
        assertThatThrownBy(() -> TlsMaterial.of(new X509Certificate[0], leaf.key(), roots))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("chain: empty");
        assertThatThrownBy(() -> TlsMaterial.of(leaf.chain(), leaf.key(), List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("roots: empty");
        assertThatThrownBy(() -> TlsMaterial.of(null, leaf.key(), roots))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("chain");
    }
}
