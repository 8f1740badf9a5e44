package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Istio's default retry policy on the default route (no HTTPRoute, no mesh config): two
 * endpoints behind Service {@code web}, one dies in the middle of a load and every connection to
 * it is cut. New requests that pick the dead endpoint fail to connect (its ztunnel answers the
 * CONNECT 503) and are retried on the other one ({@code connect-failure}, {@code previous_hosts});
 * only requests in flight on a cut connection may fail ({@code reset} is not in Istio's
 * {@code retry_on}), and those get Envoy's 503. Loopback range 127.100.x.x.
 */
class RetryEndToEndTest {
    private static final int CLIENTS = 4;
    private static final int REQUESTS = 60;

    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = RetryEndToEndTest.class.getResourceAsStream("/e2e/retry-mesh.yaml")) {
            Files.writeString(configDir.resolve("mesh.yaml"), new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    /** What one client saw after the kill began: statuses, answering pods and bodies, in order. */
    record Seen(List<Integer> statuses, List<String> servers, List<String> bodies) {}

    @Test
    void whenOneOfTwoEndpointsDiesWithEveryConnectionCutClientsBarelyNotice() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        CountDownLatch warm = new CountDownLatch(CLIENTS);
        AtomicBoolean killing = new AtomicBoolean();
        try {
            List<Future<Seen>> clients = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                clients.add(pool.submit(() -> load(warm, killing)));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!warm.await(50, TimeUnit.MILLISECONDS)) {
                for (Future<Seen> f : clients) {
                    if (f.isDone()) {
                        f.get(); // a client that gave up early: its failure is the test's
                    }
                }
                assertThat(System.nanoTime()).as("every client got answers from both pods first").isLessThan(deadline);
            }
            killing.set(true); // from here on a request may be in flight on a connection being cut
            mesh.backend("127.100.1.1", 8080).kill();
            int failed = 0;
            for (Future<Seen> f : clients) {
                Seen s = f.get(60, TimeUnit.SECONDS);
                for (int status : s.statuses()) {
                    if (status != 200) {
                        failed++;
                        // a request cut mid-flight: Envoy's answer to a reset before the response
                        assertThat(status).as("status of a failed request").isEqualTo(503);
                    }
                }
                // once the cut is over every request is answered, by the survivor
                int n = s.statuses().size();
                assertThat(s.statuses().subList(n - REQUESTS + 5, n)).containsOnly(200);
                assertThat(s.servers().subList(n - REQUESTS + 5, n)).containsOnly("web-2");
                // Istio's waypoints do not send x-envoy-attempt-count upstream
                assertThat(s.bodies()).noneMatch(b -> b.contains("x-envoy-attempt-count"));
            }
            // at most the requests in flight on a connection while it was cut; never the later ones
            System.out.println("RetryEndToEndTest: " + failed + " of " + CLIENTS * REQUESTS + " requests failed around the kill");
            assertThat(failed).as("failed requests").isLessThanOrEqualTo(2 * CLIENTS);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Loads the Service until the kill begins (counting down {@code warm} once both pods answered), then REQUESTS more. */
    private static Seen load(CountDownLatch warm, AtomicBoolean killing) throws Exception {
        HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(), mesh.workload("apps", "client"));
        try {
            HboneTestClient.Answer a = client.connect("127.100.0.1:80", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            Channel tunnel = a.tunnel();
            BlockingQueue<FullHttpResponse> responses = Tunnels.http1(tunnel);
            Set<String> before = new HashSet<>();
            Seen seen = new Seen(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
            boolean counted = false;
            for (int i = 0, after = 0; after < REQUESTS; i++) {
                boolean cutMayHappen = killing.get();
                FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/items/" + i);
                r.headers().set(HttpHeaderNames.HOST, "web.apps");
                tunnel.writeAndFlush(r);
                FullHttpResponse res = Tunnels.take(responses);
                try {
                    int status = res.status().code();
                    String server = res.headers().get("x-echo-server");
                    if (cutMayHappen || killing.get()) {
                        seen.statuses().add(status);
                        seen.servers().add(server);
                        seen.bodies().add(res.content().toString(StandardCharsets.UTF_8));
                        after += cutMayHappen ? 1 : 0;
                    } else {
                        assertThat(status).as("before the kill: %s", res.content().toString(StandardCharsets.UTF_8)).isEqualTo(200);
                        before.add(server);
                        if (!counted && before.size() == 2) {
                            counted = true;
                            warm.countDown();
                        }
                        Thread.sleep(2);
                    }
                } finally {
                    res.release();
                }
            }
            tunnel.close();
            return seen;
        } finally {
            client.close();
        }
    }
}
