package dev.waypoint.authz;

import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.RequestContext;
import java.util.Objects;

/**
 * The {@code normalize} stage: rewrites the request path with {@link PathNormalizer} before any
 * stage reads it. "The normalized path is what policies see and what is forwarded" (Envoy
 * normalizes in the connection manager, before every filter), so this is the first stage that
 * looks at the path.
 */
public final class PathNormalizationFilter implements HttpFilter {
    private final PathNormalizer.Mode mode;

    public PathNormalizationFilter(PathNormalizer.Mode mode) {
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    @Override
    public String name() {
        return "normalize";
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        String path = request.attributes().path();
        String normalized = PathNormalizer.normalize(path, mode);
        if (normalized != path) { // the same instance when nothing changes
            request.setPath(normalized);
        }
        return FilterResult.CONTINUE;
    }
}
