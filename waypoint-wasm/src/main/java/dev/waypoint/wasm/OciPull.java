package dev.waypoint.wasm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.waypoint.model.extension.RegistryCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * Pulls a Wasm module from an OCI registry with the distribution protocol (distribution-spec
 * v1.1: {@code GET /v2/<name>/manifests/<reference>}, then {@code GET /v2/<name>/blobs/<digest>}),
 * as Istio's agent does for {@code oci://} WasmPlugin urls:
 * <ul>
 *   <li>the reference is the tag or {@code @sha256:} digest of the url ({@code latest} without
 *       one); a digest reference is checked against the manifest bytes, every blob against its
 *       digest;</li>
 *   <li>the module is the layer of media type {@code application/vnd.module.wasm.content.layer.v1+wasm}
 *       (the Wasm OCI artifact), or, in Istio's "compat" image format, the {@code plugin.wasm}
 *       file of the image's one (gzipped) tar layer;</li>
 *   <li>a {@code 401} with {@code WWW-Authenticate: Bearer realm=..,service=..,scope=..} is answered
 *       with a token from that realm (with {@code Authorization: Basic} when the plugin's
 *       {@code imagePullSecret} has a login for this registry, else anonymous), then the request
 *       is made again with it; a {@code Basic} challenge is answered with that login (an error
 *       without one); a second {@code 401} is an error. Logins never reach a log or a message;</li>
 *   <li>https, except for loopback registries (Docker's default insecure range).</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * Blocking I/O on the config executor, never an event loop.
 */
final class OciPull {
    static final String WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm";
    private static final String ACCEPT = "application/vnd.oci.image.manifest.v1+json, "
            + "application/vnd.docker.distribution.manifest.v2+json";
    private static final Pattern PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final Duration timeout;
    private final RegistryCredentials credentials;
    private RegistryCredentials.Login login;
    private String authorization;

    /** @param credentials the plugin's {@code imagePullSecret} logins; null: anonymous */
    OciPull(HttpClient http, Duration timeout, RegistryCredentials credentials) {
        this.http = http;
        this.timeout = timeout;
        this.credentials = credentials;
    }

    /** The module bytes of {@code url} ({@code oci://host[:port]/name[:tag|@sha256:hex]}). */
    byte[] pull(String url) throws IOException {
        String rest = url.substring("oci://".length());
        int slash = rest.indexOf('/');
        if (slash <= 0 || slash == rest.length() - 1) {
            throw new IOException("oci url " + url + " (expected: oci://registry/name[:tag|@digest])");
        }
        String host = rest.substring(0, slash);
        String name = rest.substring(slash + 1);
        login = credentials == null ? null : credentials.forRegistry(host);
        String reference = "latest";
        int at = name.indexOf('@');
        if (at >= 0) {
            reference = name.substring(at + 1);
            name = name.substring(0, at);
        } else {
            int colon = name.lastIndexOf(':');
            if (colon > name.lastIndexOf('/')) {
                reference = name.substring(colon + 1);
                name = name.substring(0, colon);
            }
        }
        String base = (loopback(host) ? "http://" : "https://") + host + "/v2/" + name;
        byte[] manifest = get(base + "/manifests/" + reference, ACCEPT);
        if (reference.startsWith("sha256:") && !("sha256:" + ModuleSource.sha256(manifest)).equals(reference)) {
            throw new IOException("manifest of " + url + " does not match its digest " + reference);
        }
        JsonNode layers = JSON.readTree(manifest).path("layers");
        if (!layers.isArray() || layers.isEmpty()) {
            throw new IOException("manifest of " + url + " has no layers");
        }
        for (JsonNode layer : layers) {
            if (WASM_LAYER.equals(layer.path("mediaType").asText())) {
                return blob(base, layer.path("digest").asText());
            }
        }
        if (layers.size() == 1) {
            String type = layers.get(0).path("mediaType").asText();
            byte[] tar = blob(base, layers.get(0).path("digest").asText());
            byte[] wasm = pluginWasm(type.contains("gzip") ? new GZIPInputStream(new ByteArrayInputStream(tar))
                    : new ByteArrayInputStream(tar));
            if (wasm != null) {
                return wasm;
            }
        }
        throw new IOException("manifest of " + url + " has no " + WASM_LAYER + " layer and no single image layer "
                + "with plugin.wasm");
    }

    private byte[] blob(String base, String digest) throws IOException {
        if (!digest.matches("sha256:[0-9a-f]{64}")) {
            throw new IOException("layer digest " + digest + " (expected: sha256:<64 hex digits>)");
        }
        byte[] b = get(base + "/blobs/" + digest, "*/*");
        if (!("sha256:" + ModuleSource.sha256(b)).equals(digest)) {
            throw new IOException("blob " + digest + " does not match its digest");
        }
        return b;
    }

    /** GET, answering one Bearer challenge with a token, or one Basic challenge with the login. */
    private byte[] get(String uri, String accept) throws IOException {
        HttpResponse<byte[]> res = send(uri, accept);
        if (res.statusCode() == 401) {
            String challenge = res.headers().firstValue("www-authenticate").orElse("");
            if (challenge.regionMatches(true, 0, "Bearer ", 0, 7)) {
                authorization = "Bearer " + token(challenge);
            } else if (challenge.regionMatches(true, 0, "Basic", 0, 5) && login != null) {
                authorization = basic();
            } else if (challenge.regionMatches(true, 0, "Basic", 0, 5)) {
                throw new IOException("GET " + uri + " answered 401 (" + challenge + "): the registry asks for a login "
                        + "(imagePullSecret has none for this registry)");
            } else {
                throw new IOException("GET " + uri + " answered 401 (" + challenge + ")");
            }
            res = send(uri, accept);
            if (res.statusCode() == 401) {
                throw new IOException("GET " + uri + " answered 401 with " + (login == null ? "an anonymous token"
                        : "the imagePullSecret's login") + " (expected: 200)");
            }
        }
        if (res.statusCode() != 200) {
            throw new IOException("GET " + uri + " answered " + res.statusCode() + " (expected: 200)");
        }
        return res.body();
    }

    private String token(String challenge) throws IOException {
        Map<String, String> p = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(challenge);
        while (m.find()) {
            p.put(m.group(1).toLowerCase(java.util.Locale.ROOT), m.group(2));
        }
        String realm = p.remove("realm");
        if (realm == null) {
            throw new IOException("a Bearer challenge without realm: " + challenge);
        }
        StringBuilder q = new StringBuilder(realm);
        char sep = realm.contains("?") ? '&' : '?';
        for (Map.Entry<String, String> e : p.entrySet()) {
            q.append(sep).append(e.getKey()).append('=').append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
            sep = '&';
        }
        authorization = login == null ? null : basic();
        HttpResponse<byte[]> res = send(q.toString(), "application/json");
        authorization = null;
        if (res.statusCode() != 200) {
            throw new IOException("token " + realm + " answered " + res.statusCode() + " (expected: 200" + (login == null
                    ? "; anonymous: imagePullSecret has no login for this registry" : "; with the imagePullSecret's login")
                    + ")");
        }
        JsonNode t = JSON.readTree(res.body());
        String v = t.hasNonNull("token") ? t.get("token").asText() : t.path("access_token").asText(null);
        if (v == null || v.isEmpty()) {
            throw new IOException("token " + realm + " answered no token");
        }
        return v;
    }

    private HttpResponse<byte[]> send(String uri, String accept) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri)).timeout(timeout).header("Accept", accept).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + uri, e);
        }
    }

    private String basic() {
        return "Basic " + java.util.Base64.getEncoder().encodeToString(
                (login.username() + ":" + login.password()).getBytes(StandardCharsets.UTF_8));
    }

    /** {@code plugin.wasm} from a tar stream (ustar headers), or null. */
    static byte[] pluginWasm(InputStream in) throws IOException {
        try (in) {
            byte[] header = new byte[512];
            while (in.readNBytes(header, 0, 512) == 512) {
                int end = 0;
                while (end < 100 && header[end] != 0) {
                    end++;
                }
                if (end == 0) {
                    return null; // the end-of-archive blocks
                }
                String file = new String(header, 0, end, StandardCharsets.UTF_8);
                String octal = new String(header, 124, 12, StandardCharsets.US_ASCII).replace("\0", "").trim();
                long size = octal.isEmpty() ? 0 : Long.parseLong(octal, 8);
                if (file.equals("plugin.wasm") || file.endsWith("/plugin.wasm")) {
                    return in.readNBytes((int) size);
                }
                in.skipNBytes((size + 511) / 512 * 512);
            }
            return null;
        }
    }

    private static boolean loopback(String host) {
        String h = host.startsWith("[") ? host.substring(1, host.indexOf(']')) : host.replaceFirst(":\\d+$", "");
        if (h.equals("localhost")) {
            return true;
        }
        if (!h.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            return false; // a name: no lookup here
        }
        try {
            return InetAddress.getByName(h).isLoopbackAddress();
        } catch (IOException e) {
            return false;
        }
    }
}
