package dev.waypoint.bench.jmh;

import dev.waypoint.lb.Endpoint;
import dev.waypoint.lb.EndpointPicker;
import dev.waypoint.lb.EndpointPickers;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link EndpointPickers#roundRobin()}, once per request: one thread, and two threads sharing the
 * picker (its one counter is shared by every event loop).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class EndpointPickBench {
    @Param({"3", "100"})
    public int endpoints;

    private final EndpointPicker picker = EndpointPickers.roundRobin();
    private List<Endpoint> list;

    @Setup
    public void setUp() {
        List<Endpoint> l = new ArrayList<>();
        for (int i = 0; i < endpoints; i++) {
            l.add(new Endpoint(HostPort.parseAuthority("10.1.0." + (i + 1) + ":8080"),
                    new SpiffeId("cluster.local", "ns", "sa"), null));
        }
        list = List.copyOf(l);
    }

    @Benchmark
    @Threads(1)
    public Endpoint pick() {
        return picker.pick(list, null);
    }

    @Benchmark
    @Threads(2)
    public Endpoint pickTwoThreads() {
        return picker.pick(list, null);
    }
}
