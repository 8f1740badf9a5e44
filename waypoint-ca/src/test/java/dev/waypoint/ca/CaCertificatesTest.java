package dev.waypoint.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.grpc.Status;
import io.netty.channel.EventLoopGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CA client against a real gRPC server speaking {@code ca.proto} ({@link IstiodCaServer}) on
 * 127.130.0.1 (this branch's loopback range): issue, renew, failures keep the old certificate,
 * refused token, refused CSR identity, wrong root, slow CA.
 */
class CaCertificatesTest {
    private static final String HOST = "127.130.0.1";
    private static final SpiffeId ID = new SpiffeId("cluster.local", "mesh", "waypoint");

    @TempDir
    Path dir;
    private final TestCa ca = TestCa.create("cluster.local");
    private IstiodCaServer istiod;
    private EventLoopGroup group;
    private ScheduledExecutorService exec;
    private Path root;
    private Path token;

    @BeforeEach
    void start() throws Exception {
        istiod = new IstiodCaServer(ca, HOST, dir.resolve("istiod"), "istiod.istio-system.svc", HOST);
        istiod.allow("good-token", ID);
        group = EventLoops.newGroup(1, "ca-test");
        exec = Executors.newSingleThreadScheduledExecutor();
        root = dir.resolve("istiod/root-cert.pem");
        token = dir.resolve("istio-token");
        Files.writeString(token, "good-token\n");
    }

    @AfterEach
    void stop() throws Exception {
        istiod.close();
        exec.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private CaSettings settings(SpiffeId id, Path rootCert) {
        return CaSettings.defaults(HOST + ":" + istiod.port(), rootCert, token, id)
                .withTimings(Duration.ofHours(1), Duration.ofSeconds(5), Duration.ZERO, Duration.ofMillis(100),
                        Duration.ofMillis(400));
    }

    @Test
    void issuesACertificateForTheIdentityWithIstioAgentsHeaders() throws Exception {
        try (CaCertificates certs = CaCertificates.start(settings(ID, root), group, exec)) {
            TlsMaterial m = certs.source().current();
            assertThat(m.identity()).isEqualTo(ID);
            // istiod answers [leaf, root]; the root is a trust anchor, not part of the presented chain
            assertThat(m.chain()).hasSize(1);
            assertThat(m.chain()[0].getIssuerX500Principal()).isEqualTo(ca.root().getSubjectX500Principal());
            assertThat(m.roots()).containsExactly(ca.root());
            assertThat(m.chain()[0].getPublicKey().getAlgorithm()).isEqualTo("EC");
            assertThat(certs.notAfter()).isEqualTo(m.notAfter());
            assertThat(istiod.requests).singleElement().satisfies(r -> {
                assertThat(r.authorization()).isEqualTo("Bearer good-token");
                assertThat(r.clusterId()).isEqualTo("Kubernetes");
                assertThat(r.csrSan()).isEqualTo("spiffe://cluster.local/ns/mesh/sa/waypoint");
                assertThat(r.validitySeconds()).isEqualTo(3600);
            });
        }
    }

    @Test
    void renewsByItselfAtHalfTheLifetimeWithANewKey() throws Exception {
        istiod.lifetime = Duration.ofSeconds(2);
        try (CaCertificates certs = CaCertificates.start(settings(ID, root), group, exec)) {
            TlsMaterial first = certs.source().current();
            List<TlsMaterial> published = new CopyOnWriteArrayList<>();
            certs.source().subscribe(published::add);
            await().atMost(Duration.ofSeconds(10)).until(() -> !published.isEmpty());
            TlsMaterial second = published.get(0);
            // the source serves the latest one published (with a 2 s lifetime there may be more by now)
            await().atMost(Duration.ofSeconds(5)).until(() -> certs.source().current() == published.get(published.size() - 1));
            assertThat(second.chain()[0].getSerialNumber()).isNotEqualTo(first.chain()[0].getSerialNumber());
            assertThat(second.chain()[0].getPublicKey()).isNotEqualTo(first.chain()[0].getPublicKey());
            assertThat(certs.renewals()).isGreaterThanOrEqualTo(1);
            // renewal came well before expiry: the first certificate was still valid when replaced
            assertThat(istiod.requests).hasSizeGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void aFailedRenewalKeepsTheOldCertificateAndRetries() throws Exception {
        try (CaCertificates certs = CaCertificates.start(settings(ID, root), group, exec)) {
            TlsMaterial first = certs.source().current();
            istiod.failWith = Status.UNAVAILABLE.withDescription("istiod is restarting");
            assertThatThrownBy(() -> certs.renewNow().get()).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOfSatisfying(CaCallException.class, e -> {
                        assertThat(e.grpcStatus()).isEqualTo(14);
                        assertThat(e.getMessage()).contains("14 UNAVAILABLE: istiod is restarting");
                    });
            assertThat(certs.source().current()).isSameAs(first);
            assertThat(certs.failures()).isGreaterThanOrEqualTo(1);
            istiod.failWith = null;
            // the backoff retry (100-400 ms here) gets a new one without being asked
            await().atMost(Duration.ofSeconds(10)).until(() -> certs.source().current() != first);
            assertThat(certs.source().current().identity()).isEqualTo(ID);
        }
    }

    @Test
    void aSlowCaTimesOutAndTheOldCertificateStays() throws Exception {
        // a deadline long enough for the first call on a loaded machine, far shorter than the delay
        CaSettings s = settings(ID, root).withTimings(Duration.ofHours(1), Duration.ofSeconds(3), Duration.ZERO,
                Duration.ofSeconds(30), Duration.ofSeconds(30));
        try (CaCertificates certs = CaCertificates.start(s, group, exec)) {
            TlsMaterial first = certs.source().current();
            istiod.delay = Duration.ofSeconds(60);
            CompletableFuture<TlsMaterial> renewal = certs.renewNow();
            // the scheduling thread (the server's config thread) is free while the CA is silent
            assertThat(exec.submit(() -> renewal.isDone()).get(2, TimeUnit.SECONDS)).isFalse();
            assertThatThrownBy(renewal::get).cause()
                    .isInstanceOfSatisfying(CaCallException.class, e -> {
                        assertThat(e.grpcStatus()).isEqualTo(4);
                        assertThat(e.getMessage()).contains("DEADLINE_EXCEEDED");
                    });
            assertThat(certs.source().current()).isSameAs(first);
        }
    }

    @Test
    void aTokenTheCaRefusesFailsStartUp() throws Exception {
        Files.writeString(token, "stolen-token");
        assertThatThrownBy(() -> CaCertificates.start(settings(ID, root), group, exec))
                .isInstanceOfSatisfying(CaCallException.class, e -> {
                    assertThat(e.grpcStatus()).isEqualTo(16);
                    assertThat(e.getMessage()).contains("16 UNAUTHENTICATED").contains("after 1 attempt(s)");
                });
    }

    @Test
    void aCsrForAnotherIdentityIsRefused() throws Exception {
        SpiffeId other = new SpiffeId("cluster.local", "mesh", "someone-else");
        assertThatThrownBy(() -> CaCertificates.start(settings(other, root), group, exec))
                .isInstanceOfSatisfying(CaCallException.class, e -> assertThat(e.getMessage())
                        .contains("requested identity spiffe://cluster.local/ns/mesh/sa/someone-else"));
    }

    @Test
    void aCaNotSignedByTheMeshRootIsRefused() throws Exception {
        TestCa.create("cluster.local").issue(ID).writeIstioLayout(dir.resolve("other"));
        assertThatThrownBy(() -> CaCertificates.start(settings(ID, dir.resolve("other/root-cert.pem")), group, exec))
                .isInstanceOfSatisfying(CaCallException.class, e -> {
                    assertThat(e.grpcStatus()).isEqualTo(-1);
                    assertThat(e.getMessage()).contains("TLS handshake (verified against the mesh root) failed");
                });
        assertThat(istiod.requests).isEmpty();
    }

    @Test
    void aCaServingAnotherNameIsRefused() throws Exception {
        try (IstiodCaServer impostor = new IstiodCaServer(ca, HOST, dir.resolve("impostor"), "evil.example")) {
            impostor.allow("good-token", ID);
            CaSettings s = CaSettings.defaults(HOST + ":" + impostor.port(), root, token, ID)
                    .withTimings(Duration.ofHours(1), Duration.ofSeconds(5), Duration.ZERO, Duration.ofMillis(100),
                            Duration.ofMillis(400));
            assertThatThrownBy(() -> CaCertificates.start(s, group, exec))
                    .isInstanceOfSatisfying(CaCallException.class, e -> assertThat(e.getMessage())
                            .contains("TLS handshake"));
            assertThat(impostor.requests).isEmpty();
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
        "no token     | token        | --ca-token",
        "empty token  | empty-token  | --ca-token",
        "no root      | root         | --ca-root-cert",
        "not PEM      | garbage-root | --ca-root-cert",
    })
    void unusableMountsFailStartUpNamingTheFlagAndFile(String name, String what, String flag) throws Exception {
        Path r = root;
        switch (what) {
            case "token" -> Files.delete(token);
            case "empty-token" -> Files.writeString(token, "\n");
            case "root" -> r = dir.resolve("missing-root.pem");
            default -> r = Files.writeString(dir.resolve("garbage.pem"), "not a certificate");
        }
        Path rootFile = r;
        assertThatThrownBy(() -> CaCertificates.start(settings(ID, rootFile), group, exec))
                .isInstanceOf(CaCallException.class).hasMessageContaining(flag + " " + dir);
        assertThat(istiod.requests).isEmpty();
    }

    @Test
    void startUpRetriesUntilTheCaAnswers() throws Exception {
        istiod.failWith = Status.UNAVAILABLE;
        CaSettings s = settings(ID, root).withTimings(Duration.ofHours(1), Duration.ofSeconds(5),
                Duration.ofSeconds(20), Duration.ofMillis(100), Duration.ofMillis(200));
        exec.schedule(() -> istiod.failWith = null, 500, TimeUnit.MILLISECONDS);
        try (CaCertificates certs = CaCertificates.start(s, group, exec)) {
            assertThat(certs.source().current().identity()).isEqualTo(ID);
            assertThat(istiod.requests).hasSizeGreaterThan(1);
        }
    }
}
