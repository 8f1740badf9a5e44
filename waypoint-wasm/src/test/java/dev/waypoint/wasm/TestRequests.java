package dev.waypoint.wasm;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiConsumer;

/** Requests for the host and filter tests: a Service target, writable headers, a snapshot. */
final class TestRequests {
    static final NamespacedName WAYPOINT = new NamespacedName("apps", "waypoint");
    static final ServicePortSpec PORT = new ServicePortSpec("http", 8080, 8080, null, "http");
    static final ServiceSpec SERVICE = new ServiceSpec(new NamespacedName("apps", "echo"), Map.of(),
            List.of(HostPort.parseIp("10.96.0.20")), List.of(PORT), Map.of("app", "echo"), SourceRef.NONE);
    static final Target TARGET = new Target.ServiceTarget(new HostPort(HostPort.parseIp("10.96.0.20"), 8080), SERVICE, PORT);

    private TestRequests() {}

    /** A snapshot with {@code resources} compiled by {@code compiler} alone. */
    static ConfigSnapshot snapshot(ResourceSet resources, PartCompiler<?> compiler) {
        return ConfigSnapshot.compile(1, resources, List.of(compiler), new Diagnostics());
    }

    static RequestContext request(ConfigSnapshot snapshot, String method, String path, Headers headers) {
        SpiffeId peer = SpiffeId.parse("spiffe://cluster.local/ns/apps/sa/client").orElseThrow();
        InetSocketAddress src = new InetSocketAddress(HostPort.parseIp("10.0.1.10"), 40000);
        InetSocketAddress dst = new InetSocketAddress(HostPort.parseIp("10.96.0.20"), 8080);
        TunnelContext tunnel = new TunnelContext(TARGET, peer, src, src, null, null, null);
        String[] currentPath = {path};
        RequestAttributes at = new RequestAttributes() {
            public String method() { return method; }
            public String path() { return currentPath[0]; }
            public String host() { return "echo.apps.svc.cluster.local:8080"; }
            public String scheme() { return "http"; }
            public String protocol() { return "HTTP/1.1"; }
            public boolean grpc() {
                String ct = headers.get("content-type");
                return ct != null && ct.startsWith("application/grpc");
            }
            public HeadersView headers() { return headers; }
            public SpiffeId sourcePrincipal() { return peer; }
            public InetSocketAddress sourceAddress() { return src; }
            public InetSocketAddress destinationAddress() { return dst; }
        };
        return new RequestContext(tunnel, snapshot, TARGET, at, headers, new RequestOutcome(System.nanoTime()),
                p -> currentPath[0] = p);
    }

    /** Case-insensitive, writable, ordered. */
    static final class Headers implements HeadersView {
        final List<String[]> entries = new ArrayList<>();

        static Headers of(String... kv) {
            Headers h = new Headers();
            for (int i = 0; i < kv.length; i += 2) {
                h.add(kv[i], kv[i + 1]);
            }
            return h;
        }

        @Override
        public String get(CharSequence name) {
            for (String[] e : entries) {
                if (e[0].equalsIgnoreCase(name.toString())) {
                    return e[1];
                }
            }
            return null;
        }

        @Override
        public List<String> getAll(CharSequence name) {
            List<String> out = new ArrayList<>();
            for (String[] e : entries) {
                if (e[0].equalsIgnoreCase(name.toString())) {
                    out.add(e[1]);
                }
            }
            return out;
        }

        @Override
        public boolean contains(CharSequence name) {
            return get(name) != null;
        }

        @Override
        public void set(CharSequence name, String value) {
            remove(name);
            add(name, value);
        }

        @Override
        public void add(CharSequence name, String value) {
            entries.add(new String[] {name.toString().toLowerCase(Locale.ROOT), value});
        }

        @Override
        public void remove(CharSequence name) {
            entries.removeIf(e -> e[0].equalsIgnoreCase(name.toString()));
        }

        @Override
        public void forEach(BiConsumer<String, String> action) {
            for (String[] e : List.copyOf(entries)) {
                action.accept(e[0], e[1]);
            }
        }
    }
}
