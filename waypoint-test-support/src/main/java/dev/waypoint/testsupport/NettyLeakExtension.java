package dev.waypoint.testsupport;

import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty reported a resource leak (STYLE rule 15: leaks fail the test
 * suite). Registered in every module's tests without an annotation: this jar lists it in
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension}, and the parent POM turns on
 * {@code junit.jupiter.extensions.autodetection.enabled} for surefire and failsafe.
 *
 * <h2>How</h2>
 * Loading this class installs a {@link io.netty.util.ResourceLeakDetectorFactory} whose detectors
 * record every leak they report (and still log it), and raises the detection level to
 * {@code PARANOID} if it is lower (the parent POM already asks for it). Before each test class it
 * checks that Netty's {@code ByteBuf} detector is one of the recording ones. After each test class
 * (after its {@code @AfterAll} methods) it runs the garbage collector a few times, makes every
 * detector look at its queue and allocates and frees a few buffers (Netty reports a leak only when
 * it tracks the next object), then fails the class with every leak recorded since the previous
 * class, naming each leak's records: where the object was created and last touched.
 *
 * <h2>Attribution</h2>
 * A leak is reported once the leaked object has been collected, which can be after the test that
 * leaked it. A leak first reported after class B may come from class A that ran before it in the
 * same JVM; the records say which code it was.
 */
public final class NettyLeakExtension implements BeforeAllCallback, AfterAllCallback {
    static {
        LeakRecorder.install();
    }

    /** Called by JUnit's service loading. */
    public NettyLeakExtension() {
        // all state is in LeakRecorder: one per JVM, as Netty's detectors are
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        LeakRecorder.checkInstalled();
    }

    @Override
    public void afterAll(ExtensionContext context) throws InterruptedException {
        List<LeakRecorder.Leak> leaks = LeakRecorder.collect();
        if (!leaks.isEmpty()) {
            throw new AssertionError(LeakRecorder.describe(context.getDisplayName(), leaks));
        }
    }
}
