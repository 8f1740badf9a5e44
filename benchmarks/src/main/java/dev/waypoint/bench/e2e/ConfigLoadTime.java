package dev.waypoint.bench.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.Manifest;
import dev.waypoint.config.yaml.ManifestFile;
import dev.waypoint.config.yaml.YamlDirectorySource;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The config-at-scale figure of issue 17: how long a manifest directory takes to become a
 * snapshot, the whole way the server does it ({@link SnapshotPublisher#start()}, which is also
 * what a reload runs: list, read, parse, translate, compile every stage), and each phase of it on
 * its own: {@code read} (list and read the files, {@link YamlDirectorySource#read()}), {@code parse}
 * (YAML → Jackson trees) and {@code translate} (trees → {@link ResourceSet}), file by file as the
 * server does, each the sum over the files, and {@code compile} (every stage compiler of the
 * server). Generates the set with {@link ManifestGen} when {@code --dir} does not
 * exist yet.
 *
 * <p>Reports, as JSON: the cold whole load (the first in this JVM: what a restart pays), then the
 * median of {@code --repeat} warm loads, each as wall and CPU time of the loading thread (the
 * machine is shared, so CPU time is the steadier figure), the JVM's whole CPU (GC and JIT
 * threads too), the bytes the loading thread allocated (independent of the load on the machine),
 * the time the collectors and the JIT compilers report for the same window, and the heap: the sum of the heap pools' peaks during the warm loads (an upper
 * bound of the peak) and what stays live after a full GC with one snapshot held. Whether it fits a
 * heap is best asked by running it with {@code -Xmx128m}: an {@link OutOfMemoryError} ends it with
 * status 3. Last, {@code --reloads} reloads of a running publisher (see {@link #reload}).
 */
@Command(name = "config-load-time", mixinStandardHelpOptions = true,
        description = "Time a manifest directory's read, translate and compile, and the whole load.")
public final class ConfigLoadTime implements Callable<Integer> {
    @Option(names = "--dir", defaultValue = "/tmp/waypoint-scale-10k") Path dir;
    @Option(names = "--services", defaultValue = "10000") int services;
    @Option(names = "--namespaces", defaultValue = "100") int namespaces;
    @Option(names = "--policies", defaultValue = "1000") int policies;
    @Option(names = "--routes", defaultValue = "1000") int routes;
    @Option(names = "--waypoint-for", defaultValue = "all") String waypointFor;
    @Option(names = "--gateway", defaultValue = "istio-system/waypoint") String gateway;
    @Option(names = "--repeat", defaultValue = "5", description = "warm loads (and warm phase runs)") int repeat;
    @Option(names = "--reloads", defaultValue = "3",
            description = "reloads of a running publisher, each after appending a comment to a file") int reloads;
    @Option(names = "--skip-phases",
            description = "time only the whole load, not read, translate and compile on their own") boolean skipPhases;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        int status;
        try {
            status = new CommandLine(new ConfigLoadTime()).execute(args);
        } catch (OutOfMemoryError e) {
            System.out.println("{\"outOfMemory\": \"" + e.getMessage() + "\", \"maxHeapMiB\": "
                    + (Runtime.getRuntime().maxMemory() >> 20) + "}");
            status = 3;
        }
        System.exit(status);
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            ManifestGen.writeScale(dir, services, namespaces);
            if (!waypointFor.equals("service")) {
                Files.writeString(dir.resolve("gateway.yaml"), ManifestGen.GATEWAY.replace(
                        "istio.io/waypoint-for: service", "istio.io/waypoint-for: " + waypointFor));
            }
            ManifestGen.writePolicies(dir, services, namespaces, policies, routes);
        }
        NamespacedName gw = NamespacedName.parse(gateway);
        ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "config");
            t.setDaemon(true);
            return t;
        });
        Map<String, Object> out = new LinkedHashMap<>();
        try {
            out.put("dir", dir.toString());
            out.put("bytes", size(dir));
            out.put("maxHeapMiB", Runtime.getRuntime().maxMemory() >> 20);
            out.put("jvm", System.getProperty("java.vm.version") + " " + ManagementFactory.getRuntimeMXBean()
                    .getInputArguments());

            Sample cold = Sample.of(() -> load(gw, exec));
            out.put("cold", cold.json());
            ConfigSnapshot snap = (ConfigSnapshot) cold.result;
            ResourceSet r = snap.resources();
            out.put("services", r.services().size());
            out.put("pods", r.pods().size());
            out.put("authorizationPolicies", r.authorizationPolicies().size());
            out.put("httpRoutes", r.httpRoutes().size());
            out.put("problems", snap.problems().size());

            resetPeaks();
            List<Sample> warm = new ArrayList<>();
            for (int i = 0; i < repeat; i++) {
                warm.add(Sample.of(() -> load(gw, exec)));
                warm.get(i).result = null;
            }
            out.put("warm", medians(warm));
            out.put("warmWallMs", warm.stream().map(s -> round(s.wallMs)).toList());
            out.put("peakHeapMiBUpperBound", round(peakHeap() / 1048576.0));

            if (!skipPhases) {
                Map<String, Object> ph = new LinkedHashMap<>();
                YamlDirectorySource source = ConfigSources.yamlDirectory(dir);
                List<Sample> read = new ArrayList<>();
                List<Sample> parse = new ArrayList<>();
                List<Sample> translate = new ArrayList<>();
                List<Sample> compile = new ArrayList<>();
                for (int i = 0; i < repeat; i++) {
                    Sample rd = Sample.of(() -> {
                        try {
                            return source.read();
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                    read.add(rd);
                    DirectoryContent content = (DirectoryContent) rd.result;
                    rd.result = null;
                    // file by file, as the server does: parse one, translate its objects, let its trees go
                    Sample ps = new Sample();
                    Sample tr = new Sample();
                    List<TranslatedObject> kept = new ArrayList<>();
                    ResourceTranslator.Batch batch = ResourceTranslator.batch(new Diagnostics());
                    for (Manifest m : content.manifests()) {
                        Sample one = Sample.of(m::parse);
                        ps.add(one);
                        ManifestFile file = (ManifestFile) one.result;
                        tr.add(Sample.of(() -> {
                            for (WireObject o : file.objects()) {
                                TranslatedObject t = batch.translate(o);
                                if (t.kept()) {
                                    kept.add(t);
                                }
                            }
                            return null;
                        }));
                    }
                    Sample set = Sample.of(() -> ResourceTranslator.resourceSet(gw, "cluster.local", kept));
                    tr.add(set);
                    parse.add(ps);
                    translate.add(tr);
                    ResourceSet resources = (ResourceSet) set.result;
                    set.result = null;
                    compile.add(Sample.of(() -> ConfigSnapshot.compile(1, resources, CompileTime.compilers(),
                            new Diagnostics())));
                    compile.get(compile.size() - 1).result = null;
                }
                ph.put("read", medians(read));
                ph.put("parse", medians(parse));
                ph.put("translate", medians(translate));
                ph.put("compile", medians(compile));
                out.put("phasesWarm", ph);
            }

            if (reloads > 0) {
                out.put("reload", reload(gw, exec));
            }

            System.gc();
            System.gc();
            out.put("liveHeapMiBAfterGcWithOneSnapshot", round(usedHeap() / 1048576.0));
            out.put("snapshotGeneration", snap.generation()); // keeps the snapshot reachable until here
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
            return 0;
        } finally {
            exec.shutdownNow();
        }
    }

    /**
     * Reloads as a running server does: a publisher polling every 50 ms, a file changed (a comment
     * appended), the next generation built while the current one and the last good state are
     * held. The time is from the change to the publication, so it includes the debounce (the
     * listing must hold still for one poll). The file is restored at the end.
     */
    private Map<String, Object> reload(NamespacedName gw, ScheduledExecutorService exec) throws Exception {
        Path file = dir.resolve("gateway.yaml");
        String original = Files.readString(file);
        List<Double> wall = new ArrayList<>();
        try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir), gw, "cluster.local",
                CompileTime.compilers(), exec, java.time.Duration.ofMillis(50))) {
            p.start();
            for (int i = 1; i <= reloads; i++) {
                long generation = p.current().generation();
                long t0 = System.nanoTime();
                Files.writeString(file, original + "# reload " + i + "\n");
                while (p.current().generation() == generation) {
                    if (System.nanoTime() - t0 > 120_000_000_000L) {
                        throw new IllegalStateException("reload " + i + " not published within 120 s");
                    }
                    Thread.sleep(5);
                }
                wall.add((System.nanoTime() - t0) / 1e6);
            }
        } finally {
            Files.writeString(file, original);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("published", wall.size());
        m.put("wallMsMedian", round(median(wall)));
        m.put("wallMs", wall.stream().map(ConfigLoadTime::round).toList());
        return m;
    }

    private ConfigSnapshot load(NamespacedName gw, ScheduledExecutorService exec) {
        try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir), gw, "cluster.local",
                CompileTime.compilers(), exec)) {
            p.start();
            return p.current();
        }
    }

    /** One timed run: wall, this thread's CPU, the whole JVM's CPU. */
    private static final class Sample {
        double wallMs;
        double cpuMs;
        double processCpuMs;
        double allocatedMiB;
        double gcMs;
        double jitMs;
        Object result;

        static Sample of(Supplier<?> run) {
            Sample s = new Sample();
            long cpu0 = THREADS.getCurrentThreadCpuTime();
            long proc0 = processCpu();
            long alloc0 = allocated();
            long gc0 = gcMillis();
            long jit0 = jitMillis();
            long t0 = System.nanoTime();
            s.result = run.get();
            s.wallMs = (System.nanoTime() - t0) / 1e6;
            s.cpuMs = (THREADS.getCurrentThreadCpuTime() - cpu0) / 1e6;
            s.processCpuMs = (processCpu() - proc0) / 1e6;
            s.allocatedMiB = (allocated() - alloc0) / 1048576.0;
            s.gcMs = gcMillis() - gc0;
            s.jitMs = jitMillis() - jit0;
            return s;
        }

        /** Adds {@code other}'s times to this one's (a phase made of many pieces). */
        void add(Sample other) {
            wallMs += other.wallMs;
            cpuMs += other.cpuMs;
            processCpuMs += other.processCpuMs;
            allocatedMiB += other.allocatedMiB;
            gcMs += other.gcMs;
            jitMs += other.jitMs;
        }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("wallMs", round(wallMs));
            m.put("threadCpuMs", round(cpuMs));
            m.put("processCpuMs", round(processCpuMs));
            m.put("allocatedMiB", round(allocatedMiB));
            m.put("gcMs", round(gcMs));
            m.put("jitMs", round(jitMs));
            return m;
        }
    }

    private static Map<String, Object> medians(List<Sample> samples) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("wallMsMedian", round(median(samples.stream().map(s -> s.wallMs).toList())));
        m.put("threadCpuMsMedian", round(median(samples.stream().map(s -> s.cpuMs).toList())));
        m.put("processCpuMsMedian", round(median(samples.stream().map(s -> s.processCpuMs).toList())));
        m.put("allocatedMiBMedian", round(median(samples.stream().map(s -> s.allocatedMiB).toList())));
        m.put("gcMsMedian", round(median(samples.stream().map(s -> s.gcMs).toList())));
        m.put("jitMsMedian", round(median(samples.stream().map(s -> s.jitMs).toList())));
        return m;
    }

    private static long processCpu() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0;
    }

    /** Bytes this thread allocated so far (HotSpot's per-thread counter: the loads allocate on it). */
    private static long allocated() {
        return THREADS instanceof com.sun.management.ThreadMXBean sun
                ? sun.getThreadAllocatedBytes(Thread.currentThread().getId()) : 0;
    }

    private static long gcMillis() {
        long sum = 0;
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            sum += Math.max(0, gc.getCollectionTime());
        }
        return sum;
    }

    private static long jitMillis() {
        var jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }

    private static void resetPeaks() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) {
                p.resetPeakUsage();
            }
        }
    }

    private static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) {
                sum += p.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    private static long usedHeap() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long size(Path d) throws java.io.IOException {
        try (var s = Files.walk(d)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.isEmpty() ? 0 : s.get(s.size() / 2);
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
