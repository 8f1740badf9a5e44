package dev.waypoint.wasm;

import dev.waypoint.model.extension.RegistryCredentials;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Module bytes for a plugin's {@code url}: {@code file://} read from disk, {@code http(s)://}
 * downloaded (with a timeout) and kept in the cache directory as {@code <sha256>.wasm}; a module
 * whose {@code sha256} is given and already cached is not downloaded again; {@code oci://} pulled
 * from its registry ({@link OciPull}) and cached the same way. A digest that does not match
 * {@code sha256} is an error.
 *
 * <h2>Threading</h2>
 * Blocking I/O: runs on the config executor (inside the wasm compiler), never on an event loop.
 */
final class ModuleSource {
    private final Path cacheDir;
    private final Duration timeout;
    private HttpClient http;

    ModuleSource(Path cacheDir, Duration timeout) {
        this.cacheDir = cacheDir;
        this.timeout = timeout;
    }

    /** The bytes of {@code url}, checked against {@code sha256} (may be null). */
    byte[] fetch(String url, String sha256) throws IOException {
        return fetch(url, sha256, null);
    }

    /**
     * The bytes of {@code url}, checked against {@code sha256} (may be null); an {@code oci://}
     * pull logs in with {@code credentials} (null: anonymous).
     */
    byte[] fetch(String url, String sha256, RegistryCredentials credentials) throws IOException {
        URI uri = URI.create(url);
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        byte[] bytes;
        switch (scheme) {
            case "file" -> bytes = Files.readAllBytes(Path.of(uri));
            case "http", "https" -> {
                byte[] cachedBytes = cached(sha256);
                if (cachedBytes != null) {
                    return cachedBytes;
                }
                bytes = download(uri);
                cache(bytes);
            }
            case "oci" -> {
                byte[] cachedBytes = cached(sha256);
                if (cachedBytes != null) {
                    return cachedBytes;
                }
                bytes = new OciPull(client(), timeout, credentials).pull(url);
                cache(bytes);
            }
            default -> throw new IOException("unsupported url scheme " + scheme);
        }
        if (sha256 != null) {
            String actual = sha256(bytes);
            if (!actual.equals(sha256)) {
                throw new IOException("sha256 of " + url + " is " + actual + " (expected: " + sha256 + ")");
            }
        }
        return bytes;
    }

    /**
     * Whether {@link #fetch} would go to the network for {@code url}: an {@code http(s)://} or
     * {@code oci://} module that is not in the cache under its {@code sha256}.
     */
    boolean remote(String url, String sha256) throws IOException {
        String scheme = URI.create(url).getScheme();
        return scheme != null && !scheme.equalsIgnoreCase("file") && cached(sha256) == null;
    }

    /** The cached module of {@code sha256} (null: not given, or not cached). */
    private byte[] cached(String sha256) throws IOException {
        if (sha256 == null) {
            return null;
        }
        Path cached = cacheDir.resolve(sha256 + ".wasm");
        if (Files.isRegularFile(cached)) {
            byte[] b = Files.readAllBytes(cached);
            if (sha256(b).equals(sha256)) {
                return b;
            }
        }
        return null;
    }

    private HttpClient client() {
        if (http == null) {
            http = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NORMAL).build();
        }
        return http;
    }

    private byte[] download(URI uri) throws IOException {
        try {
            HttpResponse<byte[]> res = client().send(HttpRequest.newBuilder(uri).timeout(timeout).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (res.statusCode() != 200) {
                throw new IOException("GET " + uri + " answered " + res.statusCode() + " (expected: 200)");
            }
            return res.body();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + uri, e);
        }
    }

    private void cache(byte[] bytes) throws IOException {
        Files.createDirectories(cacheDir);
        String digest = sha256(bytes);
        Path tmp = Files.createTempFile(cacheDir, digest, ".tmp");
        Files.write(tmp, bytes);
        Files.move(tmp, cacheDir.resolve(digest + ".wasm"), StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
