package dev.waypoint.bench.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.waypoint.config.ConfigSources;
import dev.waypoint.config.SnapshotPublisher;
import dev.waypoint.lb.EndpointCompiler;
import dev.waypoint.listener.target.TargetTable;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.mesh.NamespacedName;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Times how long a manifest directory takes to become a config snapshot, the way the waypoint
 * does it at start ({@link SnapshotPublisher#start()}: list, read, parse YAML, translate, compile
 * every stage) with the waypoint's stage compilers (target table, endpoints), once cold (first
 * time in this JVM: what a restart pays) and then warm (median of repeats); and the compile step
 * alone on the already translated resources, per compiler. Prints JSON.
 */
@Command(name = "compile-time", mixinStandardHelpOptions = true, description = "Time manifest load + compile.")
public final class CompileTime implements Callable<Integer> {
    @Parameters(paramLabel = "DIR") Path dir;
    @Option(names = "--gateway", defaultValue = "istio-system/waypoint") String gateway;
    @Option(names = "--repeat", defaultValue = "3") int repeat;

    public static void main(String[] args) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        System.exit(new CommandLine(new CompileTime()).execute(args));
    }

    /**
     * The waypoint's compilers, in its order ({@code WaypointServer.compilers(...)} is
     * package-private): target table, endpoints, HTTPRoutes, JWT rules (offline JWKS),
     * AuthorizationPolicies, ServiceEntry endpoints, TCP/TLS routes, WasmPlugins (validation).
     */
    static List<PartCompiler<?>> compilers() {
        return List.of(new TargetTableCompiler(), new EndpointCompiler(), new dev.waypoint.routing.HttpRouteCompiler(),
                new dev.waypoint.authn.JwtRuleCompiler(dev.waypoint.authn.JwksCache.offline(), "istio-system"),
                new dev.waypoint.authz.AuthzPolicyCompiler(),
                new dev.waypoint.lb.ServiceEntryEndpointCompiler(), new dev.waypoint.routing.L4RouteCompiler(),
                dev.waypoint.wasm.WasmPluginCompiler.forValidation("istio-system"));
    }

    @Override
    public Integer call() throws Exception {
        NamespacedName gw = NamespacedName.parse(gateway);
        ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "config");
            t.setDaemon(true);
            return t;
        });
        try {
            long t0 = System.nanoTime();
            ConfigSnapshot snap = load(gw, exec);
            double coldMs = (System.nanoTime() - t0) / 1e6;
            List<Double> warm = new ArrayList<>();
            for (int i = 0; i < repeat; i++) {
                long t = System.nanoTime();
                load(gw, exec);
                warm.add((System.nanoTime() - t) / 1e6);
            }
            ResourceSet resources = snap.resources();
            Map<String, List<Double>> perCompiler = new LinkedHashMap<>();
            List<Double> compileOnly = new ArrayList<>();
            for (int i = 0; i < Math.max(1, repeat); i++) {
                long all = System.nanoTime();
                for (PartCompiler<?> c : compilers()) {
                    long t = System.nanoTime();
                    c.compile(resources, new Diagnostics());
                    perCompiler.computeIfAbsent(c.part().name(), k -> new ArrayList<>()).add((System.nanoTime() - t) / 1e6);
                }
                compileOnly.add((System.nanoTime() - all) / 1e6);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("dir", dir.toString());
            out.put("services", resources.services().size());
            out.put("pods", resources.pods().size());
            out.put("authorizationPolicies", resources.authorizationPolicies().size());
            out.put("httpRoutes", resources.httpRoutes().size());
            out.put("maxHeapMiB", Runtime.getRuntime().maxMemory() >> 20);
            out.put("namespaces", resources.namespaces().size());
            out.put("boundServicePorts", snap.part(TargetTable.PART).counts().get(0));
            out.put("boundPods", snap.part(TargetTable.PART).counts().get(1));
            out.put("problems", snap.problems().size());
            out.put("coldLoadMs", round(coldMs));
            out.put("warmLoadMsMedian", round(median(warm)));
            out.put("warmLoadMs", warm.stream().map(CompileTime::round).toList());
            out.put("compileOnlyMsMedian", round(median(compileOnly)));
            Map<String, Object> parts = new LinkedHashMap<>();
            perCompiler.forEach((k, v) -> parts.put(k, round(median(v))));
            out.put("compileOnlyMsMedianByPart", parts);
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
            return 0;
        } finally {
            exec.shutdownNow();
        }
    }

    private ConfigSnapshot load(NamespacedName gw, ScheduledExecutorService exec) {
        try (SnapshotPublisher p = new SnapshotPublisher(ConfigSources.yamlDirectory(dir), gw, "cluster.local",
                compilers(), exec)) {
            p.start();
            return p.current();
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
