package dev.waypoint.identity;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where listeners and connection pools get the current {@link TlsMaterial}.
 *
 * <p>{@link #current()} is one volatile read: call it when a connection is accepted or opened and
 * use that material for the whole connection. After a rotation, <b>new connections use the new
 * material; existing connections keep the certificate they handshook with</b> and are not touched
 * (a TLS connection cannot change its certificate; Istio rotates well before expiry, so old
 * connections stay valid until they close or are drained).
 *
 * <h2>File-mounted source</h2>
 * {@link #fileMounted} reads Istio's layout ({@code cert-chain.pem}, {@code key.pem}, {@code
 * root-cert.pem}) once, failing if that first load fails, then polls the three files on the given
 * executor. A poll first compares each file's size, modification time and inode with what the
 * last read saw: unchanged, and modified more than 2 s before that read (a file system clock is
 * coarse), nothing is read. Otherwise it computes a fingerprint (size, modification time and
 * SHA-256 of each file, from the same bytes it parses) and reloads when it changed. A reload that fails, for example because
 * the files are mid-rotation and the key does not match the chain yet, logs an error and keeps the
 * previous material; the same broken content is not retried or logged again until it changes.
 * Kubernetes secret volumes swap a {@code ..data} symlink, which the poll follows.
 *
 * <h2>Threading</h2>
 * Polls run on the supplied executor (never on an event loop) and are serialized. Subscribers are
 * called on the polling thread after the new material is published; a subscriber that throws is
 * logged and does not stop the others.
 *
 * <h2>Lifecycle</h2>
 * {@link #close()} stops polling. It does not shut the executor down; the caller owns it.
 */
public final class CertificateSource implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CertificateSource.class);
    private static final List<String> FILES =
            List.of(TlsMaterial.CERT_CHAIN, TlsMaterial.KEY, TlsMaterial.ROOT_CERT);

    private final AtomicReference<TlsMaterial> current;
    private final List<Consumer<TlsMaterial>> subscribers = new CopyOnWriteArrayList<>();
    /** Null for a fixed or updatable source. */
    private final Path certDir;
    /** Guarded by {@code this}: written only inside {@link #pollNow()}. */
    private Fingerprint loaded;
    /**
     * Guarded by {@code this}: the files' attributes at the last read, so an unchanged directory is
     * not read and hashed again every poll; null before it.
     */
    private Attributes lastAttributes;
    /** Guarded by {@code this}: how often the files were read (for tests). */
    private long reads;
    /** The last failure (a fingerprint, or an I/O error message), so one problem is logged once. */
    private Object lastFailure;
    private volatile ScheduledFuture<?> pollTask;

    private CertificateSource(TlsMaterial initial, Path certDir, Fingerprint loaded) {
        this.current = new AtomicReference<>(initial);
        this.certDir = certDir;
        this.loaded = loaded;
    }

    /**
     * Loads Istio's file-mounted layout from {@code certDir} and polls it every {@code pollInterval}
     * on {@code exec}.
     *
     * @throws IOException if a file is missing or unreadable at the first load
     * @throws IllegalArgumentException if the first load finds unusable content (see
     *     {@link TlsMaterial#load(Path)})
     */
    public static CertificateSource fileMounted(Path certDir, ScheduledExecutorService exec, Duration pollInterval)
            throws IOException {
        requireNonNull(certDir, "certDir");
        requireNonNull(exec, "exec");
        requireNonNull(pollInterval, "pollInterval");
        if (pollInterval.isNegative() || pollInterval.isZero()) {
            throw new IllegalArgumentException("pollInterval: " + pollInterval + " (expected: > 0)");
        }
        Snapshot first = Snapshot.read(certDir);
        TlsMaterial material = first.parse();
        log.info("loaded TLS material from {}: {}", certDir, material);
        CertificateSource source = new CertificateSource(material, certDir, first.fingerprint());
        long nanos = pollInterval.toNanos();
        source.pollTask = exec.scheduleWithFixedDelay(source::pollQuietly, nanos, nanos, TimeUnit.NANOSECONDS);
        return source;
    }

    /** A source that always returns {@code material}; {@link #subscribe} listeners are never called. */
    public static CertificateSource fixed(TlsMaterial material) {
        requireNonNull(material, "material");
        return new CertificateSource(material, null, null);
    }

    /**
     * A source whose material its owner replaces, for certificates issued at run time (Istio's CA,
     * {@code waypoint-ca}). Only the holder of the returned {@link Updater} can publish; the
     * listener and the pool get the {@link Updater#source()} and see the same swap as a reload of
     * mounted files: new connections use the new material, subscribers are called after it is
     * published.
     */
    public static Updater updatable(TlsMaterial initial) {
        requireNonNull(initial, "initial");
        CertificateSource source = new CertificateSource(initial, null, null);
        return new Updater() {
            @Override
            public CertificateSource source() {
                return source;
            }

            @Override
            public void update(TlsMaterial next) {
                source.publish(requireNonNull(next, "next"));
            }
        };
    }

    /** The right to replace an {@link #updatable} source's material; kept by whoever issues it. */
    public interface Updater {
        /** The source handed to the listener and the pool. */
        CertificateSource source();

        /** Publishes {@code next}, then calls the subscribers on the calling thread. */
        void update(TlsMaterial next);
    }

    private void publish(TlsMaterial next) {
        TlsMaterial previous = current.getAndSet(next);
        log.info("new TLS material: {} (was {})", next, previous);
        notifySubscribers(next);
    }

    private void notifySubscribers(TlsMaterial next) {
        for (Consumer<TlsMaterial> s : subscribers) {
            try {
                s.accept(next);
            } catch (RuntimeException e) {
                log.error("TLS material subscriber {} failed", s, e);
            }
        }
    }

    /** The latest good material. One volatile read; never {@code null}. */
    public TlsMaterial current() {
        return current.get();
    }

    /** Calls {@code listener} on the polling thread after each successful reload. */
    public void subscribe(Consumer<TlsMaterial> listener) {
        requireNonNull(listener, "listener");
        subscribers.add(listener);
    }

    /** Stops polling; {@link #current()} keeps returning the last material. */
    @Override
    public void close() {
        ScheduledFuture<?> task = pollTask;
        if (task != null) {
            task.cancel(false);
        }
    }

    /**
     * Reads the files once and reloads if they changed. Test hook; the scheduled task calls it too.
     *
     * @return {@code true} if new material was published
     */
    synchronized boolean pollNow() {
        if (certDir == null) {
            return false;
        }
        Attributes attributes = Attributes.of(certDir);
        if (attributes != null && attributes.equals(lastAttributes) && !lastAttributes.racy()) {
            return false; // the same three files, settled: their bytes are what the last read saw
        }
        Snapshot snapshot;
        try {
            reads++;
            snapshot = Snapshot.read(certDir);
        } catch (IOException e) {
            // Missing mid-rotation, or gone: keep serving what we have.
            logFailure(String.valueOf(e.getMessage()), e);
            return false;
        }
        lastAttributes = attributes;
        Fingerprint fp = snapshot.fingerprint();
        if (fp.equals(loaded) || fp.equals(lastFailure)) {
            return false;
        }
        TlsMaterial next;
        try {
            next = snapshot.parse();
        } catch (RuntimeException e) {
            logFailure(fp, e);
            return false;
        }
        loaded = fp;
        lastFailure = null;
        TlsMaterial previous = current.getAndSet(next);
        log.info("reloaded TLS material from {}: {} (was {})", certDir, next, previous);
        notifySubscribers(next);
        return true;
    }

    private void logFailure(Object failure, Exception e) {
        if (failure.equals(lastFailure)) {
            return;
        }
        lastFailure = failure;
        log.error("reloading TLS material from {} failed, keeping {}: {}", certDir, current.get(), e.getMessage());
    }

    private void pollQuietly() {
        try {
            pollNow();
        } catch (RuntimeException | Error e) {
            // An exception would cancel the scheduled task and silently stop rotation.
            log.error("TLS material poll of {} failed", certDir, e);
        }
    }

    /** How often a poll read the files (a poll of unchanged, settled files does not). For tests. */
    synchronized long reads() {
        return reads;
    }

    /**
     * Size, modification time and file key (inode) of each file, links followed (a secret volume's
     * {@code ..data} swap points them at new files), and when they were taken. Equal attributes
     * mean the same bytes unless a file was written again within its file system's clock
     * granularity: a listing taken within {@link #RACY_MILLIS} of a file's modification is
     * {@link #racy()}, and the next poll reads the files anyway.
     */
    private record Attributes(List<Object> perFile, long takenAtMillis) {
        static final long RACY_MILLIS = 2_000;

        /** The attributes, or null when a file cannot be read (the read reports it). */
        static Attributes of(Path dir) {
            List<Object> perFile = new java.util.ArrayList<>(FILES.size() * 3);
            for (String name : FILES) {
                try {
                    java.nio.file.attribute.BasicFileAttributes a =
                            Files.readAttributes(dir.resolve(name), java.nio.file.attribute.BasicFileAttributes.class);
                    perFile.add(a.size());
                    perFile.add(a.lastModifiedTime().toMillis());
                    perFile.add(a.fileKey());
                } catch (IOException | RuntimeException e) {
                    return null;
                }
            }
            return new Attributes(perFile, System.currentTimeMillis());
        }

        boolean racy() {
            for (int i = 1; i < perFile.size(); i += 3) {
                if (takenAtMillis - (Long) perFile.get(i) < RACY_MILLIS) {
                    return true;
                }
            }
            return false;
        }

        /** Equal files; when they were taken does not count. */
        @Override
        public boolean equals(Object o) {
            return o instanceof Attributes a && perFile.equals(a.perFile);
        }

        @Override
        public int hashCode() {
            return perFile.hashCode();
        }
    }

    /** The three files' bytes plus what identifies this version of them. */
    private record Snapshot(byte[] chain, byte[] key, byte[] roots, Fingerprint fingerprint) {
        static Snapshot read(Path dir) throws IOException {
            byte[][] content = new byte[FILES.size()][];
            long[] parts = new long[FILES.size() * 2];
            byte[][] hashes = new byte[FILES.size()][];
            for (int i = 0; i < FILES.size(); i++) {
                Path file = dir.resolve(FILES.get(i));
                try {
                    parts[2 * i + 1] = Files.getLastModifiedTime(file).toMillis();
                    content[i] = Files.readAllBytes(file);
                } catch (NoSuchFileException e) {
                    throw new IOException(FILES.get(i) + ": not found in " + dir, e);
                } catch (IOException e) {
                    throw new IOException(FILES.get(i) + ": cannot read (" + e + ')', e);
                }
                parts[2 * i] = content[i].length;
                hashes[i] = sha256(content[i]);
            }
            return new Snapshot(content[0], content[1], content[2], new Fingerprint(parts, hashes));
        }

        TlsMaterial parse() {
            return TlsMaterial.parse(chain, key, roots);
        }
    }

    /** Size and mtime of each file (pairs, in {@link #FILES} order) and their SHA-256 digests. */
    private record Fingerprint(long[] sizesAndMtimes, byte[][] hashes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Fingerprint f
                    && Arrays.equals(sizesAndMtimes, f.sizesAndMtimes)
                    && Arrays.deepEquals(hashes, f.hashes);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(sizesAndMtimes) + Arrays.deepHashCode(hashes);
        }
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }
}
