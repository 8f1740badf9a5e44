package dev.waypoint.bench.jmh;

import dev.waypoint.model.mesh.HostPort;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** {@link HostPort#parseAuthority}: every CONNECT's {@code :authority}, IPv4 and IPv6. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class AuthorityParseBench {
    @Param({"10.96.12.34:8080", "[fd00:10:96::1234]:8080"})
    public String authority;

    @Benchmark
    public HostPort parse() {
        return HostPort.parseAuthority(authority);
    }
}
