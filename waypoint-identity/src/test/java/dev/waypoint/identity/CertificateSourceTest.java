package dev.waypoint.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.identity.TestCerts.KeyFormat;
import dev.waypoint.model.mesh.SpiffeId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateSourceTest {
    private static final SpiffeId V1 = new SpiffeId("cluster.local", "shop", "waypoint");
    private static final SpiffeId V2 = new SpiffeId("cluster.local", "shop", "waypoint-v2");
    private static final SpiffeId V3 = new SpiffeId("cluster.local", "shop", "waypoint-v3");
    /** Long enough that only {@code pollNow()} polls, so the tests decide when a poll happens. */
    private static final Duration MANUAL = Duration.ofHours(1);
    private static final TestCerts CA = TestCerts.ca();

    @TempDir
    Path dir;

    private ScheduledExecutorService exec;

    @BeforeEach
    void setUp() {
        exec = Executors.newSingleThreadScheduledExecutor();
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        exec.shutdownNow();
        exec.awaitTermination(10, TimeUnit.SECONDS);
    }

    private void write(SpiffeId id) {
        CA.issue(id.uri()).write(dir, KeyFormat.PKCS8);
    }

    @Test
    void firstLoadFailureThrows() {
        assertThatThrownBy(() -> CertificateSource.fileMounted(dir, exec, MANUAL))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("cert-chain.pem: not found in ");
    }

    @Test
    void reloadsWhenTheFilesChange() throws IOException {
        write(V1);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            List<TlsMaterial> seen = new CopyOnWriteArrayList<>();
            source.subscribe(seen::add);
            TlsMaterial first = source.current();
            assertThat(first.identity()).isEqualTo(V1);

            assertThat(source.pollNow()).as("unchanged files").isFalse();
            assertThat(source.current()).isSameAs(first);

            write(V2);
            assertThat(source.pollNow()).isTrue();
            assertThat(source.current().identity()).isEqualTo(V2);
            assertThat(seen).containsExactly(source.current());
            assertThat(source.pollNow()).isFalse();
        }
    }

    /** Sets every file's modification time {@code seconds} into the past. */
    private void age(long seconds) throws IOException {
        java.nio.file.attribute.FileTime t = java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minusSeconds(seconds));
        for (String f : List.of(TlsMaterial.CERT_CHAIN, TlsMaterial.KEY, TlsMaterial.ROOT_CERT)) {
            Files.setLastModifiedTime(dir.resolve(f), t);
        }
    }

    @Test
    void settledUnchangedFilesAreNotReadAgain() throws IOException {
        write(V1);
        age(60);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            assertThat(source.pollNow()).isFalse(); // the first poll reads (nothing compared yet)
            long reads = source.reads();
            for (int i = 0; i < 10; i++) {
                assertThat(source.pollNow()).isFalse();
            }
            assertThat(source.reads()).as("ten polls of settled, unchanged files").isEqualTo(reads);

            write(V2); // new files, new times: read and reloaded
            assertThat(source.pollNow()).isTrue();
            assertThat(source.current().identity()).isEqualTo(V2);
            assertThat(source.reads()).isEqualTo(reads + 1);
        }
    }

    @Test
    void filesModifiedJustBeforeAReadAreReadAgain() throws IOException {
        write(V1);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            source.pollNow();
            long reads = source.reads();
            // written within the racy window of that read: a second write in the same clock tick
            // would look the same, so each poll reads until the files have settled
            source.pollNow();
            source.pollNow();
            assertThat(source.reads()).isEqualTo(reads + 2);
            age(60);
            source.pollNow(); // new times: read once more
            long settled = source.reads();
            source.pollNow();
            assertThat(source.reads()).isEqualTo(settled);
        }
    }

    @Test
    void aSecretVolumeSwapIsSeenThroughItsLinks() throws IOException {
        // kubelet's layout: files are links through ..data to a timestamped directory, swapped atomically
        Path v1 = Files.createDirectories(dir.resolve("..2026_01"));
        CA.issue(V1.uri()).write(v1, KeyFormat.PKCS8);
        Files.createSymbolicLink(dir.resolve("..data"), Path.of("..2026_01"));
        for (String f : List.of(TlsMaterial.CERT_CHAIN, TlsMaterial.KEY, TlsMaterial.ROOT_CERT)) {
            Files.createSymbolicLink(dir.resolve(f), Path.of("..data", f));
        }
        age(60);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            source.pollNow();
            long reads = source.reads();
            source.pollNow();
            assertThat(source.reads()).isEqualTo(reads);

            Path v2 = Files.createDirectories(dir.resolve("..2026_02"));
            CA.issue(V2.uri()).write(v2, KeyFormat.PKCS8);
            Path tmp = Files.createSymbolicLink(dir.resolve("..data_tmp"), Path.of("..2026_02"));
            Files.move(tmp, dir.resolve("..data"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            age(60); // even with the old times: other files (inodes)

            assertThat(source.pollNow()).isTrue();
            assertThat(source.current().identity()).isEqualTo(V2);
        }
    }

    @Test
    void brokenRewriteKeepsThePreviousMaterial() throws IOException {
        write(V1);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            List<TlsMaterial> seen = new CopyOnWriteArrayList<>();
            source.subscribe(seen::add);
            TlsMaterial first = source.current();

            Files.writeString(dir.resolve("key.pem"), "not a key\n");
            assertThat(source.pollNow()).isFalse();
            assertThat(source.current()).isSameAs(first);

            Files.delete(dir.resolve("root-cert.pem"));
            assertThat(source.pollNow()).isFalse();
            assertThat(source.current()).isSameAs(first);

            write(V3);
            assertThat(source.pollNow()).isTrue();
            assertThat(source.current().identity()).isEqualTo(V3);
            assertThat(seen).extracting(TlsMaterial::identity).containsExactly(V3);
        }
    }

    @Test
    void halfRotatedFilesKeepThePreviousMaterialUntilComplete() throws IOException {
        write(V1);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            TlsMaterial first = source.current();
            Path next = Files.createDirectory(dir.resolve("next"));
            CA.issue(V2.uri()).write(next, KeyFormat.PKCS8);

            // New chain, old key: a poll between the file moves of a rotation.
            Files.copy(next.resolve("cert-chain.pem"), dir.resolve("cert-chain.pem"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThat(source.pollNow()).isFalse();
            assertThat(source.current()).isSameAs(first);

            Files.copy(next.resolve("key.pem"), dir.resolve("key.pem"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThat(source.pollNow()).isTrue();
            assertThat(source.current().identity()).isEqualTo(V2);
        }
    }

    @Test
    void failingSubscriberDoesNotStopTheOthers() throws IOException {
        write(V1);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, MANUAL)) {
            List<SpiffeId> seen = new CopyOnWriteArrayList<>();
            source.subscribe(m -> {
                throw new IllegalStateException("boom");
            });
            source.subscribe(m -> seen.add(m.identity()));

            write(V2);
            assertThat(source.pollNow()).isTrue();
            assertThat(seen).containsExactly(V2);
        }
    }

    @Test
    void scheduledPollPicksUpARotation() throws Exception {
        write(V1);
        try (CertificateSource source = CertificateSource.fileMounted(dir, exec, Duration.ofMillis(20))) {
            CountDownLatch rotated = new CountDownLatch(1);
            source.subscribe(m -> {
                if (m.identity().equals(V2)) {
                    rotated.countDown();
                }
            });
            write(V2);
            // Generous bound: this waits for the poll, it does not measure it.
            assertThat(rotated.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(source.current().identity()).isEqualTo(V2);
        }
    }

    @Test
    void fixedSourceNeverChanges() {
        TlsMaterial m = CA.issue(V1.uri()).material();
        try (CertificateSource source = CertificateSource.fixed(m)) {
            source.subscribe(x -> {
                throw new AssertionError("fixed sources do not notify");
            });
            assertThat(source.current()).isSameAs(m);
            assertThat(source.pollNow()).isFalse();
        }
    }
}
