package dev.waypoint.telemetry;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.RouteSelection;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Finished requests for telemetry tests: the reviews Service of the demo, called by curl. */
final class Requests {
    static final ServiceSpec REVIEWS = new ServiceSpec(new NamespacedName("demo", "reviews"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.10")), List.of(new ServicePortSpec("http", 9080, 9080, null, null)),
            Map.of("app", "reviews"), SourceRef.NONE);
    static final PodSpec REVIEWS_V2 = new PodSpec(new NamespacedName("demo", "reviews-v2-7d9f8c6b5d-x2k4q"),
            Map.of("app", "reviews", "version", "v2"), "bookinfo-reviews", HostPort.parseIp("10.244.0.12"), true, Map.of(),
            SourceRef.NONE, new dev.waypoint.model.mesh.WorkloadRef("Deployment", "reviews-v2"));
    /** The identity REVIEWS_V2's ztunnel presents (it is in the mesh). */
    static final dev.waypoint.model.mesh.SpiffeId REVIEWS_V2_ID = REVIEWS_V2.identity("cluster.local");
    static final String BAGGAGE = "k8s.cluster.name=Kubernetes,k8s.namespace.name=demo,k8s.deployment.name=curl,"
            + "service.name=curl,service.version=v1";

    private Requests() {}

    record Headers(Map<String, String> map) implements HeadersView {
        public String get(CharSequence n) { return map.get(n.toString().toLowerCase(Locale.ROOT)); }
        public List<String> getAll(CharSequence n) { String v = get(n); return v == null ? List.of() : List.of(v); }
        public boolean contains(CharSequence n) { return get(n) != null; }
        public void set(CharSequence n, String v) { map.put(n.toString().toLowerCase(Locale.ROOT), v); }
        public void add(CharSequence n, String v) { set(n, v); }
        public void remove(CharSequence n) { map.remove(n.toString().toLowerCase(Locale.ROOT)); }
        @Override public void forEach(java.util.function.BiConsumer<String, String> action) { map.forEach(action); }
    }

    record Attrs(String method, String path, boolean grpc, HeadersView headers, TunnelContext tunnel) implements RequestAttributes {
        public String host() { return headers.get("host"); }
        public String scheme() { return "http"; }
        public String protocol() { return grpc ? "HTTP/2" : "HTTP/1.1"; }
        public SpiffeId sourcePrincipal() { return tunnel.peer(); }
        public InetSocketAddress sourceAddress() { return tunnel.source(); }
        public InetSocketAddress destinationAddress() { return null; }
    }

    /** A request that went to reviews-v2 and got {@code status} after {@code ms} milliseconds. */
    static RequestContext finished(boolean grpc, int status, String flags, long ms, boolean withEndpoint) {
        return finished(grpc, status, flags, ms, withEndpoint, Map.of(), ConfigSnapshot.compile(0,
                ResourceSet.empty(new NamespacedName("istio-system", "waypoint"), "cluster.local"), List.of(),
                new Diagnostics()));
    }

    /** As above, with more request headers, in {@code snapshot}. */
    static RequestContext finished(boolean grpc, int status, String flags, long ms, boolean withEndpoint,
                                   Map<String, String> extraHeaders, ConfigSnapshot snapshot) {
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.10:9080"), REVIEWS,
                REVIEWS.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, new SpiffeId("cluster.local", "demo", "curl"), null,
                new InetSocketAddress("10.244.0.5", 41000), null, BAGGAGE, null);
        Map<String, String> h = new LinkedHashMap<>();
        h.put("host", "reviews.demo:9080");
        h.put("user-agent", "curl/8.5.0");
        h.put("x-request-id", "6f1c0f6c");
        h.putAll(extraHeaders);
        Headers headers = new Headers(h);
        RequestOutcome o = new RequestOutcome(1_000_000_000L);
        RequestContext rc = new RequestContext(tunnel, snapshot, target,
                new Attrs("GET", "/reviews/1", grpc, headers, tunnel), headers, o);
        rc.set(RouteSelection.KEY, new RouteSelection("default", new RouteSelection.ServiceBackend(REVIEWS, REVIEWS.ports().get(0))));
        o.route("default");
        if (withEndpoint) {
            o.attempt("10.244.0.12:9080", REVIEWS_V2, REVIEWS_V2_ID);
        }
        o.status(status);
        if (!flags.equals("-")) {
            o.flags(flags, "no_healthy_upstream");
        }
        if (grpc) {
            o.grpcStatus(0);
        }
        o.addRequestBytes(0);
        o.addResponseBytes(295);
        o.responseStarted(1_000_000_000L + ms * 500_000L);
        o.close(RequestOutcome.End.RESPONSE, 1_000_000_000L + ms * 1_000_000L);
        return rc;
    }

    /** A TCP tunnel from curl to the reviews Service, and its outcome (opened at 1 s). */
    record Tcp(TunnelContext tunnel, dev.waypoint.model.request.TcpOutcome outcome) {}

    static Tcp tcpTunnel() {
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.10:9080"), REVIEWS,
                REVIEWS.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, new SpiffeId("cluster.local", "demo", "curl"), null,
                new InetSocketAddress("10.244.0.5", 41000), null, BAGGAGE, null);
        return new Tcp(tunnel, new dev.waypoint.model.request.TcpOutcome(1_000_000_000L));
    }

    /** A finished request carrying {@code headers} (besides host, user-agent, x-request-id) in a tunnel whose CONNECT had {@code connectTraceparent}. */
    static RequestContext finishedWithTrace(Map<String, String> headers, String connectTraceparent) {
        Target.ServiceTarget target = new Target.ServiceTarget(HostPort.parseAuthority("10.96.0.10:9080"), REVIEWS,
                REVIEWS.ports().get(0));
        TunnelContext tunnel = new TunnelContext(target, new SpiffeId("cluster.local", "demo", "curl"), null,
                new InetSocketAddress("10.244.0.5", 41000), null, BAGGAGE, connectTraceparent);
        Map<String, String> h = new LinkedHashMap<>();
        h.put("host", "reviews.demo:9080");
        h.put("user-agent", "curl/8.5.0");
        h.put("x-request-id", "6f1c0f6c");
        h.putAll(headers);
        Headers hv = new Headers(h);
        ResourceSet rs = ResourceSet.empty(new NamespacedName("istio-system", "waypoint"), "cluster.local");
        RequestOutcome o = new RequestOutcome(1_000_000_000L);
        RequestContext rc = new RequestContext(tunnel, ConfigSnapshot.compile(0, rs, List.of(), new Diagnostics()), target,
                new Attrs("GET", "/reviews/1", false, hv, tunnel), hv, o);
        o.attempt("10.244.0.12:9080", REVIEWS_V2, REVIEWS_V2_ID);
        o.status(200);
        o.close(RequestOutcome.End.RESPONSE, 1_000_000_000L + 5_000_000L);
        return rc;
    }

    /** A request that reached reviews-v2 after failed attempts to {@code failed}, got {@code status} after {@code ms}. */
    static RequestContext finishedAfter(List<Map.Entry<String, PodSpec>> failed, int status, long ms) {
        RequestContext rc = finished(false, status, "-", ms, false);
        for (Map.Entry<String, PodSpec> f : failed) {
            rc.outcome().attempt(f.getKey(), f.getValue(), f.getValue() == null ? null : f.getValue().identity("cluster.local"));
        }
        rc.outcome().attempt("10.244.0.12:9080", REVIEWS_V2, REVIEWS_V2_ID);
        return rc;
    }
}
