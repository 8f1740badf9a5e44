package dev.waypoint.config;

import static java.util.Objects.requireNonNull;

import dev.waypoint.config.GenerationBuilder.Attempt;
import dev.waypoint.config.GenerationBuilder.CompilerFailure;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.DirectoryScan;
import dev.waypoint.config.yaml.Manifest;
import dev.waypoint.config.yaml.ManifestFile;
import dev.waypoint.config.yaml.YamlDirectorySource;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the one {@link AtomicReference} through which the data path reads config (STYLE rule 1):
 * loads a manifest directory, translates and compiles it into a {@link ConfigSnapshot}, swaps it
 * in with one {@code set}, and does it again whenever the directory changes.
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} builds generation 0 on the calling thread, so {@link #current()} is non-null
 * when it returns, even when the config has errors (then it holds the valid subset). It then
 * polls every poll interval: a cheap listing (paths, sizes, mtimes, inodes) first, when the watch
 * below says it may show a change; a change must hold still for one more interval before it is read (debounce, so a half-written
 * file or a ConfigMap swap in progress is not loaded), at most {@value #MAX_DEFERRALS} intervals.
 * The content is then hashed, and only a different hash makes a new generation. When a file was
 * modified within two seconds of a listing, the content is hashed again at the next poll anyway,
 * since coarse file system clocks can hide a second write. {@link #close()} stops polling and
 * closes the watch service; it does not shut the executor down, which the caller owns.
 *
 * <h2>Watched, so that an idle directory is seldom listed</h2>
 * A directory source is watched with a {@link WatchService} (inotify on Linux): the directory,
 * every directory below it that the listing goes through (following symbolic links, skipping
 * hidden ones, as the listing does; one that appears is registered by the listing that sees it),
 * and the directory of the {@code --mesh-config} file. Kubelet's swap of a ConfigMap volume's
 * {@code ..data} link is an event in the top directory; when the top directory is itself a symbolic
 * link, the directory holding the link is watched too, so pointing the link elsewhere is an event.
 * A poll first drains the watch service
 * without blocking; it lists only when an event arrived, when a debounce, a racy listing or a
 * compiler retry is pending, or when the last listing is {@link #WATCH_FALLBACK_INTERVAL} (10 s)
 * old, so a change the watch did not report is still seen within that interval. When the watch service
 * cannot be opened or a directory cannot be registered (inotify limits), the publisher says so once
 * and lists at every poll, as without a watch; so it does where the JDK's watch service only polls
 * (macOS). Lost events ({@code OVERFLOW}: more than the JDK keeps for one key between polls) are an event like any
 * other: the listing they cause finds every change, and the watch goes on. A watched directory that goes away (removed,
 * or the target of a link that a ConfigMap update swapped) makes the next poll list, and keeps
 * making polls list until one succeeds; that listing registers the directories there are now. An {@link ObjectFeed} is not watched: its
 * version is checked at every poll.
 *
 * <h2>Last good config keeps serving</h2>
 * A file that stops parsing keeps its objects from the last generation in which it parsed; an
 * object that becomes invalid keeps its previous version; both are still reported. A compiler
 * that throws is reported, and the previous snapshot stays published; the same content is built
 * again after 1, 2, 4, ... polls (at most {@value #MAX_RETRY_POLLS} apart) until it compiles or
 * changes, since a compiler failure may be transient. A brand-new broken object is dropped.
 *
 * <h2>Threading</h2>
 * Reading, translation and compilation run on the given executor (never an event loop), one poll
 * at a time ({@code scheduleWithFixedDelay}). Subscribers are called on that thread after each
 * publish, and for generation 0 on the thread that calls {@code start()}. {@link #current()} is one
 * volatile read from any thread. The watch service's events are gathered by the JDK's own thread;
 * a poll takes them without blocking the executor.
 */
public final class SnapshotPublisher implements SnapshotSource, AutoCloseable {
    /** The poll interval used when none is given: a change is live well within two seconds. */
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofMillis(500);

    /** The latest reload's result and time, for the waypoint_config_* health metrics. */
    private volatile boolean lastReloadOk = true;
    private volatile long lastReloadMillis;
    private volatile int filesOnLastGood;

    /**
     * How old the last listing of a watched directory may get before a poll lists it without an
     * event: the longest a change the watch did not report (a network file system, a lost event)
     * stays unseen. At the default interval, one poll in 20 lists an idle directory.
     */
    static final Duration WATCH_FALLBACK_INTERVAL = Duration.ofSeconds(10);

    /** Upper bound on debounce: a directory that never holds still is still read this often. */
    static final int MAX_DEFERRALS = 10;

    /** After a compiler failure the build is retried after 1, 2, 4, ... polls, at most this many apart. */
    static final int MAX_RETRY_POLLS = 64;

    private static final Logger log = LoggerFactory.getLogger(SnapshotPublisher.class);

    private final YamlDirectorySource source; // null when reading a feed
    private final ObjectFeed feed; // null when reading a directory
    private final GenerationBuilder builder;
    private final ScheduledExecutorService executor;
    private final Duration pollInterval;
    private final WatchServiceFactory watches; // null when reading a feed
    private final LongSupplier nanoTime;
    private final AtomicReference<ConfigSnapshot> current = new AtomicReference<>();
    private final List<Consumer<ConfigSnapshot>> subscribers = new CopyOnWriteArrayList<>();
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile boolean closed;
    private volatile ScheduledFuture<?> polling;

    // Confined to the config thread: the caller of start() until polling is scheduled (which
    // orders these writes before the first poll), then the executor, one poll at a time.
    private LastGood lastGood = LastGood.NONE;
    private DirectoryScan loadedScan;
    private String loadedHash;
    private DirectoryScan pendingScan;
    private int deferrals;
    private String lastPollError;
    private long loadedVersion;
    private Long pendingVersion;
    // after a compiler failure: retry the same content (a failure may be transient), backing off
    private boolean retryPending;
    private int retryDelayPolls;
    private int pollsUntilRetry;
    // the watch: null until start(), and once watching stopped (then every poll lists); volatile
    // for close(), which may run on any thread
    private volatile WatchService watcher;
    private final Set<WatchKey> watchKeys = new HashSet<>();
    private boolean listAgain; // a listing registered a new directory: what changed in it before is unseen
    private long lastListingNanos;
    private long listings; // for tests: how often the directory was listed
    private long overflows; // for tests: how often the watch reported lost events

    /**
     * A publisher polling every {@link #DEFAULT_POLL_INTERVAL}.
     *
     * @see #SnapshotPublisher(YamlDirectorySource, NamespacedName, String, List, ScheduledExecutorService, Duration)
     */
    public SnapshotPublisher(YamlDirectorySource source, NamespacedName waypoint, String trustDomain,
                             List<PartCompiler<?>> compilers, ScheduledExecutorService executor) {
        this(source, waypoint, trustDomain, compilers, executor, DEFAULT_POLL_INTERVAL);
    }

    /**
     * A publisher; nothing happens until {@link #start()}.
     *
     * @param source the manifest directory ({@link ConfigSources#yamlDirectory})
     * @param waypoint which Gateway this process is
     * @param trustDomain the mesh trust domain ({@code cluster.local})
     * @param compilers the stage compilers, in the order they run (an explicit list, not discovery)
     * @param executor the config executor that polls and compiles; owned by the caller
     * @param pollInterval how often the watch events are drained, and the directory listed after
     *        one (or at every poll while it is not watched)
     */
    public SnapshotPublisher(YamlDirectorySource source, NamespacedName waypoint, String trustDomain,
                             List<PartCompiler<?>> compilers, ScheduledExecutorService executor,
                             Duration pollInterval) {
        this(source, waypoint, trustDomain, compilers, executor, pollInterval,
                () -> source.directory().getFileSystem().newWatchService(), System::nanoTime);
    }

    /**
     * For tests: the watch service comes from {@code watches}, and the age of the last listing is
     * measured with {@code nanoTime}.
     */
    SnapshotPublisher(YamlDirectorySource source, NamespacedName waypoint, String trustDomain,
                      List<PartCompiler<?>> compilers, ScheduledExecutorService executor,
                      Duration pollInterval, WatchServiceFactory watches, LongSupplier nanoTime) {
        this.source = requireNonNull(source, "source");
        this.feed = null;
        this.watches = requireNonNull(watches, "watches");
        this.nanoTime = requireNonNull(nanoTime, "nanoTime");
        this.builder = new GenerationBuilder(requireNonNull(waypoint, "waypoint"),
                requireNonNull(trustDomain, "trustDomain"), List.copyOf(requireNonNull(compilers, "compilers")),
                source.rootNamespace());
        this.executor = requireNonNull(executor, "executor");
        this.pollInterval = requireNonNull(pollInterval, "pollInterval");
        if (pollInterval.isNegative() || pollInterval.isZero()) {
            throw new IllegalArgumentException("pollInterval: " + pollInterval + " (expected: > 0)");
        }
    }

    /**
     * A publisher reading an {@link ObjectFeed} (the Kubernetes API) instead of a directory: the
     * same translator, last-good rule and swap. Every poll interval the feed's version is checked;
     * a change must hold still for one more interval before it is read (debounce, so a burst of
     * watch events makes one generation), at most {@value #MAX_DEFERRALS} intervals.
     *
     * @param feed the objects; {@link #start()} reads it once, so it should be synced by then
     * @param rootNamespace where the {@code istio} ConfigMap holding the mesh config is read from
     */
    public SnapshotPublisher(ObjectFeed feed, NamespacedName waypoint, String trustDomain,
                             List<PartCompiler<?>> compilers, ScheduledExecutorService executor,
                             Duration pollInterval, String rootNamespace) {
        this.source = null;
        this.feed = requireNonNull(feed, "feed");
        this.watches = null;
        this.nanoTime = System::nanoTime;
        this.builder = new GenerationBuilder(requireNonNull(waypoint, "waypoint"),
                requireNonNull(trustDomain, "trustDomain"), List.copyOf(requireNonNull(compilers, "compilers")),
                requireNonNull(rootNamespace, "rootNamespace"));
        this.executor = requireNonNull(executor, "executor");
        this.pollInterval = requireNonNull(pollInterval, "pollInterval");
        if (pollInterval.isNegative() || pollInterval.isZero()) {
            throw new IllegalArgumentException("pollInterval: " + pollInterval + " (expected: > 0)");
        }
    }

    /**
     * Builds and publishes generation 0, then starts polling.
     *
     * @throws UncheckedIOException if the directory cannot be listed
     * @throws IllegalStateException if already started or closed, or if a compiler fails even on
     *         an empty resource set
     */
    public void start() {
        if (closed || !started.compareAndSet(false, true)) {
            throw new IllegalStateException("already started or closed");
        }
        try {
            loadAndSchedule();
        } catch (RuntimeException | Error e) {
            closeWatcher(); // a start that failed leaves its caller nothing to close
            throw e;
        }
    }

    private void loadAndSchedule() {
        List<? extends Manifest> files;
        DirectoryContent.MeshConfigFile meshFile = null;
        if (feed != null) {
            loadedVersion = feed.version();
            files = feed.read();
        } else {
            // watched before the first listing, so that no change after it goes unseen
            startWatching();
            DirectoryContent content;
            try {
                content = readDirectory();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read config directory " + source.directory(), e);
            }
            loadedScan = content.scan();
            loadedHash = content.contentHash();
            files = content.manifests();
            meshFile = content.meshConfig();
        }
        Attempt attempt = builder.build(0, files, meshFile, LastGood.NONE);
        ConfigSnapshot first = attempt.snapshot();
        if (first == null) {
            loadedHash = null; // not loaded: the next reload builds it again
            scheduleRetry();
            log.error("config generation 0: {}; starting with no resources", attempt.failure().getMessage(),
                    attempt.failure().getCause());
            // the empty snapshot carries only the failure: the attempt's other problems are about
            // resources it does not serve; and the reload counts as failed (nothing is served)
            Diagnostics onlyFailure = new Diagnostics();
            onlyFailure.error(SourceRef.NONE, "-", null, "-", attempt.failure().getMessage());
            try {
                first = builder.compileEmpty(0, onlyFailure);
            } catch (CompilerFailure f) {
                throw new IllegalStateException("cannot compile even an empty config: " + f.getMessage(), f);
            }
            lastReloadOk = false;
            lastReloadMillis = System.currentTimeMillis();
        } else {
            lastGood = attempt.lastGood();
            filesOnLastGood = attempt.filesOnLastGood();
        }
        publish(first);
        long nanos = pollInterval.toNanos();
        polling = executor.scheduleWithFixedDelay(this::pollQuietly, nanos, nanos, TimeUnit.NANOSECONDS);
    }

    /** Whether the latest reload attempt produced a new generation (true before any reload: generation 0 loaded). */
    public boolean lastReloadSucceeded() {
        return lastReloadOk;
    }

    /**
     * How many files of the published generation do not parse and serve their objects from the
     * last generation in which they did (0 for a feed, which has no files). A reload that keeps a
     * broken file this way still counts as succeeded.
     */
    public int filesOnLastGood() {
        return filesOnLastGood;
    }

    /** When the latest reload attempt ended (epoch milliseconds), 0 before any. */
    public long lastReloadMillis() {
        return lastReloadMillis;
    }

    @Override
    public ConfigSnapshot current() {
        return current.get();
    }

    @Override
    public void subscribe(Consumer<ConfigSnapshot> listener) {
        subscribers.add(requireNonNull(listener, "listener"));
    }

    /** Stops polling and closes the watch service; idempotent. The current snapshot stays readable. */
    @Override
    public void close() {
        closed = true;
        ScheduledFuture<?> p = polling;
        if (p != null) {
            p.cancel(false);
        }
        closeWatcher();
    }

    private void pollQuietly() {
        if (closed) {
            return;
        }
        try {
            poll();
            lastPollError = null;
        } catch (IOException | RuntimeException e) {
            // an exception would cancel the schedule; report it once and keep serving
            String error = e.toString();
            lastReloadOk = false;
            lastReloadMillis = System.currentTimeMillis();
            if (!error.equals(lastPollError)) {
                lastPollError = error;
                log.warn("cannot read {}; keeping generation {}", describe(), current.get().generation(), e);
            }
        }
    }

    /**
     * One poll: drain the watch events, list when one arrived (or a listing is due for another
     * reason), debounce, and reload when something changed. Runs on the config thread.
     */
    void poll() throws IOException {
        if (feed != null) {
            pollFeed();
            return;
        }
        // drained at every poll, even when a listing is due anyway: an event this listing covers
        // must not make the next poll list again
        boolean event = drainWatchEvents();
        // a pending debounce must see the listing again; a racy listing is hashed again (below);
        // a retry's countdown runs one listing per poll, as without a watch
        if (!event && !listAgain && pendingScan == null && !loadedScan.racy() && !retryPending
                && nanoTime.getAsLong() - lastListingNanos < WATCH_FALLBACK_INTERVAL.toNanos()) {
            return; // nothing happened in the watched directories since the last listing
        }
        DirectoryScan scan = listDirectory();
        boolean changed = !scan.sameFiles(loadedScan);
        if (!changed && !loadedScan.racy() && !retryDue()) {
            pendingScan = null;
            deferrals = 0;
            return;
        }
        if (changed && !scan.sameFiles(pendingScan) && deferrals < MAX_DEFERRALS) {
            // debounce: wait until the listing holds still for one interval
            pendingScan = scan;
            deferrals++;
            return;
        }
        pendingScan = null;
        deferrals = 0;
        reload();
    }

    /** One poll of the feed: debounce on its version, then rebuild. Runs on the config thread. */
    private void pollFeed() {
        long version = feed.version();
        if (version == loadedVersion && !retryDue()) {
            pendingVersion = null;
            deferrals = 0;
            return;
        }
        if ((pendingVersion == null || pendingVersion != version) && deferrals < MAX_DEFERRALS) {
            pendingVersion = version; // debounce: wait until the version holds still for one interval
            deferrals++;
            return;
        }
        pendingVersion = null;
        deferrals = 0;
        loadedVersion = version;
        rebuild(feed.read(), null);
    }

    /** Whether a build that failed is due to be tried again at this poll. */
    private boolean retryDue() {
        return retryPending && --pollsUntilRetry <= 0;
    }

    /** A build failed: try the same content again after the next backoff step. */
    private void scheduleRetry() {
        retryPending = true;
        retryDelayPolls = Math.min(Math.max(1, retryDelayPolls * 2), MAX_RETRY_POLLS);
        pollsUntilRetry = retryDelayPolls;
    }

    /**
     * Reads the directory and, if its content differs from the last read, builds and publishes a
     * new generation. Runs on the config thread.
     *
     * @return whether a new generation was published
     */
    boolean reload() throws IOException {
        DirectoryContent content = readDirectory();
        loadedScan = content.scan();
        if (content.contentHash().equals(loadedHash)) {
            retryPending = false; // back to what is published (a retry of a failed change that was undone)
            retryDelayPolls = 0;
            return false;
        }
        boolean published = rebuild(content.manifests(), content.meshConfig());
        if (published) {
            loadedHash = content.contentHash(); // only now: a failed build is retried, not taken as loaded
        }
        return published;
    }

    /**
     * Builds and publishes the next generation from {@code files}, unless a compiler fails.
     *
     * @param meshFile the {@code --mesh-config} file as read, or null (a feed has none)
     */
    private boolean rebuild(List<? extends Manifest> files, DirectoryContent.MeshConfigFile meshFile) {
        long previous = current.get().generation();
        Attempt attempt = builder.build(previous + 1, files, meshFile, lastGood);
        lastReloadMillis = System.currentTimeMillis();
        lastReloadOk = attempt.snapshot() != null;
        if (attempt.snapshot() == null) {
            CompilerFailure f = attempt.failure();
            log.error("config rejected, keeping generation {}: {}", previous, f.getMessage(), f.getCause());
            for (Diagnostics.Problem p : attempt.diagnostics().problems()) {
                log.warn("config rejected: {}", p);
            }
            scheduleRetry();
            return false;
        }
        retryPending = false;
        retryDelayPolls = 0;
        lastGood = attempt.lastGood();
        filesOnLastGood = attempt.filesOnLastGood();
        publish(attempt.snapshot());
        return true;
    }

    // ---- the watch

    /** Opens the watch service; a test injects one that fails (inotify limits). */
    @FunctionalInterface
    interface WatchServiceFactory {
        WatchService open() throws IOException;
    }

    /** How often the directory was listed (a scan, or the scan a read starts with). For tests. */
    long listings() {
        return listings;
    }

    /** How many times the watch said events were lost ({@code OVERFLOW}). For tests. */
    long overflows() {
        return overflows;
    }

    /** Whether the directory is watched; false once watching stopped (every poll lists then). For tests. */
    boolean watching() {
        return watcher != null;
    }

    private DirectoryScan listDirectory() throws IOException {
        long at = nanoTime.getAsLong();
        DirectoryScan scan = source.scan();
        listed(scan, at);
        return scan;
    }

    private DirectoryContent readDirectory() throws IOException {
        long at = nanoTime.getAsLong();
        DirectoryContent content = source.read();
        listed(content.scan(), at);
        return content;
    }

    /** After a listing taken at {@code at}: registers the directories it went through. */
    private void listed(DirectoryScan scan, long at) {
        listings++;
        lastListingNanos = at;
        listAgain = false;
        watch(scan.directories());
    }

    /** Opens the watch service and registers the top directory and the mesh config file's. */
    private void startWatching() {
        WatchService w;
        try {
            w = watches.open();
        } catch (IOException | RuntimeException e) {
            stopWatching("cannot open a watch service (" + e + ")");
            return;
        }
        watcher = w;
        if (w.getClass().getName().equals("sun.nio.fs.PollingWatchService")) {
            // the JDK's fallback where the OS has no file events (macOS): it lists every watched
            // directory itself, every 10 s; listing at each poll is as cheap and as quick as before
            stopWatching("the JDK has no file events here, only a polling watch service");
            return;
        }
        watch(List.of(source.directory()));
    }

    /**
     * Registers {@code directories} (again: a directory replaced since, such as a symbolic link to
     * another target, gets a new key) and the mesh config file's directory. A key not seen before
     * makes the next poll list again: a file created in that directory before it was registered
     * caused no event.
     */
    private void watch(List<Path> directories) {
        WatchService w = watcher;
        if (w == null) {
            return;
        }
        List<Path> all = new ArrayList<>(directories);
        Path top = source.directory();
        Path parent = top.toAbsolutePath().getParent();
        if (parent != null && Files.isSymbolicLink(top)) {
            // the directory is a link (looked at every listing: it may become one): pointing it
            // elsewhere (ln -sfn, a rename over it) is an event in the directory holding the link,
            // not in either target
            all.add(parent);
        }
        Path mesh = source.meshConfigFile();
        if (mesh != null) {
            all.add(mesh.toAbsolutePath().getParent());
        }
        for (Path d : all) {
            WatchKey key;
            try {
                key = d.register(w, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE,
                        StandardWatchEventKinds.ENTRY_MODIFY);
            } catch (java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException e) {
                listAgain = true; // gone since the listing saw it (a swap in progress): the next listing looks again
                continue;
            } catch (IOException | RuntimeException e) {
                stopWatching("cannot watch " + d + " (" + e + ")");
                return;
            }
            if (watchKeys.add(key)) {
                listAgain = true;
            }
        }
    }

    /**
     * Takes every pending event without blocking (this runs on the config executor).
     *
     * @return whether the directory may have changed since the last drain: an event arrived, or
     *         the directory is not watched
     */
    private boolean drainWatchEvents() {
        WatchService w = watcher;
        if (w == null) {
            return true;
        }
        boolean event = false;
        try {
            for (WatchKey key = w.poll(); key != null; key = w.poll()) {
                event = true;
                // the events themselves do not matter: any one (an OVERFLOW too, which says some were
                // lost) makes the next step list the directory, and the listing finds every change
                for (var e : key.pollEvents()) {
                    if (e.kind() == StandardWatchEventKinds.OVERFLOW) {
                        overflows++;
                        log.debug("{}: watch events were lost (OVERFLOW); listing it", describe());
                    }
                }
                if (!key.reset()) {
                    // a watched directory went away (removed, or the target of a link swapped by a
                    // ConfigMap update): the listing this event starts registers what is there now
                    watchKeys.remove(key);
                    listAgain = true;
                }
            }
        } catch (ClosedWatchServiceException e) {
            return true; // close() on another thread, while this poll ran
        }
        return event;
    }

    /** From now on every poll lists; said once, since watching never starts again. */
    private void stopWatching(String why) {
        closeWatcher();
        if (!closed) {
            log.info("{}: {}; listing it every {} ms from now on", describe(), why, pollInterval.toMillis());
        }
    }

    private void closeWatcher() {
        WatchService w = watcher;
        watcher = null;
        if (w != null) {
            try {
                w.close();
            } catch (IOException e) {
                log.debug("closing the watch service of {}", describe(), e);
            }
        }
    }

    // ---- publishing

    private void publish(ConfigSnapshot snapshot) {
        current.set(snapshot);
        long generation = snapshot.generation();
        for (Diagnostics.Problem p : snapshot.problems()) {
            if (p.severity() == Diagnostics.Severity.NOTE) {
                log.info("config generation {}: {}", generation, p); // valid, just not what a waypoint enforces
            } else {
                log.warn("config generation {}: {}", generation, p);
            }
        }
        ResourceSet r = snapshot.resources();
        log.info("config generation {}: {} services, {} pods, {} endpoint slices, {} gateways, {} namespaces, "
                        + "{} other ({} problems)", generation, r.services().size(), r.pods().size(),
                r.endpointSlices().size(), r.gateways().size(), r.namespaces().size(), r.others().size(),
                snapshot.problems().size());
        for (Consumer<ConfigSnapshot> s : subscribers) {
            try {
                s.accept(snapshot);
            } catch (RuntimeException e) {
                log.warn("config subscriber {} failed on generation {}", s, generation, e);
            }
        }
    }

    private String describe() {
        return feed != null ? feed.describe() : "config directory " + source.directory();
    }

    @Override
    public String toString() {
        ConfigSnapshot s = current.get();
        return "SnapshotPublisher(" + describe() + ", generation " + (s == null ? "-" : s.generation()) + ")";
    }
}
