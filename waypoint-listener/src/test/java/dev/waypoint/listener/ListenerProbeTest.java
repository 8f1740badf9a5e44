package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.identity.TlsMaterial;
import dev.waypoint.listener.target.TargetTableCompiler;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotSource;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.HboneTestClient;
import dev.waypoint.testing.TestCa;
import dev.waypoint.transport.EventLoops;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ListenerProbeTest {
    @Test
    void unboundTargetIsRefused() throws Exception {
        TestCa ca = TestCa.create("cluster.local");
        TlsMaterial server = ca.issue(new SpiffeId("cluster.local", "istio-system", "waypoint")).material();
        TlsMaterial client = ca.issue(new SpiffeId("cluster.local", "demo", "curl")).material();
        ConfigSnapshot snap = ConfigSnapshot.compile(0, ResourceSet.empty(new NamespacedName("istio-system", "waypoint"),
                "cluster.local"), List.of(new TargetTableCompiler()), new Diagnostics());
        EventLoopGroup g = EventLoops.newGroup(2, "probe");
        HboneListener l = new HboneListener(ListenerSettings.defaults(new InetSocketAddress("127.0.0.1", 0)), g,
                server::serverContext, SnapshotSource.of(snap), (t, loop) -> loop.newFailedFuture(new Exception("x")),
                (ch, t, p) -> { });
        try {
            InetSocketAddress a = l.start();
            try (HboneTestClient c = HboneTestClient.connect(g, a, client)) {
                HboneTestClient.Answer ans = c.connect("10.0.0.1:80", Map.of()).get(5, TimeUnit.SECONDS);
                assertThat(ans.status()).isEqualTo(400);
            }
        } finally {
            l.close();
            g.shutdownGracefully();
        }
    }
}
