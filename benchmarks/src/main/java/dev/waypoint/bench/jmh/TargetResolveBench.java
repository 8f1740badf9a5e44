package dev.waypoint.bench.jmh;

import dev.waypoint.bench.e2e.ManifestGen;
import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.lb.EndpointCompiler;
import dev.waypoint.listener.target.TargetResolver;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CONNECT target check, once per tunnel: {@code :authority} → bound Service VIP:port or Pod
 * IP, over the table compiled from 10,000 Services (100 namespaces, two ports each) loaded through
 * the real manifest path. Hit, miss (a refusal: builds its message), and the lookup alone on a
 * parsed {@link HostPort}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TargetResolveBench {
    private static final int N = 1024;

    private TargetTable table;
    private final String[] hits = new String[N];
    private final String[] misses = new String[N];
    private final HostPort[] parsedHits = new HostPort[N];
    private int i;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path dir = Files.createTempDirectory("target-bench");
        try {
            ManifestGen.writeScale(dir, 10_000, 100);
            ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor();
            try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir),
                    NamespacedName.parse("istio-system/waypoint"), "cluster.local",
                    List.of(new TargetTableCompiler(), new EndpointCompiler()), exec)) {
                p.start();
                ConfigSnapshot snap = p.current();
                table = snap.part(TargetTable.PART);
            } finally {
                exec.shutdownNow();
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
        if (table.counts().get(0) < 20_000) {
            throw new IllegalStateException("expected 20,000 bound service ports, got " + table.counts());
        }
        java.util.Random r = new java.util.Random(42);
        for (int k = 0; k < N; k++) {
            int s = r.nextInt(10_000);
            hits[k] = "10.96." + (s >> 8) + "." + (s & 0xff) + (k % 2 == 0 ? ":80" : ":9090");
            misses[k] = "10.200." + (s >> 8) + "." + (s & 0xff) + ":80";
            parsedHits[k] = HostPort.parseAuthority(hits[k]);
        }
    }

    @Benchmark
    public Object resolveHit() {
        return TargetResolver.resolve(hits[i++ & (N - 1)], table);
    }

    @Benchmark
    public Object resolveMiss() {
        return TargetResolver.resolve(misses[i++ & (N - 1)], table);
    }

    @Benchmark
    public Object lookupParsedHit() {
        return TargetResolver.resolve(parsedHits[i++ & (N - 1)], table);
    }
}
