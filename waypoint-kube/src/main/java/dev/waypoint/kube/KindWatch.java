package dev.waypoint.kube;

import dev.waypoint.config.translate.WireObject;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.Informable;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The informer of one kind, and its lifecycle: started when the kind exists (always for built-in
 * kinds, while the CRD exists for custom ones), listed again from scratch on {@code 410 Gone},
 * retried with fabric8's backoff on any other failure, stopped when the CRD goes away.
 *
 * <h2>410 Gone</h2>
 * fabric8 8.0 re-lists by itself on a 410 ERROR event inside a watch, but when the 410 comes as
 * the answer to the watch request (the WebSocket handshake) it retries the same stale
 * {@code resourceVersion} forever, mostly without telling the exception handler. So a 410 seen
 * by the client's interceptor ({@link #relistNow}) or by the exception handler stops that
 * informer and starts a fresh one (a new list), and so does the watchdog ({@link #check}); the
 * objects of the old one keep serving until the new one has synced, then replace them in one swap.
 *
 * <h2>Threading</h2>
 * {@link #start}, {@link #stop} and the re-list run on the source's executor, or the caller's
 * thread before the source runs, under this object's lock; fabric8 calls the exception handler
 * on its own threads, which only records and schedules. {@link #objects()} and the state are
 * read from any thread (volatile).
 */
final class KindWatch {
    private static final Logger log = LoggerFactory.getLogger(KindWatch.class);

    /** What a kind is doing now, as shown in readiness details and {@code /config_dump}. */
    enum State { NOT_INSTALLED, LISTING, WATCHING, DISCONNECTED }

    final WatchedKind kind;
    private final KubernetesClient client;
    private final AtomicLong version;
    private final ScheduledExecutorService executor;
    private final Clock clock;

    // guarded by this
    private SharedIndexInformer<GenericKubernetesResource> informer;
    private int epoch;

    private volatile KindStore serving;
    private volatile String watchedVersion;
    private volatile boolean syncedOnce;
    private volatile String lastError;
    private volatile Instant errorSince;
    private volatile int relists;
    /** Started without knowing whether the CRD exists (CRDs cannot be listed): a 404 means "not installed". */
    private volatile boolean probing;
    private volatile boolean warnedNotFound;
    private volatile boolean warnedForbidden;
    /** The last answer was 401/403 on a kind that may be forbidden ({@link WatchedKind#mayBeForbidden}). */
    private volatile boolean forbidden;
    /** How long a probed kind whose API answered 404 waits before it is tried again. */
    static final long PROBE_RETRY_SECONDS = 30;
    // the watchdog's, on the source's executor
    private Instant notWatchingSince;

    KindWatch(WatchedKind kind, KubernetesClient client, AtomicLong version, ScheduledExecutorService executor,
              Clock clock) {
        this.kind = kind;
        this.client = client;
        this.version = version;
        this.executor = executor;
        this.clock = clock;
    }

    /** Starts watching {@code apiVersion}'s version of the kind; nothing if already watching it. */
    synchronized void start(String v) {
        if (informer != null && v.equals(watchedVersion)) {
            return;
        }
        if (informer != null) {
            informer.stop();
        }
        watchedVersion = v;
        int myEpoch = ++epoch;
        ResourceDefinitionContext ctx = new ResourceDefinitionContext.Builder().withGroup(kind.group()).withVersion(v)
                .withKind(kind.kind()).withPlural(kind.plural()).withNamespaced(kind.namespaced()).build();
        var op = client.genericKubernetesResources(ctx);
        Informable<GenericKubernetesResource> target;
        if (kind.namespace() == null) {
            target = kind.fieldSelector() == null ? op.inAnyNamespace()
                    : op.inAnyNamespace().withField(kind.selectorField(), kind.selectorValue());
        } else if (kind.fieldSelector() != null) {
            if (kind.name() != null) {
                throw new IllegalStateException(kind + ": a field selector is supported with a namespace, not a name");
            }
            target = op.inNamespace(kind.namespace()).withField(kind.selectorField(), kind.selectorValue());
        } else if (kind.name() == null) {
            target = op.inNamespace(kind.namespace());
        } else {
            target = op.inNamespace(kind.namespace()).withName(kind.name());
        }
        KindStore store = new KindStore(kind, kind.apiVersion(v), client.getKubernetesSerialization(), version);
        SharedIndexInformer<GenericKubernetesResource> i = target.runnableInformer(0);
        i.itemStore(store);
        i.exceptionHandler((started, t) -> onException(myEpoch, t));
        informer = i;
        i.start().whenComplete((ok, err) -> {
            if (err == null) {
                synced(myEpoch, store);
            }
        });
    }

    /** Stops watching; {@code forget}: the kind is gone (its CRD was deleted), so are its objects. */
    synchronized void stop(boolean forget) {
        epoch++;
        if (informer != null) {
            informer.stop();
            informer = null;
        }
        if (forget) {
            watchedVersion = null;
            if (serving != null) {
                serving = null;
                version.incrementAndGet();
            }
            lastError = null;
            errorSince = null;
        }
    }

    private synchronized void synced(int myEpoch, KindStore store) {
        if (myEpoch != epoch) {
            return;
        }
        store.live(true);
        KindStore old = serving;
        serving = store;
        if (old != null) {
            old.live(false);
        }
        syncedOnce = true;
        forbidden = false;
        lastError = null;
        errorSince = null;
        version.incrementAndGet();
        log.debug("{} {}: synced, {} objects", kind, watchedVersion, store.objects().size());
    }

    /** fabric8's exception handler: true retries (with backoff), false stops this informer. */
    private boolean onException(int myEpoch, Throwable t) {
        synchronized (this) {
            if (myEpoch != epoch) {
                return false;
            }
        }
        boolean firstInEpisode = errorSince == null;
        lastError = t.getMessage() == null ? t.toString() : t.getMessage();
        if (firstInEpisode) {
            errorSince = clock.instant();
        }
        if (probing && code(t) == 404) {
            // no CRD behind this kind (we could not ask): not installed, like a missing CRD; try again later
            if (!warnedNotFound) {
                warnedNotFound = true;
                log.warn("{}: the API answers 404 (no CRD?); skipped, tried again every {} s", kind, PROBE_RETRY_SECONDS);
            }
            executor.execute(() -> {
                synchronized (this) {
                    if (myEpoch == epoch) {
                        stop(true);
                        executor.schedule(this::probe, PROBE_RETRY_SECONDS, TimeUnit.SECONDS);
                    }
                }
            });
            return false;
        }
        int code = code(t);
        if ((code == 403 || code == 401) && kind.mayBeForbidden()) {
            // not readable (no RBAC for it): ready without it, one warning, tried again later
            if (!warnedForbidden) {
                warnedForbidden = true;
                log.warn("{}: not readable ({}); skipped, tried again every {} s", kind, code, PROBE_RETRY_SECONDS);
            }
            executor.execute(() -> {
                synchronized (this) {
                    if (myEpoch == epoch) {
                        String v = watchedVersion;
                        stop(true);
                        forbidden = true;
                        executor.schedule(() -> retryForbidden(v), PROBE_RETRY_SECONDS, TimeUnit.SECONDS);
                    }
                }
            });
            return false;
        }
        if (isGone(t)) {
            log.warn("{}: 410 Gone ({}); listing again from scratch", kind, lastError);
            executor.execute(() -> relist(myEpoch));
            return false;
        }
        if (firstInEpisode) {
            // once per outage: fabric8 retries with its exponential backoff, the last good snapshot serves
            log.warn("{}: {}; retrying, the last good config keeps serving", kind, lastError);
        }
        return true;
    }

    private synchronized void retryForbidden(String v) {
        if (informer == null && forbidden && v != null) {
            start(v);
        }
    }

    /** A 410 at the watch handshake (seen by the client's interceptor): list again now. */
    synchronized void relistNow() {
        if (informer != null) {
            lastError = "410 Gone at the watch handshake";
            if (errorSince == null) {
                errorSince = clock.instant();
            }
            log.warn("{}: 410 Gone at the watch handshake; listing again from scratch", kind);
            relist(epoch);
        }
    }

    private synchronized void relist(int myEpoch) {
        if (myEpoch != epoch || watchedVersion == null) {
            return;
        }
        relists++;
        String v = watchedVersion;
        informer.stop();
        informer = null;
        start(v);
    }

    /**
     * The watchdog, every few seconds on the source's executor: an informer that has synced but
     * has not been watching for {@code patience} is replaced by a fresh list and watch. This
     * catches what the exception handler does not see: fabric8 re-establishes some watches
     * (the 410 answer to a watch handshake among them) inside its watch manager, with backoff,
     * without asking the handler, and would retry a stale resourceVersion forever.
     */
    void check(java.time.Duration patience) {
        SharedIndexInformer<GenericKubernetesResource> i;
        int myEpoch;
        synchronized (this) {
            i = informer;
            myEpoch = epoch;
        }
        if (i == null || !syncedOnce || i.isWatching()) {
            notWatchingSince = null;
            return;
        }
        Instant now = clock.instant();
        if (notWatchingSince == null) {
            notWatchingSince = now;
            if (errorSince == null) {
                errorSince = now;
            }
        } else if (!now.isBefore(notWatchingSince.plus(patience))) {
            notWatchingSince = null;
            log.info("{}: not watching for {}; listing again from scratch", kind, patience);
            relist(myEpoch);
        }
    }

    /**
     * Starts the kind at its first preferred version without a CRD to go by (the CRDs cannot be
     * listed); a 404 then counts as "not installed" and is retried every
     * {@value #PROBE_RETRY_SECONDS} s.
     */
    synchronized void probe() {
        if (informer != null) {
            return;
        }
        probing = true;
        start(kind.versions().get(0));
    }

    /** The HTTP status of the first Kubernetes client exception among the causes, or 0. */
    static int code(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() != 0) {
                return k.getCode();
            }
        }
        return 0;
    }

    static boolean isGone(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() == 410) {
                return true;
            }
            if (c instanceof WatcherException w && w.isHttpGone()) {
                return true;
            }
        }
        return false;
    }

    /** The objects of the last completed list and the watch events since; empty before the first sync. */
    Map<String, WireObject> objects() {
        KindStore s = serving;
        return s == null ? Map.of() : s.objects();
    }

    /** The status last seen of {@code namespace/name} (status-written kinds only), or null. */
    KindStore.Seen status(String namespace, String name) {
        KindStore st = serving;
        return st == null ? null : st.status(namespace, name);
    }

    /** Synced once, or not installed (nothing to wait for). */
    boolean synced() {
        return syncedOnce || watchedVersion == null;
    }

    State state() {
        SharedIndexInformer<GenericKubernetesResource> i;
        synchronized (this) {
            i = informer;
        }
        if (watchedVersion == null) {
            return State.NOT_INSTALLED;
        }
        if (!syncedOnce) {
            return errorSince == null ? State.LISTING : State.DISCONNECTED;
        }
        if (i != null && i.isWatching()) {
            return State.WATCHING;
        }
        return errorSince == null ? State.LISTING : State.DISCONNECTED;
    }

    /** The version watched, or null when the kind is not installed. */
    String watchedVersion() {
        return watchedVersion;
    }

    /** When the current outage began, or null. */
    Instant errorSince() {
        return errorSince;
    }

    Map<String, Object> debug() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("kind", kind.toString());
        d.put("version", watchedVersion);
        d.put("state", state().name());
        d.put("objects", objects().size());
        d.put("relists", relists);
        if (forbidden) {
            d.put("forbidden", true);
        }
        if (lastError != null) {
            d.put("lastError", lastError);
            d.put("since", String.valueOf(errorSince));
        }
        return d;
    }
}
