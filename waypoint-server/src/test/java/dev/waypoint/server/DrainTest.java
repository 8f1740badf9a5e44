package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM with requests in flight: they finish, idle tunnels end at once, nothing new is accepted. */
class DrainTest {
    @TempDir
    Path tmp;

    @Test
    void drainFinishesInFlightRequestsAndRefusesNewConnections() throws Exception {
        Path config = Files.createDirectories(tmp.resolve("m"));
        try (InputStream in = DrainTest.class.getResourceAsStream("/e2e/drain-mesh.yaml")) {
            Files.copy(in, config.resolve("mesh.yaml"));
        }
        try (TestMesh mesh = TestMesh.start(config, tmp, new NamespacedName("istio-system", "waypoint"),
                TestMesh.Options.ephemeral());
             HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                     mesh.workload("apps", "client"))) {
            // an idle keep-alive tunnel, and one with a request half sent
            Channel idle = client.connect("127.21.0.1:80", Map.of()).get(5, TimeUnit.SECONDS).tunnel();
            BlockingQueue<FullHttpResponse> idleQ = Tunnels.http1(idle);
            io.netty.handler.codec.http.FullHttpRequest warm = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/warm");
            warm.headers().set(io.netty.handler.codec.http.HttpHeaderNames.HOST, "web.apps");
            idle.writeAndFlush(warm);
            Tunnels.take(idleQ).release();

            Channel busy = client.connect("127.21.0.1:80", Map.of()).get(5, TimeUnit.SECONDS).tunnel();
            BlockingQueue<FullHttpResponse> busyQ = Tunnels.http1(busy);
            HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/upload");
            HttpUtil.setTransferEncodingChunked(post, true);
            post.headers().set(io.netty.handler.codec.http.HttpHeaderNames.HOST, "web.apps");
            busy.write(post);
            busy.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer("first half;", StandardCharsets.UTF_8)));
            Thread.sleep(200); // the request is in flight at the waypoint

            long t0 = System.nanoTime();
            CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> mesh.waypoint().drain());
            // the idle tunnel is ended by the waypoint
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> !idle.isActive());
            assertThat(mesh.waypoint().isReady()).isFalse();
            // the in-flight request still completes
            busy.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("second half", StandardCharsets.UTF_8)));
            FullHttpResponse r = Tunnels.take(busyQ);
            assertThat(r.status().code()).isEqualTo(200);
            assertThat(r.content().toString(StandardCharsets.UTF_8)).isEqualTo("first half;second half");
            r.release();
            // and then the waypoint ends that tunnel too
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> !busy.isActive());
            drained.get(15, TimeUnit.SECONDS);
            // well before the 20 s drain timeout: nothing was left waiting
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).isLessThan(10);
            assertThatThrownBy(() -> HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                    mesh.workload("apps", "client")).close()).isNotNull();
        }
    }
}
