package dev.waypoint.authn;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import dev.waypoint.model.security.PolicyTargetRef;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import dev.waypoint.model.security.JwtRuleSpec;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;

/** Snapshots with RequestAuthentications, and requests to Service ns1/b of them. */
final class TestRequests {
    static final NamespacedName WAYPOINT = new NamespacedName("ns1", "waypoint");
    static final ServiceSpec B = service("b", "10.96.0.20");
    static final ServiceSpec C = service("c", "10.96.0.30");
    /** A ServiceEntry named as Service b: only a ServiceEntry reference reaches it. */
    static final ServiceEntrySpec SE_B = new ServiceEntrySpec(new NamespacedName("ns1", "b"), Map.of(), List.of("b.example.test"),
            List.of(HostPort.parseIp("240.240.0.2")), List.of(new ServicePortSpec("http", 80, 80, null, null)),
            ServiceEntrySpec.Location.MESH_EXTERNAL, ServiceEntrySpec.Resolution.STATIC, List.of(), null, SourceRef.NONE);

    static ServiceSpec service(String name, String vip) {
        return new ServiceSpec(new NamespacedName("ns1", name), Map.of(), List.of(HostPort.parseIp(vip)),
                List.of(new ServicePortSpec("http", 8080, 8080, null, null)), Map.of("app", name), SourceRef.NONE);
    }

    static RequestAuthenticationSpec ra(String name, List<PolicyTargetRef> refs, JwtRuleSpec... rules) {
        return new RequestAuthenticationSpec(new NamespacedName("ns1", name), refs, false, List.of(rules), SourceRef.NONE);
    }

    static PolicyTargetRef service(String name) {
        return new PolicyTargetRef("", "Service", name, null);
    }

    static ResourceSet resources(List<RequestAuthenticationSpec> ras) {
        return ResourceSet.builder(WAYPOINT, "cluster.local").services(List.of(B, C)).serviceEntries(List.of(SE_B))
                .requestAuthentications(ras).build();
    }

    static ConfigSnapshot snapshot(JwksCache cache, RequestAuthenticationSpec... ras) {
        Diagnostics d = new Diagnostics();
        return ConfigSnapshot.compile(1, resources(List.of(ras)),
                List.of(new JwtRuleCompiler(cache, JwtRuleCompiler.DEFAULT_ROOT_NAMESPACE)), d);
    }

    static RequestContext request(ConfigSnapshot snapshot, ServiceSpec svc, String path, HeadersView headers) {
        Target target = new Target.ServiceTarget(HostPort.parseAuthority(svc.clusterIps().get(0).getHostAddress() + ":8080"),
                svc, svc.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, null, new InetSocketAddress("10.0.1.10", 40000), null, null, null,
                null);
        RequestAttributes attrs = new RequestAttributes() {
            @Override
            public String method() {
                return "GET";
            }

            @Override
            public String path() {
                return path;
            }

            @Override
            public String host() {
                return svc.name().name() + ".ns1.svc.cluster.local:8080";
            }

            @Override
            public String scheme() {
                return "http";
            }

            @Override
            public String protocol() {
                return "HTTP/1.1";
            }

            @Override
            public boolean grpc() {
                return false;
            }

            @Override
            public HeadersView headers() {
                return headers;
            }

            @Override
            public SpiffeId sourcePrincipal() {
                return null;
            }

            @Override
            public InetSocketAddress sourceAddress() {
                return tunnel.peerAddress();
            }

            @Override
            public InetSocketAddress destinationAddress() {
                return new InetSocketAddress(target.authority().address(), target.authority().port());
            }
        };
        return new RequestContext(tunnel, snapshot, target, attrs, headers, new RequestOutcome(0));
    }

    private TestRequests() {}
}
