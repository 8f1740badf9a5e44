package dev.waypoint.model.request;

import java.util.Objects;

/**
 * The request target the upstream stage sends instead of the client's (an HTTPRoute
 * {@code URLRewrite} path). Headers are rewritten in place through
 * {@link RequestContext#requestHeaders()}; the request line is not a header, so a stage that
 * rewrites it writes this slot and the upstream stage applies it to the forwarded head.
 * {@link RequestAttributes#path()} keeps the path the client sent.
 *
 * @param path the new path, with its query
 */
public record PathRewrite(String path) {
    /** The request slot the {@code route} stage writes. */
    public static final RequestKey<PathRewrite> KEY = RequestKey.of("path-rewrite", PathRewrite.class);

    public PathRewrite {
        Objects.requireNonNull(path, "path");
    }
}
