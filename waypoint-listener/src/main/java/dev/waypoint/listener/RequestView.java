package dev.waypoint.listener;

import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.TunnelContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http2.HttpConversionUtil;
import java.net.InetSocketAddress;

/**
 * {@link RequestAttributes} of one inner request, read from its Netty head and its tunnel. For
 * HTTP/2 the stream codec has already turned {@code :authority} into {@code Host} and
 * {@code :path} into the URI.
 */
final class RequestView implements RequestAttributes {
    private static final CharSequence SCHEME = HttpConversionUtil.ExtensionHeaderNames.SCHEME.text();

    private final HttpRequest head;
    private final TunnelContext tunnel;
    private final HeadersView headers;
    private final boolean h2;
    private final boolean grpc;
    private final InetSocketAddress destination;
    /**
     * The request line as received (after path normalization, {@link #setPath}): copied, because the
     * upstream stage rewrites the head it forwards (URLRewrite, HTTP/1.1 upstream) and the stages
     * that read this view after it (telemetry) must see the request as the client sent it.
     */
    private String path;
    private final String protocol;

    RequestView(HttpRequest head, TunnelContext tunnel, HeadersView headers, boolean h2) {
        this.head = head;
        this.tunnel = tunnel;
        this.headers = headers;
        this.h2 = h2;
        String ct = head.headers().get(HttpHeaderNames.CONTENT_TYPE);
        this.grpc = ct != null && ct.regionMatches(true, 0, "application/grpc", 0, 16);
        this.destination = new InetSocketAddress(tunnel.target().authority().address(), tunnel.target().authority().port());
        this.path = head.uri();
        this.protocol = h2 ? "HTTP/2" : head.protocolVersion().text();
    }

    @Override
    public String method() {
        return head.method().name();
    }

    @Override
    public String path() {
        return path;
    }

    /** Rewrites the request target of the head being forwarded: {@link #path()} returns it from now on. */
    void setPath(String path) {
        head.setUri(path);
        this.path = path;
    }

    @Override
    public String host() {
        return head.headers().get(HttpHeaderNames.HOST);
    }

    @Override
    public String scheme() {
        String s = h2 ? head.headers().get(SCHEME) : null;
        return s != null ? s : "http";
    }

    @Override
    public String protocol() {
        return protocol;
    }

    @Override
    public boolean grpc() {
        return grpc;
    }

    @Override
    public HeadersView headers() {
        return headers;
    }

    @Override
    public SpiffeId sourcePrincipal() {
        return tunnel.peer();
    }

    @Override
    public InetSocketAddress sourceAddress() {
        return tunnel.source();
    }

    @Override
    public InetSocketAddress destinationAddress() {
        return destination;
    }
}
