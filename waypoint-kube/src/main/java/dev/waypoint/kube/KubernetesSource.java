package dev.waypoint.kube;

import static java.util.Objects.requireNonNull;

import dev.waypoint.config.ObjectFeed;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.config.yaml.ManifestFile;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kubernetes API as a config source: one fabric8 informer per {@link WatchedKind}, every
 * object stripped as it is stored, and the whole served as an {@link ObjectFeed} to the same
 * {@code SnapshotPublisher} (translator, validation, last-good rule, debounced swap) the manifest
 * directory uses.
 *
 * <h2>Custom resources</h2>
 * The CustomResourceDefinitions are watched too (stubs only: name and served versions, not their
 * schemas). A custom kind is watched while its CRD exists; one whose CRD is missing is skipped with
 * one warning and picked up when the CRD appears; when the CRD is deleted its objects go with it.
 *
 * <h2>Ready</h2>
 * {@link #synced()} once every informer (and the CRD informer) has listed once. After that, an
 * API server that goes away changes nothing that is served: the objects of the last list and the
 * watch events since stay, fabric8 reconnects with backoff, and {@link #health()} says since when
 * which kinds are disconnected.
 *
 * <h2>Threading</h2>
 * fabric8 runs the informers on its own threads; starts, stops and re-lists run on this source's
 * own {@code kube} thread. {@link #version()} and {@link #read()} are called by the config
 * executor and only read concurrent maps.
 */
public final class KubernetesSource implements ObjectFeed, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);
    private static final ResourceDefinitionContext CRDS = new ResourceDefinitionContext.Builder()
            .withGroup("apiextensions.k8s.io").withVersion("v1").withKind("CustomResourceDefinition")
            .withPlural("customresourcedefinitions").withNamespaced(false).build();

    private final KubernetesClient client;
    private final Clock clock;
    private final AtomicLong version = new AtomicLong();
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kube");
        t.setDaemon(true);
        return t;
    });
    private final List<KindWatch> watches = new ArrayList<>();
    private final Map<String, KindWatch> byCrd = new LinkedHashMap<>();
    private final Set<String> warnedMissing = ConcurrentHashMap.newKeySet();
    private volatile SharedIndexInformer<GenericKubernetesResource> crdInformer;
    private volatile boolean crdsSynced;
    private boolean ownsClient;
    private final CrdStore crdStore = new CrdStore();
    private Instant crdsNotWatchingSince; // the watchdog's
    /** How long a synced informer may go without a watch before it is replaced by a fresh list and watch. */
    static final Duration WATCH_PATIENCE = Duration.ofSeconds(15);
    private static final Duration WATCHDOG_INTERVAL = Duration.ofSeconds(3);

    /**
     * A source over {@code kinds} with a client of its own, which it closes; nothing is watched
     * until {@link #start()}. The client tells the source about watch requests answered
     * {@code 410 Gone}, and the kind is listed again at once.
     *
     * @param kubeconfig a kubeconfig file, or null for the in-cluster config ({@link KubeClients#create})
     */
    public static KubernetesSource connect(Path kubeconfig, List<WatchedKind> kinds, Clock clock) {
        AtomicReference<KubernetesSource> self = new AtomicReference<>();
        KubernetesClient client = KubeClients.create(kubeconfig, uri -> {
            KubernetesSource s = self.get();
            if (s != null) {
                s.watchGone(uri);
            }
        });
        KubernetesSource s = new KubernetesSource(client, kinds, clock);
        s.ownsClient = true;
        self.set(s);
        return s;
    }

    /** The client (status writes share it). */
    public KubernetesClient client() {
        return client;
    }

    /**
     * A source over {@code kinds}; nothing is watched until {@link #start()}. A 410 at a watch
     * handshake is then caught only by the watchdog; prefer {@link #connect}.
     *
     * @param client the client ({@link KubeClients#create}); closed by the caller
     */
    public KubernetesSource(KubernetesClient client, List<WatchedKind> kinds, Clock clock) {
        this.client = requireNonNull(client, "client");
        this.clock = requireNonNull(clock, "clock");
        for (WatchedKind k : requireNonNull(kinds, "kinds")) {
            KindWatch w = new KindWatch(k, client, version, executor, clock);
            watches.add(w);
            if (k.custom()) {
                byCrd.put(k.crdName(), w);
            }
        }
    }

    /** Starts the informers of the built-in kinds and the CRD informer; returns at once. */
    public void start() {
        for (KindWatch w : watches) {
            if (!w.kind.custom()) {
                w.start(w.kind.versions().get(0));
            }
        }
        startCrdInformer();
        executor.scheduleWithFixedDelay(this::watchdog, WATCHDOG_INTERVAL.toMillis(), WATCHDOG_INTERVAL.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private void watchdog() {
        try {
            for (KindWatch w : watches) {
                w.check(WATCH_PATIENCE);
            }
            SharedIndexInformer<GenericKubernetesResource> i = crdInformer;
            if (i == null || !crdsSynced || i.isWatching()) {
                crdsNotWatchingSince = null;
            } else if (crdsNotWatchingSince == null) {
                crdsNotWatchingSince = clock.instant();
            } else if (!clock.instant().isBefore(crdsNotWatchingSince.plus(WATCH_PATIENCE))) {
                crdsNotWatchingSince = null;
                log.info("CustomResourceDefinitions: not watching for {}; listing again from scratch", WATCH_PATIENCE);
                i.stop();
                startCrdInformer(); // the same store: the new list's retain step reports CRDs deleted meanwhile
            }
        } catch (RuntimeException e) {
            log.warn("kube watchdog: {}", e.toString()); // never let an exception cancel the schedule
        }
    }

    private void startCrdInformer() {
        SharedIndexInformer<GenericKubernetesResource> i = client.genericKubernetesResources(CRDS).runnableInformer(0);
        i.itemStore(crdStore);
        i.exceptionHandler((started, t) -> {
            if (KindWatch.isGone(t)) {
                log.warn("CustomResourceDefinitions: 410 Gone; listing again from scratch");
                executor.execute(() -> {
                    i.stop();
                    if (crdInformer == i) {
                        startCrdInformer();
                    }
                });
                return false;
            }
            int code = KindWatch.code(t);
            if ((code == 403 || code == 401) && !crdsSynced) {
                // no RBAC for CRDs: watch every custom kind directly; a 404 then means "not installed"
                log.warn("CustomResourceDefinitions: cannot list them ({}); watching each custom kind at its preferred "
                        + "version instead, a kind whose API answers 404 is skipped and tried again every {} s",
                        code, KindWatch.PROBE_RETRY_SECONDS);
                executor.execute(() -> {
                    i.stop();
                    if (crdInformer == i) {
                        crdInformer = null;
                        for (KindWatch w : byCrd.values()) {
                            w.probe();
                        }
                        crdsSynced = true;
                    }
                });
                return false;
            }
            log.warn("CustomResourceDefinitions: {}; retrying", t.getMessage() == null ? t : t.getMessage());
            return true;
        });
        crdInformer = i;
        i.start().whenComplete((ok, err) -> {
            if (err == null) {
                executor.execute(() -> {
                    for (KindWatch w : byCrd.values()) {
                        if (w.state() == KindWatch.State.NOT_INSTALLED && warnedMissing.add(w.kind.crdName())) {
                            log.warn("{}: CRD {} not installed; skipped until it appears", w.kind, w.kind.crdName());
                        }
                    }
                    crdsSynced = true;
                });
            }
        });
    }

    /** Whether every informer has listed once (kinds whose CRD is missing count as listed). */
    public boolean synced() {
        if (!crdsSynced) {
            return false;
        }
        for (KindWatch w : watches) {
            if (!w.synced()) {
                return false;
            }
        }
        return true;
    }

    /** Waits for {@link #synced()}; false when {@code timeout} passed first. */
    public boolean awaitSynced(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!synced()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
        return true;
    }

    /**
     * How the watches are doing.
     *
     * @param synced every informer listed once
     * @param connected every running informer is watching
     * @param detail one line: what is waited for or disconnected, and since when
     */
    public record Health(boolean synced, boolean connected, String detail) {}

    /** The current health, for readiness details. */
    public Health health() {
        boolean synced = synced();
        List<String> waiting = new ArrayList<>();
        List<String> down = new ArrayList<>();
        Instant since = null;
        for (KindWatch w : watches) {
            KindWatch.State s = w.state();
            if (!w.synced()) {
                waiting.add(w.kind.kind());
            }
            if (s == KindWatch.State.DISCONNECTED) {
                down.add(w.kind.kind());
                Instant e = w.errorSince();
                if (e != null && (since == null || e.isBefore(since))) {
                    since = e;
                }
            }
        }
        if (!synced) {
            return new Health(false, down.isEmpty(), "waiting for the first list of "
                    + (crdsSynced ? String.join(", ", waiting) : "CustomResourceDefinitions")
                    + (down.isEmpty() ? "" : "; API server unreachable since " + since));
        }
        if (!down.isEmpty()) {
            return new Health(true, false, "Kubernetes API unreachable since " + since + " (" + String.join(", ", down)
                    + "); serving the last good config");
        }
        return new Health(true, true, "watching the Kubernetes API");
    }

    /** The {@code kubernetes} section of {@code /config_dump}. */
    public Map<String, Object> debug() {
        Map<String, Object> d = new LinkedHashMap<>();
        Health h = health();
        d.put("server", client.getMasterUrl() == null ? null : client.getMasterUrl().toString());
        d.put("synced", h.synced());
        d.put("connected", h.connected());
        d.put("detail", h.detail());
        List<Object> kinds = new ArrayList<>();
        for (KindWatch w : watches) {
            kinds.add(w.debug());
        }
        d.put("kinds", kinds);
        return d;
    }

    /** The stripped objects of {@code kind} (the first watched kind of that name), key → object. */
    Map<String, WireObject> objectsOf(String kind) {
        for (KindWatch w : watches) {
            if (w.kind.kind().equals(kind)) {
                return w.objects();
            }
        }
        return Map.of();
    }

    /** The status last seen of one object of {@code kind}, or null. */
    KindStore.Seen status(String kind, String namespace, String name) {
        for (KindWatch w : watches) {
            if (w.kind.kind().equals(kind)) {
                return w.status(namespace, name);
            }
        }
        return null;
    }

    /** How to address {@code kind} at the version being watched, or null when it is not watched. */
    ResourceDefinitionContext context(String kind) {
        for (KindWatch w : watches) {
            if (w.kind.kind().equals(kind)) {
                String v = w.watchedVersion();
                return v == null ? null : new ResourceDefinitionContext.Builder().withGroup(w.kind.group()).withVersion(v)
                        .withKind(kind).withPlural(w.kind.plural()).withNamespaced(w.kind.namespaced()).build();
            }
        }
        return null;
    }

    @Override
    public long version() {
        return version.get();
    }

    @Override
    public List<ManifestFile> read() {
        List<ManifestFile> files = new ArrayList<>();
        for (KindWatch w : watches) {
            for (WireObject o : new TreeMap<>(w.objects()).values()) {
                files.add(new ManifestFile(o.source().file(), List.of(o), null));
            }
        }
        return files;
    }

    @Override
    public String describe() {
        return "the Kubernetes API at " + client.getMasterUrl();
    }

    /** Stops every informer; the client stays open (the caller's). */
    @Override
    public void close() {
        SharedIndexInformer<GenericKubernetesResource> i = crdInformer;
        if (i != null) {
            i.stop();
        }
        for (KindWatch w : watches) {
            w.stop(false);
        }
        executor.shutdownNow();
        if (ownsClient) {
            client.close();
        }
    }

    /**
     * A watch request was answered {@code 410 Gone}: list that kind again. The path names it:
     * {@code /api/v1/pods}, {@code /api/v1/namespaces/NS/configmaps},
     * {@code /apis/GROUP/VERSION/[namespaces/NS/]PLURAL}.
     */
    void watchGone(java.net.URI uri) {
        String[] seg = uri.getPath().replaceAll("^/+", "").split("/");
        if (seg.length < 3) {
            return;
        }
        String group = seg[0].equals("api") ? "" : seg[1];
        String plural = seg[seg.length - 1];
        if (group.equals("apiextensions.k8s.io") && plural.equals("customresourcedefinitions")) {
            SharedIndexInformer<GenericKubernetesResource> i = crdInformer;
            executor.execute(() -> {
                if (crdInformer == i && i != null) {
                    log.warn("CustomResourceDefinitions: 410 Gone at the watch handshake; listing again from scratch");
                    i.stop();
                    startCrdInformer();
                }
            });
            return;
        }
        for (KindWatch w : watches) {
            if (w.kind.group().equals(group) && w.kind.plural().equals(plural)) {
                executor.execute(w::relistNow);
            }
        }
    }

    /** A CRD appeared or changed: watch its kind at the best version it serves. */
    private void crdChanged(String name, List<String> served, String storage) {
        KindWatch w = byCrd.get(name);
        if (w == null) {
            return;
        }
        String pick = null;
        for (String v : w.kind.versions()) {
            if (served.contains(v)) {
                pick = v;
                break;
            }
        }
        if (pick == null) {
            pick = storage != null ? storage : served.isEmpty() ? null : served.get(0);
        }
        if (pick == null) {
            return;
        }
        if (warnedMissing.remove(name)) {
            log.info("{}: CRD {} installed; watching {}", w.kind, name, pick);
        }
        w.start(pick);
    }

    private void crdGone(String name) {
        KindWatch w = byCrd.get(name);
        if (w != null) {
            log.warn("{}: CRD {} deleted; its objects are gone until it comes back", w.kind, name);
            warnedMissing.add(name);
            w.stop(true);
        }
    }

    /** The CRD informer's store: stubs, plus a start or stop of the matching kind. */
    private final class CrdStore implements ItemStore<GenericKubernetesResource> {
        private final Map<String, GenericKubernetesResource> stubs = new ConcurrentHashMap<>();
        private final Map<String, List<String>> servedByName = new ConcurrentHashMap<>();

        @Override
        public String getKey(GenericKubernetesResource obj) {
            return Cache.metaNamespaceKeyFunc(obj);
        }

        @Override
        @SuppressWarnings("unchecked")
        public GenericKubernetesResource put(String key, GenericKubernetesResource obj) {
            String name = obj.getMetadata().getName();
            List<String> served = new ArrayList<>();
            String storage = null;
            Object spec = obj.getAdditionalProperties().get("spec");
            if (spec instanceof Map<?, ?> s && s.get("versions") instanceof List<?> versions) {
                for (Object o : versions) {
                    if (o instanceof Map<?, ?> v && v.get("name") instanceof String n) {
                        if (!Boolean.FALSE.equals(v.get("served"))) {
                            served.add(n);
                        }
                        if (Boolean.TRUE.equals(v.get("storage"))) {
                            storage = n;
                        }
                    }
                }
            }
            List<String> before = servedByName.put(name, List.copyOf(served));
            if (!served.equals(before)) {
                String st = storage;
                executor.execute(() -> crdChanged(name, served, st));
            }
            GenericKubernetesResource stub = new GenericKubernetesResource();
            stub.setApiVersion(obj.getApiVersion());
            stub.setKind(obj.getKind());
            stub.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name)
                    .withResourceVersion(obj.getMetadata().getResourceVersion()).withUid(obj.getMetadata().getUid()).build());
            return stubs.put(key, stub);
        }

        @Override
        public GenericKubernetesResource remove(String key) {
            GenericKubernetesResource old = stubs.remove(key);
            if (old != null) {
                String name = old.getMetadata().getName();
                servedByName.remove(name);
                executor.execute(() -> crdGone(name));
            }
            return old;
        }

        @Override
        public Stream<String> keySet() {
            return stubs.keySet().stream();
        }

        @Override
        public Stream<GenericKubernetesResource> values() {
            return stubs.values().stream();
        }

        @Override
        public int size() {
            return stubs.size();
        }

        @Override
        public GenericKubernetesResource get(String key) {
            return stubs.get(key);
        }

        @Override
        public boolean isFullState() {
            return false;
        }
    }
}
