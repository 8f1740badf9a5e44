package dev.waypoint.wasm;

import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.Target;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * {@code proxy_get_property}: the attributes Envoy documents
 * (envoy {@code docs/root/intro/arch_overview/advanced/attributes.rst}) that this waypoint knows,
 * encoded as Envoy encodes them: strings as bytes, integers as 8-byte little-endian, booleans as
 * one byte. Unknown paths are NotFound.
 *
 * <p>{@code upstream.*} and {@code route_name} are known once the route and the endpoint were
 * chosen, which is after every plugin phase: they read in response callbacks and {@code on_log}.
 */
final class Properties {
    private Properties() {}

    static byte[] get(Plugin plugin, HttpStream s, List<String> path) {
        if (path.isEmpty()) {
            return null;
        }
        String head = path.get(0);
        switch (head) {
            case "plugin_name":
                return str(plugin.name());
            case "plugin_root_id":
                return str(plugin.rootId());
            case "plugin_vm_id":
                return str("");
            case "node":
                if (path.size() == 3 && path.get(1).equals("metadata")) {
                    return str(plugin.settings().nodeMetadata().get(path.get(2)));
                }
                if (path.size() == 2 && path.get(1).equals("id")) {
                    return str(plugin.settings().nodeId());
                }
                return null;
            default:
                break;
        }
        if (s == null || s.request == null) {
            return null;
        }
        RequestContext rc = s.request;
        RequestAttributes at = rc.attributes();
        String leaf = path.size() > 1 ? path.get(1) : "";
        switch (head) {
            case "request":
                return switch (leaf) {
                    case "path" -> str(at.path());
                    case "url_path" -> {
                        int q = at.path().indexOf('?');
                        yield str(q < 0 ? at.path() : at.path().substring(0, q));
                    }
                    case "query" -> {
                        int q = at.path().indexOf('?');
                        yield str(q < 0 ? "" : at.path().substring(q + 1));
                    }
                    case "host" -> str(at.host());
                    case "scheme" -> str(at.scheme());
                    case "method" -> str(at.method());
                    case "protocol" -> str(at.protocol());
                    case "id" -> str(s.requestHeaders.get("x-request-id"));
                    case "referer" -> str(s.requestHeaders.get("referer"));
                    case "useragent" -> str(s.requestHeaders.get("user-agent"));
                    case "headers" -> path.size() == 3 ? str(s.requestHeaders.get(path.get(2).toLowerCase(Locale.ROOT))) : null;
                    default -> null;
                };
            case "response":
                return switch (leaf) {
                    case "code" -> s.responseStatus > 0 ? i64(s.responseStatus) : null;
                    case "headers" -> path.size() == 3 && s.responseHeaders != null
                            ? str(s.responseHeaders.get(path.get(2).toLowerCase(Locale.ROOT))) : null;
                    default -> null;
                };
            case "source":
                return address(at.sourceAddress(), leaf, rc.tunnel().peer() == null ? null : rc.tunnel().peer().uri());
            case "destination":
                return address(at.destinationAddress(), leaf, null);
            case "connection":
                return switch (leaf) {
                    case "mtls" -> bool(rc.tunnel().peer() != null);
                    case "uri_san_peer_certificate" -> rc.tunnel().peer() == null ? null : str(rc.tunnel().peer().uri());
                    default -> null;
                };
            case "upstream":
                String endpoint = rc.outcome().endpoint();
                if (endpoint == null) {
                    return null;
                }
                int colon = endpoint.lastIndexOf(':');
                return switch (leaf) {
                    case "address" -> str(endpoint);
                    case "port" -> colon < 0 ? null : i64(Long.parseLong(endpoint.substring(colon + 1)));
                    default -> null;
                };
            case "route_name":
                return str(rc.outcome().route());
            case "cluster_name":
                Target t = rc.target();
                if (t instanceof Target.ServiceTarget st) {
                    return str("inbound-vip|" + st.port().port() + "|http|" + st.service().hostname("cluster.local"));
                }
                return null;
            default:
                return null;
        }
    }

    private static byte[] address(InetSocketAddress a, String leaf, String principal) {
        if (leaf.equals("principal")) {
            return str(principal);
        }
        if (a == null) {
            return null;
        }
        return switch (leaf) {
            case "address" -> str(a.getAddress().getHostAddress() + ":" + a.getPort());
            case "port" -> i64(a.getPort());
            default -> null;
        };
    }

    private static byte[] str(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] i64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    private static byte[] bool(boolean b) {
        return new byte[] {(byte) (b ? 1 : 0)};
    }
}
