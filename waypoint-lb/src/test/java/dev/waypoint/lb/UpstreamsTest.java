package dev.waypoint.lb;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UpstreamsTest {
    static ConfigSnapshot snapshot() {
        ServiceSpec svc = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(), List.of(HostPort.parseIp("10.96.0.1")),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "web"), SourceRef.NONE);
        ResourceSet rs = new ResourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local", List.of(),
                List.of(svc), List.of(), List.of(), List.of(), List.of(), List.of());
        return ConfigSnapshot.compile(0, rs, List.of(new EndpointCompiler()), new Diagnostics());
    }

    static TunnelContext tunnel(String forwarded, String traceparent) {
        ServiceSpec svc = new ServiceSpec(new NamespacedName("apps", "web"), Map.of(), List.of(HostPort.parseIp("10.96.0.1")),
                List.of(new ServicePortSpec("http", 80, 8080, null, null)), Map.of("app", "web"), SourceRef.NONE);
        ResourceSet rs = new ResourceSet(new NamespacedName("istio-system", "waypoint"), "cluster.local", List.of(),
                List.of(svc), List.of(), List.of(), List.of(), List.of(), List.of());
        ConfigSnapshot snap = ConfigSnapshot.compile(0, rs, List.of(new EndpointCompiler()), new Diagnostics());
        return new TunnelContext(new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.1:80"), svc, svc.ports().get(0)),
                null, new InetSocketAddress("10.0.0.7", 51000), null, forwarded, "k8s.namespace.name=apps", traceparent);
    }

    @Test
    void outboundConnectCarriesForwardedBaggageAndAContinuedTrace() {
        Http2Headers h = Upstreams.connectHeaders(tunnel("for=\"10.0.0.9:4000\"",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        assertThat(h.get("forwarded")).hasToString("for=\"10.0.0.9:4000\"");
        assertThat(h.get("baggage")).hasToString("k8s.namespace.name=apps");
        String tp = h.get("traceparent").toString();
        assertThat(tp).matches("00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01").doesNotContain("b7ad6b7169203331");
    }

    @Test
    void withoutInboundHeadersThePeerAddressAndANewTraceAreUsed() {
        Http2Headers h = Upstreams.connectHeaders(tunnel(null, "garbage"));
        assertThat(h.get("forwarded")).hasToString("for=\"10.0.0.7:51000\"");
        assertThat(h.get("traceparent").toString()).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
    }

    @Test
    void aServiceWithoutEndpointsIsA503Decision() {
        TunnelContext t = tunnel(null, null);
        Upstreams u = new Upstreams(UpstreamSettings.defaults(15008),
                new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null), EndpointPickers.roundRobin());
        UpstreamPick pick = u.pick(snapshot(), Upstreams.defaultBackend(t.target()), null, null);
        assertThat(pick).isInstanceOfSatisfying(UpstreamPick.Unavailable.class, u2 -> {
            dev.waypoint.model.request.Rejection r = u2.rejection();
            assertThat(r.reason().status()).isEqualTo(503);
            assertThat(r.body()).isEqualTo("no_healthy_upstream: service apps/web port 80 has no ready endpoints\n");
        });
    }

    @Test
    void podBackendsUseThePodIdentityOnlyInTheMesh() {
        TunnelContext t = tunnel(null, null);
        PodSpec pod = new PodSpec(new NamespacedName("apps", "p"), Map.of(), "sa", HostPort.parseIp("10.0.0.5"), true, Map.of(),
                SourceRef.NONE);
        Upstreams u = new Upstreams(UpstreamSettings.defaults(15008),
                new dev.waypoint.lb.hbone.HbonePool(UpstreamSettings.defaults(15008), () -> null), EndpointPickers.roundRobin());
        UpstreamPick pick = u.pick(snapshot(), new dev.waypoint.model.request.RouteSelection.PodBackend(pod, 9090), null, null);
        // pod "p" is not in the snapshot's mesh membership: plaintext
        assertThat(pick).isInstanceOfSatisfying(Endpoint.class, e -> {
            assertThat(e.address().authority()).isEqualTo("10.0.0.5:9090");
            assertThat(e.inMesh()).isFalse();
        });
    }
}
