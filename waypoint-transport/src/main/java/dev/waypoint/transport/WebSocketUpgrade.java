package dev.waypoint.transport;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;

/**
 * What makes an HTTP/1.1 request a WebSocket upgrade the waypoint proxies (RFC 6455 §4.1: "The
 * method of the request MUST be GET, and the HTTP version MUST be at least 1.1", with
 * {@code Upgrade: websocket} and {@code Connection: Upgrade}). Istio enables only the
 * {@code websocket} upgrade type on its HTTP connection managers; any other {@code Upgrade}
 * stays a hop-by-hop header and is removed.
 */
public final class WebSocketUpgrade {
    private WebSocketUpgrade() {}

    /** Whether {@code req} asks for a WebSocket upgrade (header names and tokens case-insensitive). */
    public static boolean requested(HttpRequest req) {
        if (!req.method().equals(HttpMethod.GET) || !req.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
            return false;
        }
        HttpHeaders h = req.headers();
        return h.containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)
                && h.containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
    }

    /**
     * Puts back the two headers the hop-by-hop cleanup removed from an upgrade going upstream
     * (or from its {@code 101} going back): {@code Connection: upgrade} and {@code upgrade}, the
     * client's (or the backend's) {@code Upgrade} value.
     */
    public static void restore(HttpHeaders h, String upgrade) {
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        h.set(HttpHeaderNames.UPGRADE, upgrade);
    }
}
