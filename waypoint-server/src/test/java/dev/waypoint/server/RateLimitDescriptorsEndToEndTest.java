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
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-route local rate limit of Istio's "Enabling Rate Limits using Envoy" (an HTTP_ROUTE
 * patch with descriptors) through the real server ({@code e2e/ratelimit-descriptors-mesh.yaml}):
 * {@code x-user: alice} has its own bucket of 2, other users share the filter's bucket of 100.
 * Loopback range 127.240.x.x.
 */
class RateLimitDescriptorsEndToEndTest {
    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        try (InputStream in = RateLimitDescriptorsEndToEndTest.class.getResourceAsStream("/e2e/ratelimit-descriptors-mesh.yaml")) {
            Files.write(configDir.resolve("mesh.yaml"), in.readAllBytes());
        }
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    @Test
    void aDescriptorMatchedByHeaderValueHasItsOwnBucketOtherValuesTheFilters() throws Exception {
        HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload("apps", "client"));
        try {
            HboneTestClient.Answer a = client.connect("127.240.0.1:9080", Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            Channel tunnel = a.tunnel();
            BlockingQueue<FullHttpResponse> responses = Tunnels.http1(tunnel);
            List<String> answers = new ArrayList<>();
            for (String user : List.of("alice", "bob", "alice", "bob", "alice", "bob", "alice", "bob")) {
                FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/productpage");
                r.headers().set(HttpHeaderNames.HOST, "productpage.apps:9080");
                r.headers().set("x-user", user);
                tunnel.writeAndFlush(r);
                FullHttpResponse res = Tunnels.take(responses);
                try {
                    answers.add(user + " " + res.status().code() + " " + res.headers().get("x-local-rate-limit") + " "
                            + (res.status().code() == 429 ? res.content().toString(StandardCharsets.UTF_8).trim()
                                    : res.headers().get("x-echo-server")));
                } finally {
                    res.release();
                }
            }
            assertThat(answers).containsExactly(
                    "alice 200 null productpage-a", "bob 200 null productpage-a",
                    "alice 200 null productpage-a", "bob 200 null productpage-a",
                    "alice 429 true local_rate_limited", "bob 200 null productpage-a",
                    "alice 429 true local_rate_limited", "bob 200 null productpage-a");
            tunnel.close();
        } finally {
            client.close();
        }
    }
}
