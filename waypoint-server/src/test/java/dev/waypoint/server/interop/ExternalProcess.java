package dev.waypoint.server.interop;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A third-party program run by an interop test: stdout collected line by line (for JSON-line
 * protocols), stderr written to a file (read on failure), stdin kept open so helpers that exit on
 * EOF never outlive the JVM. {@link #close()} ends the process and every descendant (SIGTERM, then
 * SIGKILL after a grace period), so nothing is left listening between tests.
 */
final class ExternalProcess implements AutoCloseable {
    /** Still running; a JVM that dies without reaching @AfterAll takes them along. */
    private static final Set<ExternalProcess> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> List.copyOf(LIVE).forEach(p -> {
            p.process.descendants().forEach(ProcessHandle::destroyForcibly);
            p.process.destroyForcibly();
        }), "interop-process-reaper"));
    }

    private final String name;
    private final Process process;
    private final Path stderr;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private ExternalProcess(String name, Process process, Path stderr) {
        this.name = name;
        this.process = process;
        this.stderr = stderr;
        this.reader = new Thread(this::pump, "interop-" + name + "-stdout");
        this.reader.setDaemon(true);
        this.reader.start();
        LIVE.add(this);
    }

    /** Starts {@code command}; stderr goes to {@code logDir/<name>.stderr}. */
    static ExternalProcess start(String name, List<String> command, Path logDir) throws IOException {
        Files.createDirectories(logDir);
        Path err = logDir.resolve(name + ".stderr");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(logDir.toFile())
                .redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.PIPE);
        pb.environment().put("LC_ALL", "C.UTF-8");
        return new ExternalProcess(name, pb.start(), err);
    }

    private void pump() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (lines) {
                    lines.add(line);
                    lines.notifyAll();
                }
            }
        } catch (IOException ignored) {
            // the process was destroyed
        }
    }

    /** Stdout lines so far. */
    List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** Waits for a stdout line matching {@code p}; fails with the process's output on timeout or exit. */
    String awaitLine(Predicate<String> p, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int checked = 0;
        synchronized (lines) {
            while (true) {
                for (; checked < lines.size(); checked++) {
                    if (p.test(lines.get(checked))) {
                        return lines.get(checked);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || (!process.isAlive() && !reader.isAlive())) {
                    throw new AssertionError(name + ": expected output not seen within " + timeout
                            + (process.isAlive() ? "" : " (exited with " + process.exitValue() + ")") + "\n" + describe());
                }
                lines.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 100)));
            }
        }
    }

    /** Waits for the process to exit by itself; kills it and fails on timeout. Returns the exit code. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            close();
            throw new AssertionError(name + ": did not finish within " + timeout + "\n" + describe());
        }
        reader.join(TimeUnit.SECONDS.toMillis(5));
        return process.exitValue();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Its stderr so far. */
    String stderr() {
        try {
            return Files.exists(stderr) ? Files.readString(stderr, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + stderr + ": " + e + ")";
        }
    }

    /** Stdout and stderr, for assertion messages. */
    String describe() {
        return "--- " + name + " stdout ---\n" + String.join("\n", lines()) + "\n--- " + name + " stderr ---\n" + stderr();
    }

    @Override
    public void close() {
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        children.forEach(ProcessHandle::destroy);
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        LIVE.remove(this);
    }

    @Override
    public String toString() {
        return name + "(pid " + process.pid() + ")";
    }
}
