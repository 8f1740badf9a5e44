package dev.waypoint.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.testing.HboneTestClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A consumer TCPRoute (GEP-1294) through the whole waypoint: the TCPRoute in namespace
 * {@code apps} on Service {@code shop/db} sends the callers of {@code apps} to {@code shop/db-v2};
 * callers from any other namespace keep the default routing to {@code shop/db}'s pod; a TCPRoute
 * whose parent is ServiceEntry {@code shop/db-ext} sends its connections to {@code shop/db-v2}. Loopback
 * range 127.210.10.x-12.x (this engineer's 127.210.0.0/16).
 */
class ConsumerL4RouteEndToEndTest {
    static final String MESH = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: istio-system}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: apps, labels: {istio.io/dataplane-mode: ambient}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: web, labels: {istio.io/dataplane-mode: ambient}}
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
              labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: istio-system}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: waypoint, namespace: istio-system}
            spec:
              gatewayClassName: istio-waypoint
              listeners:
              - {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: shop}
            spec:
              clusterIP: 127.210.10.1
              selector: {app: db}
              ports:
              - {name: tcp, port: 9000, targetPort: 9000}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: db-v2, namespace: shop}
            spec:
              clusterIP: 127.210.10.2
              selector: {app: db-v2}
              ports:
              - {name: tcp, port: 9000, targetPort: 9000}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: db-1, namespace: shop, labels: {app: db}}
            spec: {serviceAccountName: db}
            status: {podIP: 127.210.11.1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: db-v2-1, namespace: shop, labels: {app: db-v2}}
            spec: {serviceAccountName: db}
            status: {podIP: 127.210.11.2}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: db-canary, namespace: apps}
            spec:
              parentRefs:
              - {group: "", kind: Service, name: db, namespace: shop, port: 9000}
              rules:
              - backendRefs:
                - {name: db-v2, namespace: shop, port: 9000}
            ---
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: ReferenceGrant
            metadata: {name: apps-tcp, namespace: shop}
            spec:
              from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: apps}]
              to: [{group: "", kind: Service}]
            ---
            # a ServiceEntry as a TCPRoute parent: its connections go to Service shop/db-v2
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db-ext, namespace: shop}
            spec:
              hosts: [db.example.test]
              addresses: [127.210.10.5]
              ports: [{number: 9000, name: tcp, protocol: TCP}]
              location: MESH_EXTERNAL
              resolution: STATIC
              endpoints: [{address: 127.210.12.1}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: db-ext-to-v2, namespace: shop}
            spec:
              parentRefs:
              - {group: networking.istio.io, kind: ServiceEntry, name: db-ext}
              rules:
              - backendRefs:
                - {name: db-v2, port: 9000}
            """;

    @TempDir
    static Path tmp;
    static TestMesh mesh;

    @BeforeAll
    static void startMesh() throws Exception {
        Path configDir = Files.createDirectories(tmp.resolve("manifests"));
        Files.writeString(configDir.resolve("mesh.yaml"), MESH);
        mesh = TestMesh.start(configDir, tmp, new NamespacedName("istio-system", "waypoint"), TestMesh.Options.ephemeral());
    }

    @AfterAll
    static void stopMesh() {
        if (mesh != null) {
            mesh.close();
        }
    }

    /** Bytes through one TCP tunnel from {@code ns/client}; returns the pod authority the waypoint dialled. */
    private static String through(String ns, String payload) throws Exception {
        return through(ns, "127.210.10.1:9000", payload);
    }

    private static String through(String ns, String authority, String payload) throws Exception {
        try (HboneTestClient client = HboneTestClient.connect(mesh.group(), mesh.waypoint().hboneAddress(),
                mesh.workload(ns, "client"))) {
            int before = mesh.ztunnels().seen().size();
            HboneTestClient.Answer a = client.connect(authority, Map.of()).get(10, TimeUnit.SECONDS);
            assertThat(a.status()).as("CONNECT: %s", a.body()).isEqualTo(200);
            Channel t = a.tunnel();
            CompletableFuture<String> echoed = new CompletableFuture<>();
            StringBuilder got = new StringBuilder();
            t.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    got.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof ChannelInputShutdownEvent) {
                        echoed.complete(got.toString());
                    }
                }
            });
            t.write(Unpooled.copiedBuffer(payload, StandardCharsets.UTF_8));
            t.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
            assertThat(echoed.get(10, TimeUnit.SECONDS)).isEqualTo(payload);
            t.close();
            return mesh.ztunnels().seen().size() == before ? "(no hbone)" : mesh.ztunnels().seen().get(before).authority();
        }
    }

    @Test
    void callersFromTheRoutesNamespaceTakeItOthersKeepTheDefault() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertThat(through("apps", "\u0001from apps " + i)).isEqualTo("127.210.11.2:9000");
            assertThat(through("web", "\u0001from web " + i)).isEqualTo("127.210.11.1:9000");
        }
    }

    @Test
    void aTcpRouteOnAServiceEntryParentRoutesItsConnections() throws Exception {
        assertThat(through("web", "127.210.10.5:9000", "\u0001to the entry")).isEqualTo("127.210.11.2:9000");
    }
}
