package dev.waypoint.authn;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Scheduler;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.jwk.JWKSet;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.text.ParseException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keys behind every {@code jwksUri}: fetched off the event loops, cached (Caffeine), refreshed,
 * and kept when a refresh fails.
 *
 * <ul>
 *   <li>The first fetch of a URI starts when a compiled config names it ({@link #source}), so keys
 *       are usually there before the first token arrives. A request that comes earlier waits for
 *       it, up to its rule's {@code timeout} ({@link AuthnFilter}).</li>
 *   <li>A failed fetch is retried with backoff ({@link Settings#retryInitial()} doubling up to
 *       {@link Settings#retryMax()}) for {@link Settings#retryFor()}; then the entry is dropped and
 *       the next request or config starts over.</li>
 *   <li>Keys are refreshed {@link Settings#refresh()} after they were fetched (Istio's
 *       jwksResolver default: 20 minutes), on the first read after that: the old keys serve
 *       meanwhile and stay when the refresh fails.</li>
 *   <li>A rule with an issuer and neither {@code jwksUri} nor {@code jwks} gets its keys by OpenID
 *       discovery, as istiod's jwksResolver does ({@code resolveJwksURIUsingOpenID}): the issuer's
 *       {@code /.well-known/openid-configuration} names the {@code jwks_uri} ({@link #discovered}).
 *       Both fetches are one attempt: retried, refreshed and kept together.</li>
 * </ul>
 *
 * <h2>Threading</h2>
 * Reads ({@link KeySource#current()}, {@link KeySource#ready()}) are lock-free and safe on an
 * event loop. Fetches (DNS, connect, body) run on the cache's own daemon threads ({@code jwks}),
 * never on the caller's.
 *
 * <h2>Lifecycle</h2>
 * Created and closed by the server; {@link #close()} stops the threads (pending fetches fail).
 */
public final class JwksCache implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JwksCache.class);

    /**
     * @param refresh how long fetched keys are used before they are fetched again
     * @param fetchTimeout one HTTP fetch (connect and response)
     * @param retryInitial first wait after a failed fetch
     * @param retryMax longest wait between attempts
     * @param retryFor how long a URI that never answered is retried before the entry is dropped
     * @param maxBodyBytes a larger JWKS document is a failed fetch
     */
    public record Settings(Duration refresh, Duration fetchTimeout, Duration retryInitial, Duration retryMax,
                           Duration retryFor, int maxBodyBytes) {
        public Settings {
            requireNonNull(refresh, "refresh");
            requireNonNull(fetchTimeout, "fetchTimeout");
            requireNonNull(retryInitial, "retryInitial");
            requireNonNull(retryMax, "retryMax");
            requireNonNull(retryFor, "retryFor");
            if (refresh.isNegative() || refresh.isZero()) {
                throw new IllegalArgumentException("refresh: " + refresh + " (expected: > 0)");
            }
        }

        /** Refresh 20 min, fetch timeout 5 s, retries from 500 ms to 30 s for 5 min, 1 MiB documents. */
        public static Settings defaults() {
            return new Settings(Duration.ofMinutes(20), Duration.ofSeconds(5), Duration.ofMillis(500),
                    Duration.ofSeconds(30), Duration.ofMinutes(5), 1 << 20);
        }

        /** These settings with another refresh interval. */
        public Settings withRefresh(Duration r) {
            return new Settings(r, fetchTimeout, retryInitial, retryMax, retryFor, maxBodyBytes);
        }
    }

    private final Settings settings;
    private final ScheduledExecutorService executor;
    /** Built on the first fetch: most configs have no jwksUri, and the client costs a thread and its TLS setup at start. */
    private HttpClient http;
    private final Ticker ticker;
    private final AsyncLoadingCache<URI, JWKSet> cache;
    /** When each URI's keys were last fetched successfully ({@link #ticker} time). */
    private final java.util.Map<URI, Long> fetchedAt = new java.util.concurrent.ConcurrentHashMap<>();
    /** URIs with a refresh in flight. */
    private final java.util.Set<URI> refreshing = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final boolean offline;
    /** Cache keys that are OpenID discovery documents: their keys are at the {@code jwks_uri} they name. */
    private final java.util.Set<URI> discovery = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Istio's {@code openIDDiscoveryCfgURLSuffix}. */
    static final String DISCOVERY_SUFFIX = "/.well-known/openid-configuration";

    private JwksCache(Settings settings, Ticker ticker, boolean offline) {
        this.settings = settings;
        this.offline = offline;
        this.ticker = ticker;
        this.executor = Executors.newScheduledThreadPool(1, r -> {
            Thread t = new Thread(r, "jwks");
            t.setDaemon(true);
            return t;
        });
        // no refreshAfterWrite: Caffeine's read-triggered refresh did not always start after the
        // interval (seen with a test ticker, 1 run in 3); reads below start it themselves
        this.cache = Caffeine.newBuilder()
                .executor(executor)
                .scheduler(Scheduler.forScheduledExecutorService(executor))
                .ticker(ticker)
                .buildAsync((uri, exec) -> fetchWithRetries(uri));
    }

    /** A cache with its own fetch thread. */
    public static JwksCache create(Settings settings) {
        return new JwksCache(requireNonNull(settings, "settings"), Ticker.systemTicker(), false);
    }

    /**
     * A cache that never fetches: its remote keys never arrive. For checking manifests
     * ({@code waypoint validate}) without touching the network.
     */
    public static JwksCache offline() {
        return new JwksCache(Settings.defaults(), Ticker.systemTicker(), true);
    }

    /** For tests: refresh decided by {@code ticker}. */
    static JwksCache create(Settings settings, Ticker ticker) {
        return new JwksCache(settings, ticker, false);
    }

    /**
     * The keys of the OpenID provider {@code issuer} (an http or https URL): its discovery document
     * ({@code issuer} without a trailing slash, then {@value #DISCOVERY_SUFFIX}) names the
     * {@code jwks_uri} fetched after it. Never blocks.
     */
    KeySource discovered(String issuer) {
        String base = issuer.endsWith("/") ? issuer.substring(0, issuer.length() - 1) : issuer;
        URI document = URI.create(base + DISCOVERY_SUFFIX);
        discovery.add(document);
        return source(document);
    }

    /** The keys of {@code uri}; starts fetching them if nobody did yet. Never blocks. */
    KeySource source(URI uri) {
        if (offline) {
            CompletableFuture<JWKSet> never = new CompletableFuture<>();
            return new KeySource() {
                @Override
                public JWKSet current() {
                    return null;
                }

                @Override
                public CompletableFuture<JWKSet> ready() {
                    return never;
                }

                @Override
                public String describe() {
                    return uri + " (not fetched)";
                }
            };
        }
        cache.get(uri); // starts the first fetch (on the jwks thread) if there is none
        return new KeySource() {
            @Override
            public JWKSet current() {
                CompletableFuture<JWKSet> f = cache.get(uri);
                if (!f.isDone() || f.isCompletedExceptionally()) {
                    return null;
                }
                refreshIfDue(uri);
                return f.join();
            }

            @Override
            public CompletableFuture<JWKSet> ready() {
                return cache.get(uri);
            }

            @Override
            public String describe() {
                return uri.toString();
            }
        };
    }

    /**
     * A read past the refresh interval since the last successful fetch starts one refresh (the old
     * keys serve meanwhile, and stay if it fails; the next read after a failure tries again).
     */
    private void refreshIfDue(URI uri) {
        Long at = fetchedAt.get(uri);
        if (at == null || ticker.read() - at < settings.refresh().toNanos() || !refreshing.add(uri)) {
            return;
        }
        // our own fetch and put, not Caffeine's refresh(): that one drops a reload's result when it
        // judges the entry changed meanwhile, and then the new keys never served (CI, 1 run in ~10:
        // no fetch error, the old keys kept, fetchedAt moved on so no refresh was due again)
        fetchWithRetries(uri).whenComplete((keys, err) -> {
            // the refresh is over before its keys are visible (its time was taken before it
            // completed, in attempt): a reader that sees the new keys may start the next refresh
            // once it is due
            refreshing.remove(uri);
            if (err == null) {
                cache.put(uri, CompletableFuture.completedFuture(keys));
            }
        });
    }

    private CompletableFuture<JWKSet> fetchWithRetries(URI uri) {
        CompletableFuture<JWKSet> result = new CompletableFuture<>();
        attempt(uri, result, settings.retryInitial(), ticker.read() + settings.retryFor().toNanos());
        return result;
    }

    private void attempt(URI uri, CompletableFuture<JWKSet> result, Duration backoff, long giveUpAt) {
        if (executor.isShutdown()) {
            result.completeExceptionally(new IOException("jwks cache closed"));
            return;
        }
        fetch(uri).whenComplete((keys, err) -> {
            if (err == null) {
                log.debug("fetched {} keys from {}", keys.getKeys().size(), uri);
                // the time first, then the keys: a dependent that took the time after completion ran
                // after the callers' own dependents and could read a clock that had moved on since
                // (JwksCacheTest: the next refresh never came due, in fresh-clone CI runs)
                fetchedAt.put(uri, ticker.read());
                result.complete(keys);
                return;
            }
            if (ticker.read() - giveUpAt >= 0) {
                log.warn("JWKS {}: giving up for now: {}", uri, err.toString());
                result.completeExceptionally(err);
                return;
            }
            log.warn("JWKS {}: fetch failed, retrying in {} ms: {}", uri, backoff.toMillis(), err.toString());
            Duration next = backoff.multipliedBy(2).compareTo(settings.retryMax()) > 0 ? settings.retryMax()
                    : backoff.multipliedBy(2);
            try {
                executor.schedule(() -> attempt(uri, result, next, giveUpAt), backoff.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                result.completeExceptionally(err);
            }
        });
    }

    /** The HTTP client, built on first use (the default SSLContext and its trust store load then). */
    private synchronized HttpClient http() {
        if (http == null) {
            http = HttpClient.newBuilder().executor(executor).connectTimeout(settings.fetchTimeout())
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
        }
        return http;
    }

    /**
     * One HTTP GET of a JWKS document, parsed; for a discovery document, its GET and then the
     * {@code jwks_uri} it names. Runs entirely on the jwks thread.
     */
    private CompletableFuture<JWKSet> fetch(URI uri) {
        if (discovery.contains(uri)) {
            return get(uri).thenCompose(body -> fetchJwks(jwksUri(uri, body)));
        }
        return fetchJwks(uri);
    }

    private CompletableFuture<JWKSet> fetchJwks(URI uri) {
        return get(uri).thenApply(body -> {
            try {
                return JWKSet.parse(body);
            } catch (ParseException e) {
                throw new IllegalStateException("not a JWKS document: " + e.getMessage(), e);
            }
        });
    }

    /** The {@code jwks_uri} of an OpenID discovery document (an http or https URL). */
    static URI jwksUri(URI document, String body) {
        Object named;
        try {
            named = com.nimbusds.jose.util.JSONObjectUtils.parse(body).get("jwks_uri");
        } catch (ParseException e) {
            throw new IllegalStateException(document + ": not an OpenID discovery document: " + e.getMessage(), e);
        }
        if (!(named instanceof String s) || !(s.startsWith("https://") || s.startsWith("http://"))) {
            throw new IllegalStateException(document + ": jwks_uri: " + named + " (expected: an http or https URL)");
        }
        return URI.create(s);
    }

    /** One HTTP GET of a JSON document, its body. */
    private CompletableFuture<String> get(URI uri) {
        return CompletableFuture.supplyAsync(() -> HttpRequest.newBuilder(uri).timeout(settings.fetchTimeout())
                        .header("accept", "application/json").GET().build(), executor)
                .thenCompose(req -> http().sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()))
                .thenApply(res -> {
                    if (res.statusCode() != 200) {
                        throw new IllegalStateException("status " + res.statusCode() + " (expected: 200)");
                    }
                    if (res.body().length > settings.maxBodyBytes()) {
                        throw new IllegalStateException("body of " + res.body().length + " bytes (expected: at most "
                                + settings.maxBodyBytes() + ")");
                    }
                    return new String(res.body(), java.nio.charset.StandardCharsets.UTF_8);
                });
    }

    /** Executes {@code task} on the jwks thread (timeouts of waiting requests are scheduled here too). */
    Executor executor() {
        return executor;
    }

    /** Schedules {@code task} after {@code delay} on the jwks thread. */
    void schedule(Runnable task, Duration delay) {
        executor.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }

    @Override
    public String toString() {
        return "JwksCache" + cache.synchronous().asMap().keySet();
    }
}
