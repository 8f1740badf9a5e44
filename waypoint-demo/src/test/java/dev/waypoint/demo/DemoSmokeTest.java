package dev.waypoint.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoSmokeTest {
    @TempDir
    Path tmp;

    @Test
    void demoMeshAnswersThroughTheWaypoint() throws Exception {
        Path manifests = Files.createDirectories(tmp.resolve("m"));
        for (String f : DemoCommand.FILES) {
            Files.copy(Path.of("../examples/demo").resolve(f), manifests.resolve(f));
        }
        try (LocalMesh mesh = LocalMesh.start(manifests, tmp, new NamespacedName("istio-system", "waypoint"),
                LocalMesh.Options.ephemeral())) {
            try (HboneTestClient c = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                    mesh.workload("demo", "curl"))) {
                HboneTestClient.Answer a = c.connect("127.10.0.10:9080", Map.of()).get(5, TimeUnit.SECONDS);
                assertThat(a.status()).as(a.body()).isEqualTo(200);
                CompletableFuture<String> got = new CompletableFuture<>();
                Channel t = a.tunnel();
                t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    final StringBuilder b = new StringBuilder();

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        b.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                        ((ByteBuf) msg).release();
                        if (b.indexOf("hello from") >= 0 && b.indexOf("\n", b.indexOf("hello from")) >= 0) {
                            got.complete(b.toString());
                        }
                    }
                });
                t.writeAndFlush(Unpooled.copiedBuffer("GET / HTTP/1.1\r\nHost: reviews\r\n\r\n", StandardCharsets.US_ASCII));
                assertThat(got.get(5, TimeUnit.SECONDS)).startsWith("HTTP/1.1 200").contains("hello from reviews-v");
            }
        }
    }
}
