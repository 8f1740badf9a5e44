package dev.waypoint.config;

import static dev.waypoint.config.TestCompilers.SERVICE_NAMES;
import static dev.waypoint.config.TestCompilers.TRUST_DOMAIN;
import static dev.waypoint.config.TestCompilers.WAYPOINT;
import static dev.waypoint.config.TestCompilers.compilers;
import static dev.waypoint.config.TestCompilers.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotPublisherTest {
    /** Long enough that the schedule never fires: the test drives poll() and reload() itself. */
    private static final Duration MANUAL = Duration.ofHours(1);

    @TempDir
    Path dir;

    private final ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1);
    private final List<SnapshotPublisher> publishers = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        publishers.forEach(SnapshotPublisher::close);
        executor.shutdownNow();
    }

    private void write(String name, String content) throws IOException {
        Files.writeString(dir.resolve(name), content);
    }

    private SnapshotPublisher start(Duration pollInterval, List<PartCompiler<?>> compilers) {
        SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir), WAYPOINT, TRUST_DOMAIN,
                compilers, executor, pollInterval);
        publishers.add(p);
        p.start();
        return p;
    }

    private SnapshotPublisher start() {
        return start(MANUAL, compilers());
    }

    /** Runs {@code task} on the config executor, as the schedule would. */
    private <T> T onConfigThread(Callable<T> task) throws Exception {
        return executor.submit(task).get(10, TimeUnit.SECONDS);
    }

    private static List<String> problems(ConfigSnapshot s) {
        return s.problems().stream().map(Object::toString).toList();
    }

    @Test
    void startPublishesGenerationZeroWithTheValidSubset() throws IOException {
        write("a.yaml", service("good", 80) + "---\n" + service("bad", 0));

        SnapshotPublisher p = start();

        ConfigSnapshot s = p.current();
        assertThat(s.generation()).isZero();
        assertThat(s.part(SERVICE_NAMES)).isEqualTo("default/good");
        assertThat(problems(s)).containsExactly(
                "a.yaml:6: Service default/bad: spec.ports[0].port: port: 0 (expected: 1-65535)");
    }

    @Test
    void aChangeIsPublishedWithinTwoSecondsAtTheDefaultInterval() throws IOException {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start(SnapshotPublisher.DEFAULT_POLL_INTERVAL, compilers());
        List<Long> seen = new CopyOnWriteArrayList<>();
        p.subscribe(s -> seen.add(s.generation()));

        write("b.yaml", service("b", 80));

        // subscribers are told right after the swap, on the config thread: wait for both
        await().atMost(Duration.ofSeconds(2)).until(() -> p.current().generation() == 1 && !seen.isEmpty());
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");
        assertThat(seen).containsExactly(1L);
    }

    @Test
    void aChangeMustHoldStillForOnePollBeforeItIsRead() throws Exception {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();

        write("a.yaml", service("a", 8080));
        onConfigThread(() -> { p.poll(); return null; });
        assertThat(p.current().generation()).as("first sight of the change: deferred").isZero();

        write("a.yaml", service("a", 9090) + "# still being written\n");
        onConfigThread(() -> { p.poll(); return null; });
        assertThat(p.current().generation()).as("changed again: deferred again").isZero();

        onConfigThread(() -> { p.poll(); return null; });
        assertThat(p.current().generation()).isEqualTo(1);
        assertThat(p.current().resources().services().get(0).port(9090)).isNotNull();
    }

    @Test
    void theSameContentMakesNoNewGeneration() throws Exception {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();
        ConfigSnapshot first = p.current();

        Files.setLastModifiedTime(dir.resolve("a.yaml"), FileTime.fromMillis(0));
        assertThat(onConfigThread(p::reload)).isFalse();
        write("a.yaml", service("a", 80));
        assertThat(onConfigThread(p::reload)).isFalse();

        assertThat(p.current()).isSameAs(first);
    }

    @Test
    void aCompilerThatThrowsKeepsThePreviousSnapshot() throws Exception {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();
        ConfigSnapshot first = p.current();
        List<Long> seen = new CopyOnWriteArrayList<>();
        p.subscribe(s -> seen.add(s.generation()));

        write("b.yaml", service("boom", 80));
        assertThat(onConfigThread(p::reload)).isFalse();
        assertThat(p.current()).isSameAs(first);

        write("b.yaml", service("b", 80));
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().generation()).isEqualTo(1);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");
        assertThat(seen).containsExactly(1L);
    }

    @Test
    void aCompilerThatThrowsOnTheFirstLoadLeavesAnEmptySnapshot() throws IOException {
        write("a.yaml", service("boom", 80));

        SnapshotPublisher p = start();

        assertThat(p.current().generation()).isZero();
        assertThat(p.current().resources().services()).isEmpty();
        assertThat(p.current().part(SERVICE_NAMES)).isEmpty();
        assertThat(problems(p.current())).containsExactly(
                "-: compiler service-names: threw java.lang.IllegalStateException: cannot compile default/boom");
    }

    @Test
    void aFirstLoadThatFallsBackToEmptyReportsOnlyTheFailureAndAFailedReload() throws IOException {
        // the failed attempt's own problems are about resources the empty snapshot does not serve
        write("a.yaml", service("boom", 80) + "---\n" + service("bad", 0));
        write("b.yaml", "not: [valid");

        SnapshotPublisher p = start();

        assertThat(p.current().resources().services()).isEmpty();
        assertThat(problems(p.current())).containsExactly(
                "-: compiler service-names: threw java.lang.IllegalStateException: cannot compile default/boom");
        assertThat(p.lastReloadSucceeded()).isFalse();
        assertThat(p.lastReloadMillis()).isPositive();
    }

    /** Throws on its first {@code failures} calls, then lists service names: a transient bug or resource shortage. */
    private static PartCompiler<String> failingFirst(int failures) {
        AtomicInteger calls = new AtomicInteger();
        return new PartCompiler<>() {
            @Override
            public SnapshotPart<String> part() {
                return SERVICE_NAMES;
            }

            @Override
            public String compile(ResourceSet resources, Diagnostics diagnostics) {
                if (calls.incrementAndGet() <= failures) {
                    throw new IllegalStateException("transient failure " + calls.get());
                }
                return TestCompilers.SERVICE_NAMES_COMPILER.compile(resources, diagnostics);
            }
        };
    }

    @Test
    void aCompilerThatFailsOnceIsRetriedWithoutAChange() throws Exception {
        write("a.yaml", service("a", 80));
        AtomicInteger calls = new AtomicInteger();
        PartCompiler<String> flaky = new PartCompiler<>() {
            @Override
            public SnapshotPart<String> part() {
                return SERVICE_NAMES;
            }

            @Override
            public String compile(ResourceSet resources, Diagnostics diagnostics) {
                if (calls.incrementAndGet() == 2) { // generation 0 compiles; the first reload fails
                    throw new IllegalStateException("transient failure");
                }
                return TestCompilers.SERVICE_NAMES_COMPILER.compile(resources, diagnostics);
            }
        };
        SnapshotPublisher r = start(MANUAL, List.of(flaky));
        write("b.yaml", service("b", 80));
        assertThat(onConfigThread(r::reload)).isFalse();
        assertThat(r.lastReloadSucceeded()).isFalse();
        assertThat(r.current().generation()).isZero();

        // nothing changes on disk: the polls retry, and the build now succeeds
        for (int i = 0; i < 4 && r.current().generation() == 0; i++) {
            onConfigThread(() -> {
                r.poll();
                return null;
            });
        }
        assertThat(r.current().generation()).isEqualTo(1);
        assertThat(r.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");
        assertThat(r.lastReloadSucceeded()).isTrue();
        assertThat(calls).hasValue(3);
    }

    @Test
    void aFirstGenerationThatFailsToCompileIsRetriedWithoutAChange() throws Exception {
        write("a.yaml", service("a", 80));

        SnapshotPublisher p = start(MANUAL, List.of(failingFirst(1)));
        assertThat(p.current().resources().services()).isEmpty();

        for (int i = 0; i < 4 && p.current().resources().services().isEmpty(); i++) {
            onConfigThread(() -> {
                p.poll();
                return null;
            });
        }
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a");
        assertThat(p.lastReloadSucceeded()).isTrue();
    }

    @Test
    void aFailingSubscriberDoesNotStopTheOthers() throws Exception {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();
        List<Long> seen = new CopyOnWriteArrayList<>();
        p.subscribe(s -> {
            throw new IllegalStateException("subscriber bug");
        });
        p.subscribe(s -> seen.add(s.generation()));

        write("a.yaml", service("a", 81));
        assertThat(onConfigThread(p::reload)).isTrue();

        assertThat(seen).containsExactly(1L);
        assertThat(p.current().generation()).isEqualTo(1);
    }

    @Test
    void closeStopsPolling() throws IOException {
        executor.setRemoveOnCancelPolicy(true);
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();
        assertThat(executor.getQueue()).hasSize(1);

        p.close();
        p.close();

        assertThat(executor.getQueue()).isEmpty();
        assertThat(p.current().generation()).isZero();
    }

    @Test
    void startIsOnceAndNeedsTheDirectory() throws IOException {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();
        assertThatThrownBy(p::start).isInstanceOf(IllegalStateException.class);

        SnapshotPublisher missing = new SnapshotPublisher(ConfigSources.yamlDirectory(dir.resolve("nope")), WAYPOINT,
                TRUST_DOMAIN, compilers(), executor);
        assertThatThrownBy(missing::start).isInstanceOf(UncheckedIOException.class);
        assertThat(missing.current()).isNull();
    }

    // ---- last good config keeps serving

    @Test
    void aFileThatStopsParsingKeepsItsObjectsFromWhenItLastParsed() throws Exception {
        write("a.yaml", service("a", 80) + "---\n" + service("a2", 80));
        write("b.yaml", service("b", 80));
        SnapshotPublisher p = start();

        write("a.yaml", service("a", 80) + "  oops: [\n");
        assertThat(onConfigThread(p::reload)).isTrue();

        // the fallback objects come after every file that parses now
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b,default/a,default/a2");
        assertThat(problems(p.current())).containsExactly(
                "a.yaml:4: while parsing a block mapping: expected <block end>, but found '<block mapping start>'",
                "a.yaml: warning: keeping the 2 object(s) this file had when it last parsed");
        assertThat(p.filesOnLastGood()).isEqualTo(1);
        assertThat(p.lastReloadSucceeded()).isTrue();

        // still broken while another file changes: the objects from generation 0 keep serving
        write("b.yaml", service("b", 81));
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().generation()).isEqualTo(2);
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b,default/a,default/a2");

        // a brand-new file that does not parse has nothing to fall back to
        write("c.yaml", "kind: [\n");
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b,default/a,default/a2");
        assertThat(problems(p.current())).contains("c.yaml:1: while parsing a flow node: expected the node content, but found '<stream end>'")
                .noneMatch(s -> s.startsWith("c.yaml: warning"));

        // fixed: what the file says now, and no problems
        write("a.yaml", service("a", 80));
        write("c.yaml", "");
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");
        assertThat(p.current().problems()).isEmpty();
        assertThat(p.filesOnLastGood()).isZero();
    }

    private static ServiceSpec serviceNamed(ConfigSnapshot s, String name) {
        return s.resources().services().stream().filter(x -> x.name().name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void anObjectMovedOutOfAFileThatBreaksServesItsNewVersion() throws Exception {
        write("a.yaml", service("a", 80) + "---\n" + service("moved", 80));
        write("b.yaml", service("b", 80));
        SnapshotPublisher p = start();

        // one change: "moved" goes to b.yaml with a new port, and a.yaml breaks while it is edited
        write("a.yaml", service("a", 80) + "  oops: [\n");
        write("b.yaml", service("b", 80) + "---\n" + service("moved", 81));
        assertThat(onConfigThread(p::reload)).isTrue();

        // the edit wins over the stale copy a.yaml had, and is not a duplicate
        assertThat(serviceNamed(p.current(), "moved").port(81)).isNotNull();
        assertThat(serviceNamed(p.current(), "moved").port(80)).isNull();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b,default/moved,default/a");
        assertThat(problems(p.current())).containsExactly(
                "a.yaml:4: while parsing a block mapping: expected <block end>, but found '<block mapping start>'",
                "a.yaml: warning: keeping 1 of the 2 object(s) this file had when it last parsed "
                        + "(1 now defined in a file that parses: Service default/moved)");

        // a.yaml fixed without "moved": nothing falls back, b.yaml's version stays
        write("a.yaml", service("a", 80));
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(serviceNamed(p.current(), "moved").port(81)).isNotNull();
        assertThat(p.current().problems()).isEmpty();
    }

    @Test
    void aFileRenamedAndBrokenInOneChangeLosesItsObjects() throws Exception {
        // documented: the last good version is kept per path, and a rename is a delete plus a new file
        write("a.yaml", service("a", 80));
        write("b.yaml", service("b", 80));
        SnapshotPublisher p = start();

        Files.delete(dir.resolve("a.yaml"));
        write("c.yaml", service("a", 80) + "  oops: [\n");
        assertThat(onConfigThread(p::reload)).isTrue();

        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b");
        assertThat(problems(p.current())).containsExactly(
                "c.yaml:4: while parsing a block mapping: expected <block end>, but found '<block mapping start>'");
    }

    @Test
    void anObjectThatBecomesInvalidKeepsItsPreviousVersion() throws Exception {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();
        ServicePortSpec port80 = p.current().resources().services().get(0).port(80);

        write("a.yaml", service("a", 0) + "---\n" + service("new", 0));
        assertThat(onConfigThread(p::reload)).isTrue();

        assertThat(p.current().resources().services()).singleElement()
                .satisfies(s -> assertThat(s.ports()).containsExactly(port80));
        assertThat(problems(p.current())).containsExactly(
                "a.yaml:1: Service default/a: spec.ports[0].port: port: 0 (expected: 1-65535)",
                "a.yaml:6: Service default/new: spec.ports[0].port: port: 0 (expected: 1-65535)",
                "a.yaml:1: warning: Service default/a: -: rejected; the previous version (a.yaml:1) is kept until this one is fixed");

        // still broken a generation later: still kept (the kept version is the last good one)
        write("b.yaml", service("b", 80));
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a,default/b");

        // deleted: gone
        write("a.yaml", "");
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b");
    }

    @Test
    void aFileWhoseDocumentIsNotAnObjectKeepsItsObjectsFromWhenItLastParsed() throws Exception {
        write("a.yaml", service("a", 80));
        write("b.yaml", service("b", 80));
        SnapshotPublisher p = start();

        // valid YAML, but a list where a manifest belongs: the file is broken as a whole, like bad syntax
        write("a.yaml", "- not a mapping\n");
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/b,default/a");
        assertThat(problems(p.current())).containsExactly(
                "a.yaml:1: document: [\"not a mapping\"] (expected: a Kubernetes object)",
                "a.yaml: warning: keeping the 1 object(s) this file had when it last parsed");
        assertThat(p.filesOnLastGood()).isEqualTo(1);
    }

    @Test
    void anObjectMovedToAVersionNotReadKeepsItsPreviousVersion() throws Exception {
        write("a.yaml", service("a", 80));
        SnapshotPublisher p = start();

        write("a.yaml", service("a", 81).replace("apiVersion: v1", "apiVersion: v9"));
        assertThat(onConfigThread(p::reload)).isTrue();
        // the v9 object is not applied, and the v1 one it replaced keeps serving
        assertThat(p.current().resources().services()).singleElement().satisfies(s -> {
            assertThat(s.port(80)).isNotNull();
            assertThat(s.port(81)).isNull();
        });
        assertThat(problems(p.current())).containsExactly(
                "a.yaml:1: warning: Service default/a: apiVersion: apiVersion: v9 (expected: v1; the object is not applied)",
                "a.yaml:1: warning: Service default/a: -: rejected; the previous version (a.yaml:1) is kept until this one is fixed");

        // a brand-new object at a version not read: not applied, nothing to fall back to
        write("b.yaml", service("b", 80).replace("apiVersion: v1", "apiVersion: v9"));
        assertThat(onConfigThread(p::reload)).isTrue();
        assertThat(p.current().part(SERVICE_NAMES)).isEqualTo("default/a");
    }
}
