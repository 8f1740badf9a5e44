package dev.waypoint.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The recorder sees a real leak. {@link LeakRecorder#collect} consumes what it finds, so the leak
 * made here does not fail this class through the extension; that path was checked by hand with a
 * test that leaks and does not collect (docs/ARCHITECTURE.md, "Leaks fail the tests").
 */
class LeakRecorderTest {
    @Test
    void theExtensionIsActiveAtParanoid() {
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
        LeakRecorder.checkInstalled();
    }

    @Test
    void aBufferNeverReleasedIsRecordedWithWhereItWasTouched() throws Exception {
        assertThat(LeakRecorder.collect()).isEmpty();
        leakOne();
        List<LeakRecorder.Leak> leaks = LeakRecorder.collect();
        assertThat(leaks).singleElement().satisfies(l -> {
            assertThat(l.resourceType()).isEqualTo("ByteBuf");
            assertThat(l.records()).contains("leak-recorder-test-hint", "LeakRecorderTest.leakOne");
        });
        assertThat(LeakRecorder.describe("LeakRecorderTest", leaks))
                .startsWith("Netty reported 1 leak(s) by the end of LeakRecorderTest (leak detection PARANOID)")
                .contains("#1 ByteBuf.release() was not called:", "leak-recorder-test-hint", "JUnit/surefire frames")
                .doesNotContain("org.junit.platform.engine.support.hierarchical.NodeTestTask");
        assertThat(LeakRecorder.collect()).as("reported once").isEmpty();
    }

    private static void leakOne() {
        ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(32);
        b.writeInt(42);
        b.touch("leak-recorder-test-hint");
        // not released: unreachable once this method returns
    }
}
