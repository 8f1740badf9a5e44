package dev.waypoint.config;

import static dev.waypoint.config.TestCompilers.SERVICE_NAMES;
import static dev.waypoint.config.TestCompilers.TRUST_DOMAIN;
import static dev.waypoint.config.TestCompilers.WAYPOINT;
import static dev.waypoint.config.TestCompilers.compilers;
import static dev.waypoint.config.TestCompilers.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.config.SnapshotPublisher.WatchServiceFactory;
import dev.waypoint.config.yaml.YamlDirectorySource;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.WatchService;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The watch in front of the listing: a change is seen through its event, an idle directory is not
 * listed (but for the fallback listing), and without a working watch every poll lists as before.
 *
 * <p>The tests drive {@code poll()} themselves (the schedule is an hour) and the fallback through
 * a clock they advance by hand, which stays put otherwise: a listing a test sees came from an event
 * or from publisher state, never from time passing. Files written before {@code start()} are dated
 * an hour back, so that the first listing is not racy (which would list at every poll).
 */
class SnapshotPublisherWatchTest {
    private static final Duration MANUAL = Duration.ofHours(1);

    /** Polls, with a pause between them, that a test gives a watch event to arrive (JDK thread). */
    private static final int MAX_POLLS = 1000;

    @TempDir
    Path dir;

    @TempDir
    Path etc;

    private final ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1);
    private final List<SnapshotPublisher> publishers = new CopyOnWriteArrayList<>();
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final List<WatchService> opened = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        publishers.forEach(SnapshotPublisher::close);
        executor.shutdownNow();
    }

    /** The default file system's watch service, remembered for the test. */
    private final WatchServiceFactory realWatch = () -> {
        WatchService w = FileSystems.getDefault().newWatchService();
        opened.add(w);
        return w;
    };

    private SnapshotPublisher start(YamlDirectorySource source, WatchServiceFactory watches) throws IOException {
        backdate(dir);
        backdate(etc);
        SnapshotPublisher p = new SnapshotPublisher(source, WAYPOINT, TRUST_DOMAIN, compilers(), executor, MANUAL,
                watches, nanos::get);
        publishers.add(p);
        p.start();
        return p;
    }

    private SnapshotPublisher start(WatchServiceFactory watches) throws IOException {
        return start(ConfigSources.yamlDirectory(dir), watches);
    }

    /** Dates every file below {@code root} (through links) an hour back. */
    private static void backdate(Path root) throws IOException {
        FileTime old = FileTime.from(Instant.now().minus(Duration.ofHours(1)));
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.setLastModifiedTime(f, old);
            }
        }
    }

    private static void write(Path file, String content) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
    }

    private void poll(SnapshotPublisher p) throws Exception {
        executor.submit(() -> {
            p.poll();
            return null;
        }).get(10, TimeUnit.SECONDS);
    }

    private void polls(SnapshotPublisher p, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            poll(p);
        }
    }

    /**
     * Polls until generation {@code generation} is published. The watch event comes from the JDK's
     * thread, so the first polls may not see it yet: a bounded loop, not a timed assertion.
     */
    private void pollUntilGeneration(SnapshotPublisher p, long generation) throws Exception {
        for (int i = 0; i < MAX_POLLS && p.current().generation() < generation; i++) {
            poll(p);
            Thread.sleep(5);
        }
        assertThat(p.current().generation()).isEqualTo(generation);
    }

    /** Polls until the publisher gave up its watch (the event that makes it do so arrives on the JDK's thread). */
    private void pollUntilNotWatching(SnapshotPublisher p) throws Exception {
        for (int i = 0; i < MAX_POLLS && p.watching(); i++) {
            poll(p);
            Thread.sleep(5);
        }
        assertThat(p.watching()).isFalse();
    }

    /** Something done to the directory. */
    @FunctionalInterface
    interface DirChange {
        void apply(Path dir) throws IOException;
    }

    record Change(String name, DirChange before, DirChange change, String servicesAfter) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** Kubelet's AtomicWriter layout: {@code ..data -> ..<timestamp>/}, each key {@code x.yaml -> ..data/x.yaml}. */
    private static void configMapVolume(Path dir, String timestamp, String service) throws IOException {
        write(dir.resolve(timestamp).resolve("a.yaml"), service(service, 80));
        Files.createSymbolicLink(dir.resolve("..data"), Path.of(timestamp));
        Files.createSymbolicLink(dir.resolve("a.yaml"), Path.of("..data/a.yaml"));
    }

    /** Kubelet's swap: the new files in a new directory, {@code ..data} renamed over, the old directory removed. */
    private static void configMapSwap(Path dir) throws IOException {
        write(dir.resolve("..2026_02/a.yaml"), service("a2", 80));
        Path tmp = Files.createSymbolicLink(dir.resolve("..data_tmp"), Path.of("..2026_02"));
        Files.move(tmp, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
        Files.delete(dir.resolve("..2026_01/a.yaml"));
        Files.delete(dir.resolve("..2026_01"));
    }

    static Stream<Change> changes() {
        return Stream.of(
                new Change("a file changes", d -> write(d.resolve("a.yaml"), service("a", 80)),
                        d -> write(d.resolve("a.yaml"), service("a2", 80)), "default/a2"),
                new Change("a new file", d -> write(d.resolve("a.yaml"), service("a", 80)),
                        d -> write(d.resolve("b.yaml"), service("b", 80)), "default/a,default/b"),
                new Change("a new file in a new subdirectory", d -> write(d.resolve("a.yaml"), service("a", 80)),
                        d -> write(d.resolve("sub/deeper/c.yaml"), service("c", 80)), "default/a,default/c"),
                new Change("a file in a subdirectory changes", d -> write(d.resolve("sub/c.yaml"), service("c", 80)),
                        d -> write(d.resolve("sub/c.yaml"), service("c2", 80)), "default/c2"),
                new Change("a removed file", d -> {
                    write(d.resolve("a.yaml"), service("a", 80));
                    write(d.resolve("b.yaml"), service("b", 80));
                }, d -> Files.delete(d.resolve("b.yaml")), "default/a"),
                new Change("a ConfigMap volume's ..data swap", d -> configMapVolume(d, "..2026_01", "a"),
                        SnapshotPublisherWatchTest::configMapSwap, "default/a2"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("changes")
    void aChangeIsSeenThroughItsWatchEvent(Change c) throws Exception {
        c.before().apply(dir);
        SnapshotPublisher p = start(realWatch);
        polls(p, 3); // a subdirectory registered by the first listing is listed once more: settled after this

        c.change().apply(dir);

        // the clock stands still and the loaded listing is not racy: only the event makes a poll list
        pollUntilGeneration(p, 1);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo(c.servicesAfter());
        assertThat(p.watching()).as("still watching").isTrue();
    }

    @Test
    void theMeshConfigFilesDirectoryIsWatched() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        Path mesh = etc.resolve("mesh.yaml");
        write(mesh, "trustDomainAliases: [one.org]\n");
        SnapshotPublisher p = start(ConfigSources.yamlDirectory(dir).withMeshConfig(mesh, "istio-system"), realWatch);

        write(mesh, "trustDomainAliases: [two.org]\n");

        pollUntilGeneration(p, 1);
        assertThat(p.current().resources().meshConfig().trustDomainAliases()).containsExactly("two.org");
    }

    @Test
    void withoutAChangePollsDoNotListTheDirectoryUntilTheFallbackInterval() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        write(dir.resolve("sub/b.yaml"), service("b", 80));
        SnapshotPublisher p = start(realWatch);
        assertThat(p.listings()).as("generation 0").isEqualTo(1);
        poll(p);
        long afterFirst = p.listings();
        assertThat(afterFirst).as("the first poll lists once more: sub/ was registered after it was listed")
                .isEqualTo(2);

        polls(p, 19);
        assertThat(p.listings()).as("19 more polls, no change").isEqualTo(afterFirst);

        nanos.addAndGet(SnapshotPublisher.WATCH_FALLBACK_INTERVAL.toNanos() - 1);
        poll(p);
        assertThat(p.listings()).as("just before the fallback interval").isEqualTo(afterFirst);

        nanos.addAndGet(1);
        poll(p);
        assertThat(p.listings()).as("the fallback listing").isEqualTo(afterFirst + 1);
        polls(p, 5);
        assertThat(p.listings()).as("the fallback interval runs from that listing").isEqualTo(afterFirst + 1);
        assertThat(p.current().generation()).isZero();
    }

    @Test
    void theFallbackListingSeesAChangeTheWatchDidNotReport() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        write(dir.resolve("..2026_01/b.yaml"), service("b", 80));
        Files.createSymbolicLink(dir.resolve("b.yaml"), Path.of("..2026_01/b.yaml"));
        SnapshotPublisher p = start(realWatch);

        // a file changed in a hidden directory: read through a link, but not watched
        write(dir.resolve("..2026_01/b.yaml"), service("b2", 80));
        polls(p, 20);
        assertThat(p.current().generation()).isZero();

        nanos.addAndGet(SnapshotPublisher.WATCH_FALLBACK_INTERVAL.toNanos());
        polls(p, 2); // listed: changed; listed again: held still, read
        assertThat(p.current().generation()).isEqualTo(1);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b2");
    }

    /** Something that makes the publisher give up its watch, set up before or done after start. */
    record WatchLost(String name, DirChange before, DirChange after, boolean failingFactory) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<WatchLost> watchesLost() {
        return Stream.of(
                new WatchLost("the watch service cannot be opened", d -> {}, d -> {}, true));
    }

    /** More events than the JDK keeps for one key (512) before it is polled: an OVERFLOW, then one listing. */
    @Test
    void lostEventsAreListedAndTheWatchGoesOn() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        SnapshotPublisher p = start(realWatch);
        polls(p, 2);

        for (int i = 0; i < 2000; i++) {
            Files.createFile(dir.resolve("note-" + i + ".txt"));
        }
        write(dir.resolve("b.yaml"), service("b", 80));
        pollUntilGeneration(p, 1);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");
        assertThat(p.overflows()).as("the events were lost").isPositive();
        assertThat(p.watching()).isTrue();

        backdate(dir); // b.yaml is no longer new enough to be hashed at every poll (a racy listing)
        pollUntilGeneration(p, 1);
        polls(p, 3);
        long before = p.listings();
        polls(p, 20);
        assertThat(p.listings()).as("idle again: no listing without an event").isEqualTo(before);
        write(dir.resolve("c.yaml"), service("c", 80));
        pollUntilGeneration(p, 2);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b,default/c");
    }

    /** {@code --config-dir} is a link, pointed at a new directory as {@code ln -sfn} does (the old one stays). */
    @Test
    void aConfigDirectoryThatIsALinkPointedElsewhereIsSeenThroughAnEvent() throws Exception {
        write(dir.resolve("v1/a.yaml"), service("a", 80));
        write(dir.resolve("v2/a.yaml"), service("a2", 80));
        Path link = Files.createSymbolicLink(dir.resolve("current"), Path.of("v1"));
        SnapshotPublisher p = start(ConfigSources.yamlDirectory(link), realWatch);
        polls(p, 2);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a");
        long before = p.listings();
        polls(p, 20);
        assertThat(p.listings()).as("idle: the parent's watch adds no listing").isEqualTo(before);

        Path tmp = Files.createSymbolicLink(dir.resolve("current.tmp"), Path.of("v2"));
        Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

        // the clock stands still: only the event in the link's directory makes a poll list
        pollUntilGeneration(p, 1);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a2");

        // the new target is watched: a change in it is an event too
        polls(p, 3);
        write(dir.resolve("v2/b.yaml"), service("b", 80));
        pollUntilGeneration(p, 2);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a2,default/b");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("watchesLost")
    void withoutAWatchEveryPollLists(WatchLost w) throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        w.before().apply(dir);
        SnapshotPublisher p = start(w.failingFactory() ? () -> {
            throw new IOException("User limit of inotify instances reached or too many open files");
        } : realWatch);

        w.after().apply(dir);
        pollUntilNotWatching(p);
        polls(p, 3); // whatever the trigger changed is loaded now
        long before = p.listings();
        long generation = p.current().generation();

        polls(p, 20);
        assertThat(p.listings()).as("20 polls, 20 listings, as without a watch").isEqualTo(before + 20);

        write(dir.resolve("new.yaml"), service("new", 80));
        polls(p, 2); // listed: changed; listed again: held still, read
        assertThat(p.current().generation()).isEqualTo(generation + 1);
        assertThat(p.current().part(SERVICE_NAMES)).contains("default/new");
        assertThat(opened).allSatisfy(s -> assertThatThrownBy(s::poll).isInstanceOf(ClosedWatchServiceException.class));
    }

    /** A ConfigMap item in a subdirectory: the directory watched goes away at each update (kubelet's swap). */
    @Test
    void aWatchedDirectoryThatGoesAwayIsListedOnceAndTheWatchStays() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        write(dir.resolve("sub/c.yaml"), service("c", 80));
        SnapshotPublisher p = start(realWatch);
        polls(p, 3); // settled: sub registered and listed once more

        Files.delete(dir.resolve("sub/c.yaml"));
        Files.delete(dir.resolve("sub"));
        pollUntilGeneration(p, 1);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a");
        long before = p.listings();

        polls(p, 20);
        assertThat(p.listings()).as("idle again: no listing without an event").isEqualTo(before);
        assertThat(p.watching()).isTrue();
        write(dir.resolve("b.yaml"), service("b", 80));
        pollUntilGeneration(p, 2);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");
    }

    @Test
    void closeClosesTheWatchService() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        SnapshotPublisher p = start(realWatch);
        assertThat(opened).hasSize(1);
        assertThat(opened.get(0).poll()).isNull(); // open

        p.close();

        assertThatThrownBy(opened.get(0)::poll).isInstanceOf(ClosedWatchServiceException.class);
        assertThat(p.watching()).isFalse();
    }

    @Test
    void aStartThatFailsClosesTheWatchService() throws Exception {
        write(dir.resolve("a.yaml"), service("a", 80));
        PartCompiler<String> broken = new PartCompiler<>() {
            @Override
            public SnapshotPart<String> part() {
                return SERVICE_NAMES;
            }

            @Override
            public String compile(ResourceSet resources, Diagnostics diagnostics) {
                throw new IllegalStateException("always");
            }
        };
        SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir), WAYPOINT, TRUST_DOMAIN,
                List.of(broken), executor, MANUAL, realWatch, nanos::get);
        publishers.add(p);

        // watched and listed, then even the empty config fails to compile: nothing the caller could close
        assertThatThrownBy(p::start).isInstanceOf(IllegalStateException.class);

        assertThat(opened).singleElement()
                .satisfies(s -> assertThatThrownBy(s::poll).isInstanceOf(ClosedWatchServiceException.class));
    }
}
