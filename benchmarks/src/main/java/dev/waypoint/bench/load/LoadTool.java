package dev.waypoint.bench.load;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.TestCa;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The end-to-end load tool: plays a source ztunnel against an HBONE server (the waypoint, a
 * destination terminator or nghttpx) and reports throughput, latency, errors and the CPU and RSS
 * of the processes named with {@code --pid}.
 */
@Command(name = "waypoint-bench", mixinStandardHelpOptions = true, version = "waypoint-bench 0.1.0",
        sortOptions = false,
        description = {
            "HBONE load: N mTLS HTTP/2 connections x M concurrent CONNECT tunnels, each carrying keep-alive HTTP/1.1 "
                    + "(or h2c) requests one at a time; fixed rate (latency from scheduled send times: corrected for "
                    + "coordinated omission) or closed loop; or one tunnel of bulk bytes (--bulk).",
            "Durations: 15s, 500ms, 2m, or plain seconds. Every run stops by itself."})
public final class LoadTool implements Callable<Integer> {

    @Option(names = "--target", required = true, paramLabel = "HOST:PORT",
            description = "HBONE server to dial (waypoint, destination terminator, nghttpx).")
    String target;

    @Option(names = "--authority", required = true, paramLabel = "IP:PORT", description = "CONNECT :authority.")
    String authority;

    @Option(names = "--cert-dir", paramLabel = "DIR",
            description = "Client identity in Istio's layout (cert-chain.pem, key.pem, root-cert.pem). Without it a "
                    + "throwaway CA and identity are generated (only useful against servers that do not verify clients).")
    Path certDir;

    @Option(names = "--label", defaultValue = "run", description = "Name of this run in the report (default: ${DEFAULT-VALUE}).")
    String label;

    @Option(names = {"-c", "--connections"}, defaultValue = "4", paramLabel = "N",
            description = "HBONE connections (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = {"-m", "--tunnels"}, defaultValue = "1", paramLabel = "M",
            description = "Concurrent CONNECT tunnels per connection (default: ${DEFAULT-VALUE}).")
    int tunnels;

    @Option(names = "--h2c", description = "HTTP/2 (prior knowledge) inside the tunnels instead of HTTP/1.1.")
    boolean h2c;

    @Option(names = {"-r", "--rate"}, defaultValue = "0", paramLabel = "R",
            description = "Requests per second over all tunnels; 0 = closed loop at saturation (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = {"-d", "--duration"}, defaultValue = "15s", paramLabel = "TIME",
            description = "Measured window (default: ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = {"-w", "--warmup"}, defaultValue = "5s", paramLabel = "TIME",
            description = "Load before the window, not recorded (default: ${DEFAULT-VALUE}).")
    String warmup;

    @Option(names = {"-n", "--requests"}, defaultValue = "0", paramLabel = "N",
            description = "End the window after N recorded requests (0: run the whole duration).")
    long requests;

    @Option(names = {"-b", "--body"}, defaultValue = "0", paramLabel = "BYTES",
            description = "Request body; > 0 sends POST (the bench backend echoes it) (default: ${DEFAULT-VALUE}).")
    int body;

    @Option(names = "--path", defaultValue = "/", description = "Request path (default: ${DEFAULT-VALUE}).")
    String path;

    @Option(names = "--host", description = "Host header / :authority inside the tunnel (default: the CONNECT authority).")
    String host;

    @Option(names = "--timeout", defaultValue = "5s", paramLabel = "TIME",
            description = "Per-request timeout; the tunnel is reset and reopened (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--bulk", arity = "0..1", fallbackValue = "download", paramLabel = "download|echo",
            description = "One tunnel, bytes as fast as possible: 'download' (send 0x01, the bulk backend streams "
                    + "back) or 'echo' (stream to a TCP echo and read it back). Reports MiB/s.")
    String bulk;

    @Option(names = "--pid", paramLabel = "[LABEL=]PID",
            description = "Process to measure over the window (CPU seconds from /proc/PID/stat utime+stime, VmRSS); "
                    + "repeatable; 'self' is this tool.")
    List<String> pids = new ArrayList<>();

    @Option(names = "--threads", defaultValue = "2", description = "Client event loops (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--stream-window", defaultValue = "4194304", paramLabel = "BYTES",
            description = "HTTP/2 stream window the client advertises (default: ${DEFAULT-VALUE}).")
    int streamWindow;

    @Option(names = "--connection-window", defaultValue = "16777216", paramLabel = "BYTES",
            description = "HTTP/2 connection window the client advertises (default: ${DEFAULT-VALUE}).")
    int connectionWindow;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the JSON report to FILE.")
    Path out;

    public static void main(String[] args) {
        quietLogs();
        System.exit(new CommandLine(new LoadTool()).execute(args));
    }

    /** slf4j-simple at WARN unless told otherwise (must run before the first logger is made). */
    static void quietLogs() {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
    }

    @Override
    public Integer call() throws Exception {
        LoadSpec spec = spec();
        SslContext tls = clientContext(certDir);
        Report report = LoadRunner.run(spec, tls);
        String text = json ? report.toJson() : report.toText();
        System.out.println(text);
        if (out != null) {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(out, report.toJson() + "\n", StandardCharsets.UTF_8);
        }
        boolean anyOk = report.bulk() != null ? report.bulk().bytes() > 0 : report.requests() > 0;
        return anyOk ? 0 : 2;
    }

    LoadSpec spec() {
        List<ProcStat.Watched> watched = new ArrayList<>();
        for (String p : pids) {
            watched.add(ProcStat.Watched.parse(p));
        }
        LoadSpec.BulkMode mode = bulk == null ? null : LoadSpec.BulkMode.valueOf(bulk.toUpperCase(Locale.ROOT));
        return new LoadSpec(label, address(target), authority, connections, tunnels, h2c, rate, duration(warmup),
                duration(duration), requests, body, path, host, duration(timeout), mode, streamWindow, connectionWindow,
                threads, watched);
    }

    static SslContext clientContext(Path certDir) throws Exception {
        if (certDir != null) {
            return TlsMaterial.load(certDir).clientContext();
        }
        TestCa ca = TestCa.create("cluster.local");
        System.err.println("no --cert-dir: using a throwaway CA (" + ca + "); servers that verify clients will refuse it");
        return ca.issue(new SpiffeId("cluster.local", "bench", "load-tool")).material().clientContext();
    }

    /** {@code host:port} or {@code [v6]:port}. */
    static InetSocketAddress address(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0) {
            throw new CommandLine.TypeConversionException("address: " + text + " (expected: host:port)");
        }
        String h = text.substring(0, colon);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return new InetSocketAddress(h, Integer.parseInt(text.substring(colon + 1)));
    }

    /** {@code 15s}, {@code 500ms}, {@code 2m}, or plain seconds. */
    static Duration duration(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            if (t.endsWith("s")) {
                return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
            }
            if (t.endsWith("m")) {
                return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 60_000));
            }
            return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("duration: " + text + " (expected: 15s, 500ms, 2m)");
        }
    }
}
