package dev.waypoint.bench.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.bench.load.Report;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Turns the JSON files of one or more {@code run-e2e.sh} runs into the markdown results table: one
 * column per path ({@code direct}, {@code waypoint}, {@code nghttpx}, ...), one row per
 * measurement, and the targets. Given several run directories, every number is the median over
 * the runs (each run's "added latency" is taken against that run's direct path), and a second
 * table lists the runs one by one.
 *
 * <p>Reads {@code <path>-fixed.json}, {@code <path>-sat.json}, {@code <path>-bulk.json} (load
 * tool reports), {@code startup.json} and {@code compile.json}; what is missing becomes "n/a".
 */
@Command(name = "results-table", mixinStandardHelpOptions = true, description = "Markdown table of e2e runs.")
public final class ResultsTable implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", arity = "1..*", description = "Run directories (several: medians).")
    List<Path> dirs;

    @Option(names = "--paths", split = ",", defaultValue = "direct,waypoint,nghttpx") List<String> paths;
    @Option(names = "--out", description = "Also write the table here.") Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ResultsTable()).execute(args));
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One run directory's reports. */
    private record Run(String name, Map<String, Report> fixed, Map<String, Report> sat, Map<String, Report> bulk,
                       JsonNode startup, JsonNode compile) {}

    /** A number of a report, given the same run's direct fixed-rate report (may be null); NaN if not applicable. */
    private interface Metric {
        double of(Report r, Report direct);
    }

    @Override
    public Integer call() throws IOException {
        List<Run> runs = new ArrayList<>();
        for (Path d : dirs) {
            Map<String, Report> fixed = new LinkedHashMap<>();
            Map<String, Report> sat = new LinkedHashMap<>();
            Map<String, Report> bulk = new LinkedHashMap<>();
            for (String p : paths) {
                fixed.put(p, report(d, p + "-fixed.json"));
                sat.put(p, report(d, p + "-sat.json"));
                bulk.put(p, report(d, p + "-bulk.json"));
            }
            runs.add(new Run(d.getFileName().toString(), fixed, sat, bulk, json(d, "startup.json"), json(d, "compile.json")));
        }
        StringBuilder b = new StringBuilder();
        if (runs.size() > 1) {
            b.append("Medians of ").append(runs.size()).append(" runs (").append(String.join(", ",
                    runs.stream().map(Run::name).toList())).append(").\n\n");
        }
        b.append("| measurement | ").append(String.join(" | ", paths)).append(" | target |\n");
        b.append("|---|").append("---|".repeat(paths.size())).append("---|\n");
        Report anyFixed = first(runs, Run::fixed);
        Report anySat = first(runs, Run::sat);
        String fixedDesc = anyFixed == null ? "fixed rate" : String.format(Locale.ROOT,
                "%d req/s, %d conns x %d tunnel, %d B body", anyFixed.rate(), anyFixed.connections(), anyFixed.tunnels(),
                anyFixed.bodyBytes());
        String satDesc = anySat == null ? "closed loop" : String.format(Locale.ROOT, "closed loop, %d conns x %d tunnels",
                anySat.connections(), anySat.tunnels());

        row(b, runs, Run::fixed, "vCPU per 1000 req/s (" + fixedDesc + "; CPU of the measured process¹)", "%.3f",
                "≤ 0.10 (Envoy waypoint: 0.25)", (r, d) -> measured(r) == null || measured(r).vcpuPerKrps() == null
                        ? Double.NaN : measured(r).vcpuPerKrps());
        row(b, runs, Run::fixed, "achieved req/s at the fixed rate, errors", "%.0f, %.0f", "",
                (r, d) -> r.rps(), (r, d) -> r.errorCount());
        row(b, runs, Run::fixed, "latency p50 / p90 / p99 / p99.9 / max, ms (from the scheduled send times)",
                "%.3f / %.3f / %.2f / %.2f / %.2f", "", (r, d) -> r.latencyMs().p50(), (r, d) -> r.latencyMs().p90(),
                (r, d) -> r.latencyMs().p99(), (r, d) -> r.latencyMs().p999(), (r, d) -> r.latencyMs().max());
        row(b, runs, Run::fixed, "added latency over direct, p50 / p99, ms", "%+.3f / %+.2f", "p99 ≤ +1 ms",
                (r, d) -> d == null || r == d ? Double.NaN : r.latencyMs().p50() - d.latencyMs().p50(),
                (r, d) -> d == null || r == d ? Double.NaN : r.latencyMs().p99() - d.latencyMs().p99());
        row(b, runs, Run::fixed, "RSS of the measured process at that load, MiB (peak)", "%.1f (%.1f)",
                "≤ 60 (Envoy waypoint: 60)", (r, d) -> measured(r) == null ? Double.NaN : measured(r).rssKib() / 1024.0,
                (r, d) -> measured(r) == null ? Double.NaN : measured(r).hwmKib() / 1024.0);
        row(b, runs, Run::sat, "saturation req/s (" + satDesc + "), errors", "%.0f, %.0f", "≥ the C peer's",
                (r, d) -> r.rps(), (r, d) -> r.errorCount());
        row(b, runs, Run::sat, "saturation latency p50 / p99, ms", "%.2f / %.2f", "",
                (r, d) -> r.latencyMs().p50(), (r, d) -> r.latencyMs().p99());
        row(b, runs, Run::sat, "saturation: vCPU of the measured process (all processes share 2 vCPU)", "%.2f", "",
                (r, d) -> measured(r) == null ? Double.NaN : measured(r).vcpu());
        row(b, runs, Run::bulk, "single-tunnel bulk download, MiB/s", "%.0f", "≥ 300",
                (r, d) -> r.bulk() == null ? Double.NaN : r.bulk().mibPerSecond());

        Map<String, String> start = dashes();
        Map<String, String> compile = dashes();
        Map<String, String> scale = dashes();
        List<Double> startMs = numbers(runs, r -> r.startup() == null ? Double.NaN : r.startup().path("medianMs").asDouble());
        if (!startMs.isEmpty()) {
            List<String> all = new ArrayList<>();
            runs.forEach(r -> {
                if (r.startup() != null) {
                    r.startup().path("runsMs").forEach(n -> all.add(n.asText()));
                }
            });
            start.put("waypoint", String.format(Locale.ROOT, "%.0f ms (launches: %s)", median(startMs), String.join(", ", all)));
        }
        List<Double> cold = numbers(runs, r -> r.compile() == null ? Double.NaN : r.compile().path("coldLoadMs").asDouble());
        JsonNode anyCompile = runs.stream().map(Run::compile).filter(c -> c != null).findFirst().orElse(null);
        if (!cold.isEmpty()) {
            compile.put("waypoint", String.format(Locale.ROOT,
                    "%.0f ms cold, %.0f ms warm (read + parse YAML + translate + compile); the compile step alone %.0f ms",
                    median(cold), median(numbers(runs, r -> r.compile() == null ? Double.NaN
                            : r.compile().path("warmLoadMsMedian").asDouble())),
                    median(numbers(runs, r -> r.compile() == null ? Double.NaN
                            : r.compile().path("compileOnlyMsMedian").asDouble()))));
        }
        List<Double> scaleMs = numbers(runs, r -> r.startup() == null || r.startup().path("scaleMs").asDouble() < 0
                ? Double.NaN : r.startup().path("scaleMs").asDouble());
        if (!scaleMs.isEmpty()) {
            JsonNode s = runs.stream().map(Run::startup).filter(x -> x != null).findFirst().orElseThrow();
            scale.put("waypoint", String.format(Locale.ROOT, "%.0f ms, peak RSS %.0f MiB (JVM: %s)", median(scaleMs),
                    median(numbers(runs, r -> r.startup() == null ? Double.NaN
                            : r.startup().path("scaleHwmKib").asDouble() / 1024.0)), s.path("scaleJavaOpts").asText()));
        }
        plainRow(b, "time from process start to GET /healthz/ready = 200", start, "");
        plainRow(b, "config load: " + (anyCompile == null ? "10,000 Services" : anyCompile.path("services").asInt()
                + " Services + " + anyCompile.path("pods").asInt() + " Pods in " + anyCompile.path("namespaces").asInt()
                + " namespaces, 0 policies²"), compile, "");
        plainRow(b, "start to ready with that config", scale, "");
        b.append('\n');
        b.append("¹ The measured process: direct = the destination JVM (HBONE terminator *and* the backend); waypoint = "
                + "the waypoint JVM; nghttpx = the nghttpx master and worker processes. CPU = utime + stime from "
                + "/proc/PID/stat over the measured window.\n");
        b.append("² This set has no AuthorizationPolicies or HTTPRoutes; ConfigLoadTime measures the issue's set with 1,001 "
                + "policies and 1,000 routes (RESULTS.md, \"Config at scale\"), ab-cpu.sh the request path with a route "
                + "and policies.\n");
        b.append('\n').append(details(runs));
        String table = b.toString();
        System.out.print(table);
        if (out != null) {
            Files.writeString(out, table, StandardCharsets.UTF_8);
        }
        return 0;
    }

    private Map<String, String> dashes() {
        Map<String, String> m = new LinkedHashMap<>();
        paths.forEach(p -> m.put(p, "–"));
        return m;
    }

    private String details(List<Run> runs) {
        StringBuilder b = new StringBuilder("Every run (vCPU = CPU seconds / window seconds; stalls = seconds with a "
                + "response ≥ 100 ms, warmup included):\n\n");
        b.append("| run | path | kind | req/s or MiB/s | p50 ms | p99 ms | max ms | errors | measured vCPU | dest vCPU "
                + "| load tool vCPU | other vCPU³ | stalls |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Run run : runs) {
            for (Map<String, Report> m : List.of(run.fixed(), run.sat(), run.bulk())) {
                for (Report r : m.values()) {
                    if (r == null) {
                        continue;
                    }
                    long stalls = r.timeline() == null || r.bulk() != null ? 0
                            : r.timeline().stream().filter(s -> s.maxLatencyMs() >= 100).count();
                    b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.3f | %.2f | %.2f | %s | %s | %s | %s | %s | %d |%n",
                            run.name(), r.label(), r.mode(),
                            r.bulk() != null ? String.format(Locale.ROOT, "%.0f MiB/s", r.bulk().mibPerSecond())
                                    : String.format(Locale.ROOT, "%.0f", r.rps()),
                            r.latencyMs().p50(), r.latencyMs().p99(), r.latencyMs().max(),
                            r.errors().isEmpty() ? "0" : r.errors().toString(), vcpu(r, "measured"), vcpu(r, "dest"),
                            vcpu(r, "loadtool"), r.otherVcpu() == null ? "–" : String.format(Locale.ROOT, "%.2f", r.otherVcpu()),
                            stalls));
                }
            }
        }
        b.append("\n³ CPU used during the window by the other processes on the machine (from /proc; a lower bound, "
                + "processes that exit within the window are missed; reports of older tool versions also counted reaped "
                + "children whole): other work sharing the 2 vCPU (this machine is shared with builds).\n");
        return b.toString();
    }

    private interface Part {
        Map<String, Report> of(Run run);
    }

    private static Report first(List<Run> runs, Part part) {
        return runs.stream().flatMap(r -> part.of(r).values().stream()).filter(r -> r != null).findFirst().orElse(null);
    }

    private void row(StringBuilder b, List<Run> runs, Part part, String name, String format, String target,
                     Metric... metrics) {
        Map<String, String> cells = new LinkedHashMap<>();
        for (String p : paths) {
            Object[] values = new Object[metrics.length];
            boolean any = false;
            boolean allNaN = true;
            for (int i = 0; i < metrics.length; i++) {
                List<Double> v = new ArrayList<>();
                for (Run run : runs) {
                    Report r = part.of(run).get(p);
                    if (r != null) {
                        any = true;
                        double x = metrics[i].of(r, run.fixed().get("direct"));
                        if (!Double.isNaN(x)) {
                            v.add(x);
                        }
                    }
                }
                values[i] = v.isEmpty() ? Double.NaN : median(v);
                allNaN &= v.isEmpty();
            }
            cells.put(p, !any ? "n/a" : allNaN ? "–" : String.format(Locale.ROOT, format, values).replace("NaN", "–"));
        }
        plainRow(b, name, cells, target);
    }

    private interface RunNumber {
        double of(Run run);
    }

    private static List<Double> numbers(List<Run> runs, RunNumber f) {
        List<Double> v = new ArrayList<>();
        for (Run r : runs) {
            double x = f.of(r);
            if (!Double.isNaN(x)) {
                v.add(x);
            }
        }
        return v;
    }

    /** The median; for an even count the lower middle value (a value that was really measured). */
    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get((s.size() - 1) / 2);
    }

    private static Report.Proc measured(Report r) {
        return proc(r, "measured");
    }

    private static String vcpu(Report r, String label) {
        Report.Proc p = proc(r, label);
        return p == null ? "–" : String.format(Locale.ROOT, "%.3f", p.vcpu());
    }

    private static Report.Proc proc(Report r, String label) {
        return r.processes().stream().filter(p -> p.label().equals(label)).findFirst().orElse(null);
    }

    private static void plainRow(StringBuilder b, String name, Map<String, String> cells, String target) {
        b.append("| ").append(name).append(" | ").append(String.join(" | ", cells.values())).append(" | ").append(target)
                .append(" |\n");
    }

    private static Report report(Path dir, String file) throws IOException {
        Path f = dir.resolve(file);
        return Files.isRegularFile(f) ? Report.fromJson(Files.readString(f)) : null;
    }

    private static JsonNode json(Path dir, String file) throws IOException {
        Path f = dir.resolve(file);
        return Files.isRegularFile(f) ? JSON.readTree(f.toFile()) : null;
    }
}
