package dev.waypoint.testsupport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.ResourceLeakTracker;
import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;

/**
 * The JVM-wide record of Netty leak reports behind {@link NettyLeakExtension}.
 *
 * <h2>Threading</h2>
 * Detectors report on whichever thread allocates (event loops included): the queues are
 * concurrent. {@link #collect} runs on the test thread.
 */
final class LeakRecorder {
    /** One reported leak: Netty's resource type ({@code ByteBuf}, ...) and its access records. */
    record Leak(String resourceType, String records) {}

    private static final Queue<Leak> LEAKS = new ConcurrentLinkedQueue<>();
    private static final Queue<RecordingDetector<?>> DETECTORS = new ConcurrentLinkedQueue<>();
    /** Collection rounds after each class: a leak can need a second GC to become unreachable. */
    private static final int ROUNDS = 3;
    private static boolean installed;

    private LeakRecorder() {}

    /**
     * Installs the recording factory. Netty's detectors are created when the classes that own them
     * are initialised ({@code AbstractByteBuf} on the first buffer), so this must run before any
     * test touches Netty: it runs when JUnit loads the extension, before the first test class.
     */
    static synchronized void install() {
        if (installed) {
            return;
        }
        installed = true;
        if (ResourceLeakDetector.getLevel().ordinal() < ResourceLeakDetector.Level.PARANOID.ordinal()) {
            // STYLE rule 13: tests run the detector at paranoid, also where the POM's argLine is not used
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        }
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
    }

    /** Fails if Netty's buffer leak detector was created before {@link #install} (it would record nothing). */
    static void checkInstalled() {
        ByteBufAllocator.DEFAULT.buffer(1).release(); // initialises AbstractByteBuf and its detector
        for (RecordingDetector<?> d : DETECTORS) {
            if (d.resource == ByteBuf.class) {
                return;
            }
        }
        throw new ExtensionConfigurationException("Netty's ByteBuf leak detector was created before "
                + NettyLeakExtension.class.getName() + " installed its ResourceLeakDetectorFactory, so leaks "
                + "would not fail the tests: something initialised Netty's buffers before JUnit loaded the extension");
    }

    /** Collects garbage, makes every detector report, and returns (and forgets) what leaked since the last call. */
    static List<Leak> collect() throws InterruptedException {
        for (int i = 0; i < ROUNDS; i++) {
            collectGarbage();
            for (RecordingDetector<?> d : DETECTORS) {
                d.reportPending();
            }
            // the ordinary path too: the buffer detector reports while tracking a new buffer
            for (ByteBufAllocator a : List.of(ByteBufAllocator.DEFAULT, UnpooledByteBufAllocator.DEFAULT)) {
                a.heapBuffer(16).release();
                a.directBuffer(16).release();
            }
        }
        List<Leak> out = new ArrayList<>();
        for (Leak l; (l = LEAKS.poll()) != null; ) {
            out.add(l);
        }
        return out;
    }

    /** The failure message: what leaked and where, for the class after which it was found. */
    static String describe(String testClass, List<Leak> leaks) {
        StringBuilder b = new StringBuilder()
                .append("Netty reported ").append(leaks.size()).append(" leak(s) by the end of ").append(testClass)
                .append(" (leak detection ").append(ResourceLeakDetector.getLevel()).append("). A leak is reported ")
                .append("when the leaked object is garbage-collected, so it may come from an earlier test class in ")
                .append("this JVM; the records show where the object was created and last accessed.");
        int n = 1;
        for (Leak l : leaks) {
            b.append("\n\n#").append(n++).append(' ').append(l.resourceType()).append(".release() was not called")
                    .append(l.records().isEmpty() ? " (no records: raise the level to paranoid to see them)" : ":")
                    .append(withoutHarnessFrames(l.records()));
        }
        return b.toString();
    }

    /** Stack frames of the test harness: in every record, never the cause. */
    private static final List<String> HARNESS = List.of("org.junit.", "org.apache.maven.surefire.",
            "java.base/jdk.internal.reflect.", "java.base/java.lang.reflect.", "java.base/java.util.ArrayList.forEach");

    /** The records with runs of harness frames folded into one line (Netty's own log keeps them). */
    static String withoutHarnessFrames(String records) {
        StringBuilder out = new StringBuilder();
        int folded = 0;
        for (String line : records.split("\n", -1)) {
            String frame = line.startsWith("\t") ? line.substring(1) : null;
            if (frame != null && HARNESS.stream().anyMatch(frame::startsWith)) {
                folded++;
                continue;
            }
            if (folded > 0) {
                out.append("\t... ").append(folded).append(" JUnit/surefire frames\n");
                folded = 0;
            }
            out.append(line).append('\n');
        }
        if (folded > 0) {
            out.append("\t... ").append(folded).append(" JUnit/surefire frames\n");
        }
        return out.toString();
    }

    /** Runs a full GC and waits until the reference handler has queued what it found. */
    private static void collectGarbage() throws InterruptedException {
        ReferenceQueue<Object> queue = new ReferenceQueue<>();
        PhantomReference<Object> sentinel = new PhantomReference<>(new Object(), queue);
        System.gc();
        queue.remove(200);
        Reference.reachabilityFence(sentinel);
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval) {
            RecordingDetector<T> d = new RecordingDetector<>(resource, samplingInterval);
            DETECTORS.add(d);
            return d;
        }

        @Override
        @SuppressWarnings("deprecation") // the factory's one abstract method; maxActive is unused by Netty
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
            return newResourceLeakDetector(resource, samplingInterval);
        }
    }

    /** Netty's detector, recording what it reports; it still logs the usual {@code LEAK:} error. */
    private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        final Class<T> resource;

        RecordingDetector(Class<T> resource, int samplingInterval) {
            super(resource, samplingInterval);
            this.resource = resource;
        }

        @Override
        protected boolean needReport() {
            return true; // report even when Netty's logger is off: the report is what fails the test
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            LEAKS.add(new Leak(resourceType, records));
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            LEAKS.add(new Leak(resourceType, ""));
            super.reportUntracedLeak(resourceType);
        }

        /**
         * Makes this detector report what is in its queue. Netty does that only when it tracks a new
         * object, so track and close a probe: {@code trackForcibly} reports at every level.
         */
        @SuppressWarnings("unchecked") // the probe never leaves this method; T is erased in the detector
        void reportPending() {
            T probe = (T) new Object();
            ResourceLeakTracker<T> tracker = trackForcibly(probe);
            tracker.close(probe);
        }
    }
}
