package dev.waypoint.authz;

import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.RequestAttributes;

/**
 * What the matchers of one evaluation read: the request's attributes, the validated JWT (if the
 * authn stage wrote one) and, computed at most once, the peer principal as a URI and the end of
 * the path (query and fragment cut off). The one object an evaluation allocates, besides the
 * principal's URI string when a rule needs it.
 *
 * <p>Confined to the thread evaluating; never kept.
 */
final class AuthzInput {
    final RequestAttributes request;
    final JwtAuthn jwt;
    private String principal;
    private boolean principalDone;
    private int pathEnd = -1;

    AuthzInput(RequestAttributes request, JwtAuthn jwt) {
        this.request = request;
        this.jwt = jwt;
    }

    /** {@code spiffe://td/ns/x/sa/y}, or null for a peer without identity. */
    String principal() {
        if (!principalDone) {
            SpiffeId id = request.sourcePrincipal();
            principal = id == null ? null : id.uri();
            principalDone = true;
        }
        return principal;
    }

    /** The request path, or null (TCP). */
    String path() {
        return request.path();
    }

    /**
     * Where the path proper ends: "paths: matched against the normalized path with query and
     * fragment removed".
     */
    int pathEnd() {
        if (pathEnd < 0) {
            String p = request.path();
            int end = p == null ? 0 : p.length();
            if (p != null) {
                for (int i = 0; i < p.length(); i++) {
                    char c = p.charAt(i);
                    if (c == '?' || c == '#') {
                        end = i;
                        break;
                    }
                }
            }
            pathEnd = end;
        }
        return pathEnd;
    }
}
