package dev.waypoint.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.identity.PeerIdentities;
import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.SpiffeId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TestCaTest {
    private static final SpiffeId SLEEP = new SpiffeId("cluster.local", "default", "sleep");
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    @TempDir
    Path dir;

    /** Second-granular, as X.509 validity is. */
    private static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS);
    }

    @Test
    void rootIsASelfSignedTenYearEcCa() throws Exception {
        Instant before = now();
        TestCa ca = TestCa.create("cluster.local");
        Instant after = now().plusSeconds(1);
        X509Certificate root = ca.root();

        root.verify(root.getPublicKey());
        assertThat(root.getSubjectX500Principal().getName()).isEqualTo("CN=waypoint test root,O=cluster.local");
        assertThat(root.getIssuerX500Principal()).isEqualTo(root.getSubjectX500Principal());
        assertThat(root.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(root.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(root.getPublicKey()).isInstanceOfSatisfying(ECPublicKey.class,
                k -> assertThat(k.getParams().getCurve().getField().getFieldSize()).isEqualTo(256));
        assertThat(root.getNotAfter().toInstant()).isBetween(before.plus(Duration.ofDays(3650)),
                after.plus(Duration.ofDays(3650)));
        assertThat(ca.trustDomain()).isEqualTo("cluster.local");
    }

    @Test
    void everyCaHasItsOwnRoot() {
        assertThat(TestCa.create("cluster.local").root()).isNotEqualTo(TestCa.create("cluster.local").root());
    }

    @Test
    void leafIsShapedLikeAnIstioWorkloadCertificate() throws Exception {
        TestCa ca = TestCa.create("cluster.local");
        Instant before = now();
        TestCa.Issued issued = ca.issue(SLEEP);
        Instant after = now().plusSeconds(1);
        X509Certificate leaf = issued.leaf();

        leaf.verify(ca.root().getPublicKey());
        assertThat(issued.chain()).containsExactly(leaf);
        assertThat(issued.root()).isEqualTo(ca.root());
        assertThat(leaf.getSubjectX500Principal().getName()).isEmpty();
        assertThat(leaf.getCriticalExtensionOIDs()).contains("2.5.29.17"); // SAN
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, SLEEP.uri()));
        assertThat(PeerIdentities.fromCertificate(leaf)).contains(SLEEP);
        assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder(SERVER_AUTH, CLIENT_AUTH);
        boolean[] usage = leaf.getKeyUsage();
        assertThat(usage[0]).as("digitalSignature").isTrue();
        assertThat(usage[2]).as("keyEncipherment").isTrue();
        assertThat(usage[5]).as("keyCertSign").isFalse();
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getNotBefore().toInstant()).isBetween(before.minus(Duration.ofHours(1)),
                after.minus(Duration.ofHours(1)));
        assertThat(leaf.getNotAfter().toInstant()).isBetween(before.plus(Duration.ofHours(24)),
                after.plus(Duration.ofHours(24)));
        assertThat(issued.key().getAlgorithm()).isEqualTo("EC");
    }

    @Test
    void validityCanBeChosen() {
        Instant before = now();
        X509Certificate leaf = TestCa.create("cluster.local").issue(SLEEP, Duration.ofMinutes(5)).leaf();
        Instant after = now().plusSeconds(1);

        assertThat(leaf.getNotAfter().toInstant()).isBetween(before.plus(Duration.ofMinutes(5)),
                after.plus(Duration.ofMinutes(5)));
        assertThatThrownBy(() -> TestCa.create("cluster.local").issue(SLEEP, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("validity: PT0S (expected: > 0)");
    }

    @Test
    void rsaLeaf() throws Exception {
        TestCa ca = TestCa.create("cluster.local");
        TestCa.Issued issued = ca.issueWithRsaKey(SLEEP);

        issued.leaf().verify(ca.root().getPublicKey());
        assertThat(issued.key().getAlgorithm()).isEqualTo("RSA");
        assertThat(issued.leaf().getPublicKey()).isInstanceOfSatisfying(RSAPublicKey.class,
                k -> assertThat(k.getModulus().bitLength()).isEqualTo(2048));
        assertThat(issued.material().identity()).isEqualTo(SLEEP);
    }

    @Test
    void otherTrustDomainsCanBeIssued() {
        SpiffeId foreign = new SpiffeId("corp.example", "default", "sleep");
        assertThat(TestCa.create("cluster.local").issue(foreign).material().identity()).isEqualTo(foreign);
    }

    @Test
    void istioLayoutLoadsBack() throws IOException {
        TestCa ca = TestCa.create("cluster.local");
        TestCa.Issued issued = ca.issue(SLEEP);
        Path certs = dir.resolve("var/run/secrets/istio");

        issued.writeIstioLayout(certs);
        TlsMaterial m = TlsMaterial.load(certs);

        assertThat(m.identity()).isEqualTo(SLEEP);
        assertThat(m.chain()).containsExactly(issued.leaf());
        assertThat(m.roots()).containsExactly(ca.root());
        assertThat(Files.readString(certs.resolve("key.pem"))).startsWith("-----BEGIN PRIVATE KEY-----\n");
        try (Stream<Path> files = Files.list(certs)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .as("no temporary files left behind")
                    .containsExactlyInAnyOrder("cert-chain.pem", "key.pem", "root-cert.pem");
        }
    }

    @Test
    void rewritingTheLayoutReplacesIt() throws IOException {
        TestCa ca = TestCa.create("cluster.local");
        SpiffeId next = new SpiffeId("cluster.local", "default", "sleep-v2");
        ca.issue(SLEEP).writeIstioLayout(dir);
        ca.issueWithRsaKey(next).writeIstioLayout(dir);

        assertThat(TlsMaterial.load(dir).identity()).isEqualTo(next);
    }

    @Test
    void issuedCopiesItsChain() {
        TestCa.Issued issued = TestCa.create("cluster.local").issue(SLEEP);
        issued.chain()[0] = null;
        assertThat(issued.chain()[0]).isNotNull();
    }

    @Test
    void arguments() {
        assertThatThrownBy(() -> TestCa.create(null)).isInstanceOf(NullPointerException.class).hasMessage("trustDomain");
        assertThatThrownBy(() -> TestCa.create("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TestCa.create("td").issue(null)).isInstanceOf(NullPointerException.class).hasMessage("id");
    }
}
