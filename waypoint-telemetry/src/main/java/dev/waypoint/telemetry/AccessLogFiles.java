package dev.waypoint.telemetry;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The access-log writers, one per file, opened on first use and kept open for the life of the
 * server (a generation that switches files back and forth reuses them). {@code /dev/stdout} and
 * {@code -} are standard output, {@code /dev/stderr} standard error. Opening happens while a
 * snapshot compiles, on the config thread, never on an event loop.
 */
public final class AccessLogFiles implements AutoCloseable {
    private final Map<String, AccessLog> open = new ConcurrentHashMap<>();
    private final AtomicLong dropped = new AtomicLong();

    /** The writer for {@code path}, opened (append) if it is not yet. */
    AccessLog open(String path) throws IOException {
        AccessLog log = open.get(path);
        if (log != null) {
            return log;
        }
        synchronized (this) {
            log = open.get(path);
            if (log == null) {
                log = new AccessLog(stream(path), dropped);
                open.put(path, log);
            }
            return log;
        }
    }

    private static OutputStream stream(String path) throws IOException {
        return switch (path) {
            case "-", "/dev/stdout" -> System.out;
            case "/dev/stderr" -> System.err;
            default -> new BufferedOutputStream(Files.newOutputStream(Path.of(path), StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND));
        };
    }

    /** Lines dropped by every writer because it fell behind. */
    public long dropped() {
        return dropped.get();
    }

    @Override
    public void close() throws InterruptedException {
        for (AccessLog log : open.values()) {
            log.close();
        }
    }
}
