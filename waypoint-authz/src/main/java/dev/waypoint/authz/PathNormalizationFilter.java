package dev.waypoint.authz;

import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.request.FilterResult;
import dev.waypoint.model.request.HttpFilter;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestContext;
import java.util.Objects;

/**
 * The {@code normalize} stage: makes the request target a normalized origin-form path before any
 * stage reads it. "The normalized path is what policies see and what is forwarded" (Envoy
 * normalizes in the connection manager, before every filter), so this is the first stage that
 * looks at the path.
 *
 * <ul>
 *   <li>An absolute-form target ({@code GET http://b.ns1/admin HTTP/1.1}) becomes its path, and its
 *       authority the {@code Host}, as Envoy's connection manager does: otherwise a path policy
 *       would compare {@code /admin*} with {@code http://b.ns1/admin} and let it through, while
 *       the backend serves {@code /admin}.</li>
 *   <li>{@code *} ({@code OPTIONS *}) is left alone; any other target that is not a path is
 *       answered 400.</li>
 *   <li>The path is then normalized with {@link PathNormalizer} in the configured mode: the
 *       {@code --path-normalization} flag when given, else the mesh config's
 *       {@code pathNormalization} in this request's snapshot, else Istio's default BASE.</li>
 * </ul>
 */
public final class PathNormalizationFilter implements HttpFilter {
    private final PathNormalizer.Mode mode;

    /** Always {@code mode}, whatever the mesh config says. */
    public PathNormalizationFilter(PathNormalizer.Mode mode) {
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    private PathNormalizationFilter() {
        this.mode = null;
    }

    /**
     * {@code flag} when it is not null; otherwise the mode the mesh config of each request's
     * snapshot names ({@code pathNormalization.normalization}), BASE when it names none.
     */
    public static PathNormalizationFilter of(PathNormalizer.Mode flag) {
        return flag != null ? new PathNormalizationFilter(flag) : new PathNormalizationFilter();
    }

    private static PathNormalizer.Mode fromMesh(RequestContext request) {
        MeshConfigSpec.PathNormalization n = request.snapshot().resources().meshConfig().pathNormalization();
        if (n == null) {
            return PathNormalizer.Mode.BASE;
        }
        return switch (n) {
            case NONE -> PathNormalizer.Mode.NONE;
            case BASE -> PathNormalizer.Mode.BASE;
            case MERGE_SLASHES -> PathNormalizer.Mode.MERGE_SLASHES;
            case DECODE_AND_MERGE_SLASHES -> PathNormalizer.Mode.DECODE_AND_MERGE_SLASHES;
        };
    }

    @Override
    public String name() {
        return "normalize";
    }

    @Override
    public FilterResult onRequest(RequestContext request) {
        String path = request.attributes().path();
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            if ("*".equals(path)) {
                return FilterResult.CONTINUE;
            }
            String origin = absoluteForm(request, path);
            if (origin == null) {
                return FilterResult.reply(new Rejection(Rejection.Reason.BAD_REQUEST,
                        "request target: " + path + " (expected: a path such as /a, or an absolute http URL)"));
            }
            path = origin;
        }
        String normalized = PathNormalizer.normalize(path, mode != null ? mode : fromMesh(request));
        if (normalized != request.attributes().path()) { // the same instance when nothing changed
            request.setPath(normalized);
        }
        return FilterResult.CONTINUE;
    }

    /** {@code http(s)://authority[/path]} → sets Host to the authority and returns the path; else null. */
    private static String absoluteForm(RequestContext request, String target) {
        int scheme = target == null ? -1 : target.indexOf("://");
        if (scheme < 0) {
            return null;
        }
        String s = target.substring(0, scheme);
        if (!s.equalsIgnoreCase("http") && !s.equalsIgnoreCase("https")) {
            return null;
        }
        int start = scheme + 3;
        int end = start;
        while (end < target.length() && "/?#".indexOf(target.charAt(end)) < 0) {
            end++;
        }
        String authority = target.substring(start, end);
        if (authority.isEmpty() || authority.indexOf('@') >= 0) {
            return null; // no authority, or userinfo (RFC 9110 §4.2.4: must not be sent)
        }
        String rest = target.substring(end);
        String origin = rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest;
        request.requestHeaders().set("host", authority);
        return origin;
    }
}
