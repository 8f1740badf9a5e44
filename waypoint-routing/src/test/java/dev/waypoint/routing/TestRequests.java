package dev.waypoint.routing;

import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Plain-Java requests and header blocks for the routing tests (no Netty). */
final class TestRequests {
    private TestRequests() {}

    /** Case-insensitive, ordered, multi-valued. */
    static final class Headers implements HeadersView {
        final Map<String, List<String>> map = new LinkedHashMap<>();

        static Headers of(String... nameValues) {
            Headers h = new Headers();
            for (int i = 0; i < nameValues.length; i += 2) {
                h.add(nameValues[i], nameValues[i + 1]);
            }
            return h;
        }

        private static String key(CharSequence name) {
            return name.toString().toLowerCase(Locale.ROOT);
        }

        @Override
        public String get(CharSequence name) {
            List<String> v = map.get(key(name));
            return v == null ? null : v.get(0);
        }

        @Override
        public List<String> getAll(CharSequence name) {
            return map.getOrDefault(key(name), List.of());
        }

        @Override
        public boolean contains(CharSequence name) {
            return map.containsKey(key(name));
        }

        @Override
        public void set(CharSequence name, String value) {
            map.put(key(name), new ArrayList<>(List.of(value)));
        }

        @Override
        public void add(CharSequence name, String value) {
            map.computeIfAbsent(key(name), k -> new ArrayList<>()).add(value);
        }

        @Override
        public void remove(CharSequence name) {
            map.remove(key(name));
        }

        /** {@code name -> values joined with ','} as the conformance comparator sees them. */
        Map<String, String> joined() {
            Map<String, String> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(k, String.join(",", v)));
            return out;
        }
    }

    record Request(String method, String path, String host, Headers headers, SpiffeId sourcePrincipal)
            implements RequestAttributes {
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
        public InetSocketAddress sourceAddress() {
            return null;
        }

        @Override
        public InetSocketAddress destinationAddress() {
            return null;
        }
    }

    static Request get(String path, String... headers) {
        return new Request("GET", path, "svc", Headers.of(headers), null);
    }
}
