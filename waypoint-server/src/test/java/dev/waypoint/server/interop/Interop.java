package dev.waypoint.server.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * What the interop tests share: finding the third-party programs (Debian packages that
 * {@code .ci/run} installs), the skip-or-fail policy when one is missing, the helper scripts, free
 * loopback ports and JSON lines.
 *
 * <p><b>Missing programs.</b> Outside CI a missing program skips the test (a developer machine
 * may not have it); with {@code CI} set (to anything but {@code false}/{@code 0}) it fails the
 * test, because CI installs them and a silent skip would hide a broken install.
 */
final class Interop {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Debian's python, where python3-h2 lives (not a pyenv or venv python). */
    static final String PYTHON = "/usr/bin/python3";

    private Interop() {}

    static boolean inCi() {
        String ci = System.getenv("CI");
        return ci != null && !ci.isBlank() && !ci.equalsIgnoreCase("false") && !ci.equals("0");
    }

    /** Skips the test (outside CI) or fails it (in CI) because {@code what} is missing. */
    static void missing(String what) {
        String msg = what + " is not installed (Debian: see .ci/run)";
        if (inCi()) {
            Assertions.fail(msg + "; CI is set, so the interop test fails instead of skipping");
        }
        Assumptions.abort(msg + "; skipping (set CI=true to make this a failure)");
    }

    /**
     * The absolute path of {@code program}: the first executable among {@code preferred}, else
     * on {@code PATH} (plus {@code /usr/sbin}, where Debian puts nghttpx); {@link #missing} if none.
     */
    static Path program(String program, String... preferred) {
        List<Path> candidates = new ArrayList<>();
        for (String p : preferred) {
            candidates.add(Path.of(p));
        }
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty()) {
                candidates.add(Path.of(dir, program));
            }
        }
        for (Path c : candidates) {
            if (Files.isRegularFile(c) && Files.isExecutable(c)) {
                return c.toAbsolutePath();
            }
        }
        missing(program);
        throw new AssertionError("unreachable");
    }

    /** {@code /usr/bin/python3} with the {@code h2} module (Debian package python3-h2). */
    static Path pythonWithH2() {
        Path python = Path.of(PYTHON);
        if (!Files.isExecutable(python)) {
            missing(PYTHON);
        }
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import h2.connection, h2.config; import ssl; print(h2.__version__)")
                    .redirectErrorStream(true).start();
            boolean done = p.waitFor(30, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly();
                Assertions.fail(PYTHON + " -c 'import h2' did not finish within 30 s");
            }
            if (p.exitValue() != 0) {
                missing("python3-h2 (module h2 for " + PYTHON + ": " + new String(p.getInputStream().readAllBytes()).trim() + ")");
            }
        } catch (IOException e) {
            missing(PYTHON + " (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        return python;
    }

    /** Node.js 18+ (for {@code node:http2} with {@code getPeerCertificate}). */
    static Path node() {
        return program("node", "/usr/bin/node");
    }

    /** A helper script shipped in {@code src/test/resources/interop/}. */
    static Path script(String name) {
        URL url = Interop.class.getResource("/interop/" + name);
        if (url == null) {
            throw new IllegalStateException("test resource interop/" + name + " not on the classpath");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A port free on {@code host} right now (bind port 0, close). For programs that cannot report
     * the port they picked (nghttpx, tinyproxy); the window between close and their bind is tiny.
     */
    static int freePort(String host) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until {@code host:port} accepts TCP connections (a program finished starting). */
    static void awaitListening(String host, int port, Duration timeout, ExternalProcess owner) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (owner != null && !owner.isAlive()) {
                throw new AssertionError(owner + " exited before listening on " + host + ":" + port + "\n" + owner.describe());
            }
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new InetSocketAddress(host, port), 500);
                return;
            } catch (IOException e) {
                last = e;
                Thread.sleep(50);
            }
        }
        throw new AssertionError(host + ":" + port + " not listening within " + timeout + ": " + last
                + (owner == null ? "" : "\n" + owner.describe()));
    }

    /** Parses every stdout line that is a JSON object. */
    static List<JsonNode> jsonLines(List<String> lines) {
        List<JsonNode> out = new ArrayList<>();
        for (String l : lines) {
            if (l.startsWith("{")) {
                try {
                    out.add(JSON.readTree(l));
                } catch (IOException e) {
                    throw new AssertionError("not JSON: " + l, e);
                }
            }
        }
        return out;
    }

    /** The JSON lines whose {@code event} is {@code event}. */
    static List<JsonNode> events(List<String> lines, String event) {
        return jsonLines(lines).stream().filter(n -> event.equals(n.path("event").asText())).toList();
    }

    /** Waits until {@code p} printed at least {@code count} {@code event} lines; returns them all. */
    static List<JsonNode> awaitEvents(ExternalProcess p, String event, int count, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<JsonNode> got = events(p.lines(), event);
            if (got.size() >= count) {
                return got;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("expected " + count + " \"" + event + "\" events from " + p + " within " + timeout
                        + ", got " + got.size() + "\n" + p.describe());
            }
            Thread.sleep(20);
        }
    }
}
