package dev.waypoint.routing;

import dev.waypoint.model.gateway.HttpFilterSpec;
import dev.waypoint.model.request.RequestAttributes;

/** The pure parts of the redirect and rewrite filters: new paths and {@code Location}. */
final class RouteActions {
    private RouteActions() {}

    /**
     * The path (with the request's query) after a {@code ReplaceFullPath} or
     * {@code ReplacePrefixMatch} modifier. {@code prefix} is the matched PathPrefix without its
     * trailing '/' (the compiler refuses ReplacePrefixMatch on other match types). Gateway API:
     * "/foo/bar, /foo, /xyz → /xyz/bar; /foo/, /foo, /xyz → /xyz/; /foo/bar, /foo, "" → /bar;
     * /foo, /foo, "" → /" — the replacement's trailing '/' is dropped, the rest after the prefix
     * kept, and an empty result is "/".
     */
    static String rewritePath(HttpFilterSpec.PathModifier modifier, String prefix, String requestPath) {
        int q = requestPath.indexOf('?');
        String path = q < 0 ? requestPath : requestPath.substring(0, q);
        String query = q < 0 ? "" : requestPath.substring(q);
        String out;
        if (modifier.type() == HttpFilterSpec.PathModifierType.REPLACE_FULL_PATH) {
            out = modifier.value();
        } else {
            String replacement = modifier.value().endsWith("/")
                    ? modifier.value().substring(0, modifier.value().length() - 1) : modifier.value();
            String rest = prefix == null ? path : path.substring(Math.min(prefix.length(), path.length()));
            out = replacement + rest;
        }
        if (out.isEmpty()) {
            out = "/";
        }
        return out + query;
    }

    /**
     * {@code Location} of a RequestRedirect: scheme (filter, else the request's), hostname
     * (filter, else the request's Host without its port), port and path. Port: "explicit port wins;
     * else if scheme is set use its well-known port; else the port the request came in on" (for
     * a Service parent, the Service port); 80 for http and 443 for https are left out.
     */
    static String location(HttpFilterSpec.RequestRedirect r, String prefix, RequestAttributes request, int servicePort) {
        String scheme = r.scheme() != null ? r.scheme() : request.scheme() == null ? "http" : request.scheme();
        String host = r.hostname() != null ? r.hostname() : hostWithoutPort(request.host());
        int port;
        if (r.port() != 0) {
            port = r.port();
        } else if (r.scheme() != null) {
            port = r.scheme().equals("https") ? 443 : 80;
        } else {
            port = servicePort;
        }
        boolean defaultPort = scheme.equals("http") && port == 80 || scheme.equals("https") && port == 443;
        String path = r.path() == null ? request.path() : rewritePath(r.path(), prefix, request.path());
        StringBuilder sb = new StringBuilder(scheme).append("://");
        sb.append(host.indexOf(':') >= 0 ? "[" + host + "]" : host);
        if (!defaultPort) {
            sb.append(':').append(port);
        }
        return sb.append(path).toString();
    }

    static String hostWithoutPort(String host) {
        if (host == null) {
            return "";
        }
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            return end < 0 ? host : host.substring(1, end);
        }
        int colon = host.lastIndexOf(':');
        return colon >= 0 && host.indexOf(':') == colon ? host.substring(0, colon) : host;
    }
}
