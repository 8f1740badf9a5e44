package dev.waypoint.authz;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A request for the matcher tests: plain values, headers case-insensitive. */
record TestRequest(String method, String path, String host, HeadersView headers, SpiffeId sourcePrincipal,
                   InetSocketAddress sourceAddress, InetSocketAddress destinationAddress) implements RequestAttributes {

    static TestRequest of(String method, String path) {
        return new TestRequest(method, path, "b.ns1.svc.cluster.local:8080", Headers.of(Map.of()),
                SpiffeId.parse("spiffe://cluster.local/ns/ns1/sa/a").orElseThrow(), addr("10.0.1.10", 40000),
                addr("10.96.0.20", 8080));
    }

    static InetSocketAddress addr(String ip, int port) {
        return new InetSocketAddress(HostPort.parseIp(ip), port);
    }

    TestRequest withPrincipal(String uri) {
        return new TestRequest(method, path, host, headers, uri == null ? null : SpiffeId.parse(uri).orElseThrow(),
                sourceAddress, destinationAddress);
    }

    TestRequest withHost(String h) {
        return new TestRequest(method, path, h, headers, sourcePrincipal, sourceAddress, destinationAddress);
    }

    TestRequest withHeaders(Map<String, String> h) {
        return new TestRequest(method, path, host, Headers.of(h), sourcePrincipal, sourceAddress, destinationAddress);
    }

    TestRequest withSource(String ip) {
        return new TestRequest(method, path, host, headers, sourcePrincipal, addr(ip, 40000), destinationAddress);
    }

    TestRequest withDestination(String ip, int port) {
        return new TestRequest(method, path, host, headers, sourcePrincipal, sourceAddress, addr(ip, port));
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

    /** Case-insensitive, read-only. */
    record Headers(Map<String, List<String>> map) implements HeadersView {
        static Headers of(Map<String, String> h) {
            Map<String, List<String>> m = new LinkedHashMap<>();
            h.forEach((k, v) -> m.computeIfAbsent(k.toLowerCase(Locale.ROOT), x -> new ArrayList<>()).add(v));
            return new Headers(m);
        }

        @Override
        public List<String> names() {
            return List.copyOf(map.keySet());
        }

        @Override
        public String get(CharSequence name) {
            List<String> v = map.get(name.toString().toLowerCase(Locale.ROOT));
            return v == null || v.isEmpty() ? null : v.get(0);
        }

        @Override
        public List<String> getAll(CharSequence name) {
            return map.getOrDefault(name.toString().toLowerCase(Locale.ROOT), List.of());
        }

        @Override
        public boolean contains(CharSequence name) {
            return map.containsKey(name.toString().toLowerCase(Locale.ROOT));
        }

        @Override
        public void set(CharSequence name, String value) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void add(CharSequence name, String value) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void remove(CharSequence name) {
            throw new UnsupportedOperationException();
        }
    }
}
