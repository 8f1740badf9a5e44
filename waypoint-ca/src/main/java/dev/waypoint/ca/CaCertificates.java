package dev.waypoint.ca;

import static java.util.Objects.requireNonNull;

import dev.waypoint.identity.CertificateSource;
import dev.waypoint.identity.TlsMaterial;
import io.netty.channel.EventLoopGroup;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This proxy's certificate from Istio's CA, kept fresh: a {@link CertificateSource} the listener and
 * the outbound pool read exactly as they read mounted files.
 *
 * <ul>
 *   <li>{@link #start} gets the first certificate before returning (retrying with backoff for up
 *       to {@link CaSettings#initialTimeout()}), so the server never listens without an identity.
 *   <li>Renewal at half the lifetime with jitter ({@link RenewalSchedule#renewAt}); each renewal
 *       makes a new key.
 *   <li>A failed renewal keeps the current certificate in force and retries with exponential
 *       backoff ({@link RenewalSchedule#backoff}), also after it has expired: peers then refuse
 *       the handshake, which is the truth, and the next success recovers without a restart.
 *   <li>{@link #notAfter()}, {@link #failures()} and {@link #renewals()} are for the metrics.
 * </ul>
 *
 * <h2>Threading</h2>
 * Renewals are scheduled on the given executor (the server's {@code config} thread, never an event
 * loop), which reads the token and the root, makes the key and checks the answer, but is not held
 * while the CA answers: the call runs on the given event loop group and its result comes back to
 * the executor. One call is in flight at a time; {@link #renewNow()} during one waits for it.
 *
 * <h2>Lifecycle</h2>
 * {@link #close()} stops renewing; it shuts down neither the executor nor the group.
 */
public final class CaCertificates implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CaCertificates.class);

    private final CaSettings settings;
    private final IstioCaClient client;
    private final ScheduledExecutorService exec;
    private final Clock clock;
    private final DoubleSupplier random;
    private final CertificateSource.Updater updater;
    /** Failures since the last success; confined to {@link #exec}. */
    private int consecutiveFailures;
    /** The call in flight, or null; confined to {@link #exec}. */
    private CompletableFuture<TlsMaterial> inFlight;
    private final AtomicLong failures = new AtomicLong();
    private final AtomicInteger renewals = new AtomicInteger();
    private volatile ScheduledFuture<?> next;
    private volatile boolean closed;

    private CaCertificates(CaSettings settings, IstioCaClient client, ScheduledExecutorService exec, Clock clock,
            DoubleSupplier random, TlsMaterial first) {
        this.settings = settings;
        this.client = client;
        this.exec = exec;
        this.clock = clock;
        this.random = random;
        this.updater = CertificateSource.updatable(first);
    }

    /**
     * Gets the first certificate (blocking the caller, which must not be an event loop), then
     * schedules its renewal.
     *
     * @param group where the TLS connection to the CA runs
     * @param exec where renewals are scheduled
     * @throws CaCallException if no certificate was issued within {@link CaSettings#initialTimeout()};
     *     the message is the last failure's
     */
    public static CaCertificates start(CaSettings settings, EventLoopGroup group, ScheduledExecutorService exec)
            throws CaCallException, InterruptedException {
        return start(settings, group, exec, Clock.systemUTC(), () -> ThreadLocalRandom.current().nextDouble());
    }

    static CaCertificates start(CaSettings settings, EventLoopGroup group, ScheduledExecutorService exec, Clock clock,
            DoubleSupplier random) throws CaCallException, InterruptedException {
        requireNonNull(settings, "settings");
        requireNonNull(group, "group");
        requireNonNull(exec, "exec");
        IstioCaClient client = new IstioCaClient(settings, group);
        Instant giveUp = clock.instant().plus(settings.initialTimeout());
        int attempt = 0;
        while (true) {
            attempt++;
            try {
                TlsMaterial first = join(client.issue(exec));
                log.info("certificate from Istio's CA {}: {} (attempt {})", settings.address(), first, attempt);
                CaCertificates c = new CaCertificates(settings, client, exec, clock, random, first);
                c.scheduleRenewal(first);
                return c;
            } catch (CaCallException e) {
                Duration wait = RenewalSchedule.backoff(attempt, settings.minBackoff(), settings.maxBackoff(),
                        random.getAsDouble(), Duration.ZERO);
                if (clock.instant().plus(wait).isAfter(giveUp)) {
                    throw new CaCallException("no certificate from Istio's CA at " + settings.address() + " for "
                            + settings.identity().uri() + " after " + attempt + " attempt(s): " + e.getMessage(),
                            e.grpcStatus(), e);
                }
                log.warn("certificate from Istio's CA {} failed (attempt {}), retrying in {} ms: {}",
                        settings.address(), attempt, wait.toMillis(), e.getMessage());
                Thread.sleep(wait.toMillis());
            }
        }
    }

    /** The source to hand to the listener and the pool. */
    public CertificateSource source() {
        return updater.source();
    }

    /** When the certificate in force expires. */
    public Instant notAfter() {
        return updater.source().current().notAfter();
    }

    /** Failed CreateCertificate calls since start (the first issuance's retries not counted). */
    public long failures() {
        return failures.get();
    }

    /** Certificates issued after the first one. */
    public int renewals() {
        return renewals.get();
    }

    /**
     * Renews now instead of at the scheduled time (an operator's or a test's request); the schedule
     * continues from the result.
     *
     * @return completes with the new material, or exceptionally with the failure (the old
     *     material stays, and a retry is scheduled)
     */
    public CompletableFuture<TlsMaterial> renewNow() {
        CompletableFuture<TlsMaterial> done = new CompletableFuture<>();
        exec.execute(() -> renew(done));
        return done;
    }

    @Override
    public void close() {
        closed = true;
        ScheduledFuture<?> f = next;
        if (f != null) {
            f.cancel(false);
        }
    }

    private void scheduleRenewal(TlsMaterial m) {
        X509Validity v = X509Validity.of(m);
        Instant at = RenewalSchedule.renewAt(v.notBefore(), v.notAfter(), settings.jitter(), random.getAsDouble());
        Duration in = Duration.between(clock.instant(), at);
        log.info("renewing {} at {} (in {} s; expires {})", m.identity().uri(), at, Math.max(0, in.toSeconds()),
                v.notAfter());
        schedule(in);
    }

    private void schedule(Duration in) {
        if (closed) {
            return;
        }
        ScheduledFuture<?> previous = next;
        if (previous != null) {
            previous.cancel(false);
        }
        next = exec.schedule(() -> renew(null), Math.max(0, in.toMillis()), TimeUnit.MILLISECONDS);
    }

    /** Runs on {@link #exec}: starts a call unless one is in flight; its result is handled on {@link #exec}. */
    private void renew(CompletableFuture<TlsMaterial> done) {
        if (closed) {
            if (done != null) {
                done.completeExceptionally(new IllegalStateException("closed"));
            }
            return;
        }
        if (inFlight != null) {
            if (done != null) {
                inFlight.whenComplete((m, e) -> complete(done, m, e));
            }
            return;
        }
        CompletableFuture<TlsMaterial> call;
        try {
            call = client.issue(exec);
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        inFlight = call;
        // the config thread is not held while istiod answers (or does not): the result comes back to it
        call.whenCompleteAsync((result, error) -> {
            inFlight = null;
            if (closed) {
                if (done != null) {
                    done.completeExceptionally(new IllegalStateException("closed"));
                }
                return;
            }
            if (error != null) {
                onFailure(callException(error), done);
                return;
            }
            consecutiveFailures = 0;
            renewals.incrementAndGet();
            updater.update(result);
            scheduleRenewal(result);
            if (done != null) {
                done.complete(result);
            }
        }, exec);
    }

    private void onFailure(CaCallException e, CompletableFuture<TlsMaterial> done) {
        failures.incrementAndGet();
        consecutiveFailures++;
        TlsMaterial current = updater.source().current();
        Duration wait = RenewalSchedule.backoff(consecutiveFailures, settings.minBackoff(), settings.maxBackoff(),
                random.getAsDouble(), Duration.between(clock.instant(), current.notAfter()));
        log.error("renewing the certificate from Istio's CA {} failed ({} in a row), keeping {}, retrying in {} ms: {}",
                settings.address(), consecutiveFailures, current, wait.toMillis(), e.getMessage());
        schedule(wait);
        if (done != null) {
            done.completeExceptionally(e);
        }
    }

    private static void complete(CompletableFuture<TlsMaterial> done, TlsMaterial m, Throwable e) {
        if (e != null) {
            done.completeExceptionally(callException(e));
        } else {
            done.complete(m);
        }
    }

    private static CaCallException callException(Throwable error) {
        Throwable c = error instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : error;
        return c instanceof CaCallException cce ? cce : new CaCallException(String.valueOf(c.getMessage()), -1, c);
    }

    /** Waits for the first call at start-up (the caller's thread; the call has its own deadline). */
    private static TlsMaterial join(CompletableFuture<TlsMaterial> f) throws CaCallException, InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            throw callException(e.getCause());
        }
    }

    /** The leaf's validity window. */
    private record X509Validity(Instant notBefore, Instant notAfter) {
        static X509Validity of(TlsMaterial m) {
            var leaf = m.chain()[0];
            return new X509Validity(leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant());
        }
    }
}
