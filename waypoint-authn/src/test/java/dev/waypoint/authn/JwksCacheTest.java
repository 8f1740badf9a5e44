package dev.waypoint.authn;

import static dev.waypoint.authn.TestJwt.claims;
import static dev.waypoint.authn.TestJwt.rule;
import static dev.waypoint.authn.TestJwt.sign;
import static dev.waypoint.authn.TestRequests.B;
import static dev.waypoint.authn.TestRequests.ra;
import static dev.waypoint.authn.TestRequests.request;
import static dev.waypoint.authn.TestRequests.service;
import static dev.waypoint.authn.TestRequests.snapshot;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.sun.net.httpserver.HttpServer;
import dev.waypoint.authn.TestJwt.Headers;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.RequestContext;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link JwksCache} against a real HTTP server (the JDK's): keys fetched off the caller's thread,
 * requests that wait for them and give up at their rule's timeout, a server that is down, one
 * that rotates its keys, one that starts failing (the last good keys stay).
 */
class JwksCacheTest {
    static final String ISS = "https://issuer.example";

    HttpServer server;
    final AtomicReference<String> body = new AtomicReference<>();
    final AtomicInteger status = new AtomicInteger(200);
    /** The JWKS endpoint answers only once this is open: a slow endpoint without a stopwatch. */
    volatile CountDownLatch gate = new CountDownLatch(0);
    final AtomicInteger hits = new AtomicInteger();
    final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    JwksCache cache;

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        server.createContext("/jwks", ex -> {
            hits.incrementAndGet();
            try {
                gate.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] b = body.get().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status.get(), b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        body.set(keys(TestJwt.RSA.toPublicJWK()));
        cache = JwksCache.create(new JwksCache.Settings(Duration.ofMinutes(20), Duration.ofSeconds(2), Duration.ofMillis(50),
                Duration.ofMillis(200), Duration.ofMinutes(5), 1 << 20), nanos::get);
    }

    @AfterEach
    void stop() {
        gate.countDown();
        cache.close();
        server.stop(0);
    }

    static String keys(JWK... keys) {
        return new JWKSet(List.of(keys)).toString();
    }

    String uri() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/jwks";
    }

    ConfigSnapshot snapshotWithTimeout(Duration timeout) {
        return snapshot(cache, ra("ra", List.of(service("b")), TestJwt.withJwksUri(rule(ISS, null), uri(), timeout)));
    }

    static String rsaToken() {
        return sign(JWSAlgorithm.RS256, claims(ISS, "alice").build());
    }

    /** Runs the filter as the exchange handler would: a retry asks again once its stage completed. */
    static FilterResult run(AuthnFilter f, RequestContext r) throws Exception {
        FilterResult res = f.onRequest(r);
        while (res instanceof FilterResult.Retry retry) {
            retry.ready().toCompletableFuture().handle((x, e) -> null).get(10, TimeUnit.SECONDS);
            res = f.onRequest(r);
        }
        return res;
    }

    @Test
    void keysAreFetchedWhenTheConfigNamesThem() throws Exception {
        ConfigSnapshot s = snapshotWithTimeout(Duration.ofSeconds(5));
        await().atMost(Duration.ofSeconds(20)).until(() -> hits.get() == 1);
        AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);
        RequestContext r = request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()));
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            RequestContext probe = request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()));
            return f.onRequest(probe) == FilterResult.CONTINUE;
        });
        assertThat(run(f, r)).isSameAs(FilterResult.CONTINUE);
        assertThat(r.get(JwtAuthn.KEY).principal()).isEqualTo(ISS + "/alice");
        assertThat(hits.get()).as("one fetch serves every request").isEqualTo(1);
    }

    @Test
    void aSlowEndpointMakesTheRequestWaitThenItPasses() throws Exception {
        gate = new CountDownLatch(1);
        ConfigSnapshot s = snapshotWithTimeout(Duration.ofSeconds(20));
        AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);
        RequestContext r = request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()));

        FilterResult first = f.onRequest(r);
        assertThat(first).isInstanceOf(FilterResult.Retry.class);
        CompletableFuture<?> ready = ((FilterResult.Retry) first).ready().toCompletableFuture();
        // had onRequest waited for the fetch, the endpoint (closed until now) would have timed out
        assertThat(ready).as("never blocks the caller").isNotDone();

        gate.countDown();
        ready.handle((x, e) -> null).get(5, TimeUnit.SECONDS);
        assertThat(f.onRequest(r)).isSameAs(FilterResult.CONTINUE);
        assertThat(r.get(JwtAuthn.KEY)).isNotNull();
    }

    @Test
    void anEndpointSlowerThanTheTimeoutGives401AtTheTimeout() throws Exception {
        gate = new CountDownLatch(1); // never opens during the test
        ConfigSnapshot s = snapshotWithTimeout(Duration.ofMillis(300));
        AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);
        RequestContext r = request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()));

        long t0 = System.nanoTime();
        FilterResult res = run(f, r);
        Duration took = Duration.ofNanos(System.nanoTime() - t0);

        assertThat(((FilterResult.Reply) res).rejection().message()).isEqualTo("Jwks remote fetch is failed");
        assertThat(((FilterResult.Reply) res).rejection().reason().status()).isEqualTo(401);
        // not before the timeout; and well before the endpoint's own 30 s
        assertThat(took).isBetween(Duration.ofMillis(250), Duration.ofSeconds(15));
    }

    @Test
    void anEndpointThatIsDownGives401AtTheTimeoutAndIsRetriedUntilItIsUp() throws Exception {
        int port = server.getAddress().getPort();
        server.stop(0); // connection refused from now on
        ConfigSnapshot s = snapshotWithTimeout(Duration.ofMillis(300));
        AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);

        FilterResult res = run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken())));
        assertThat(((FilterResult.Reply) res).rejection().message()).isEqualTo("Jwks remote fetch is failed");

        // the same port comes back: the pending fetch's retries find it
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/jwks", ex -> {
            byte[] b = body.get().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        await().atMost(Duration.ofSeconds(20)).until(() ->
                run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()))) == FilterResult.CONTINUE);
    }

    @Test
    void rotatedKeysAreUsedAfterTheRefreshAndTheLastGoodKeysStayWhenAFetchFails() throws Exception {
        ConfigSnapshot s = snapshotWithTimeout(Duration.ofSeconds(5));
        AuthnFilter f = new AuthnFilter(Clock.systemUTC(), cache);
        assertThat(run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()))))
                .isSameAs(FilterResult.CONTINUE);
        String ecToken = sign(JWSAlgorithm.ES256, claims(ISS, "bob").build());
        assertThat(run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + ecToken))))
                .as("not in the JWKS yet").isNotSameAs(FilterResult.CONTINUE);

        // the issuer rotates to the EC key; 21 minutes later a read starts the refresh
        body.set(keys(TestJwt.EC.toPublicJWK()));
        nanos.addAndGet(Duration.ofMinutes(21).toNanos());
        await().atMost(Duration.ofSeconds(20)).until(() ->
                run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + ecToken))) == FilterResult.CONTINUE);
        assertThat(run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + rsaToken()))))
                .as("the old key is gone").isNotSameAs(FilterResult.CONTINUE);

        // then the endpoint breaks: refreshes fail, the EC keys keep serving
        status.set(500);
        int before = hits.get();
        nanos.addAndGet(Duration.ofMinutes(21).toNanos());
        run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + ecToken))); // starts the refresh
        await().atMost(Duration.ofSeconds(20)).until(() -> hits.get() > before + 1); // failed, retried
        assertThat(run(f, request(s, B, "/", Headers.of("authorization", "Bearer " + ecToken)))).isSameAs(FilterResult.CONTINUE);
    }

    @Test
    void fetchesNeverRunOnTheCallersThread() throws Exception {
        gate = new CountDownLatch(1);
        KeySource src = cache.source(java.net.URI.create(uri()));
        assertThat(src.current()).isNull();
        CompletableFuture<JWKSet> ready = src.ready();
        assertThat(ready).as("the fetch waits for the endpoint, the caller does not").isNotDone();
        gate.countDown();
        assertThat(ready.get(5, TimeUnit.SECONDS).getKeys()).hasSize(1);
        assertThat(src.current()).isNotNull();
    }
}
