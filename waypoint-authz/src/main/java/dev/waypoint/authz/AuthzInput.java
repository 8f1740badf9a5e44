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

    /**
     * {@code remote.ip} with {@code hops} trusted proxies in front (mesh config
     * {@code defaultConfig.gatewayTopology.numTrustedProxies}), as Envoy's
     * {@code xff_num_trusted_hops} reads it: the {@code hops}-th address from the right of
     * {@code X-Forwarded-For} (all its header lines, in order); the source address when the header
     * has fewer entries or that entry is not an IP. Not cached: only rules with {@code remote.ip}
     * under trusted hops read it, and the input stays small (it is allocated per decision).
     */
    java.net.InetAddress remote(int hops) {
        dev.waypoint.model.request.HeadersView h = request.headers();
        java.util.List<String> xff = h == null ? java.util.List.of() : h.getAll("x-forwarded-for");
        int skip = hops - 1;
        for (int i = xff.size() - 1; i >= 0 && skip >= 0; i--) {
            String line = xff.get(i);
            int end = line.length();
            for (int j = line.length() - 1; j >= -1; j--) {
                if (j == -1 || line.charAt(j) == ',') {
                    if (skip-- == 0) {
                        java.net.InetAddress found = ip(line.substring(j + 1, end).trim());
                        if (found != null) {
                            return found;
                        }
                        return source();
                    }
                    end = j;
                }
            }
        }
        return source();
    }

    private java.net.InetAddress source() {
        java.net.InetSocketAddress a = request.sourceAddress();
        return a == null ? null : a.getAddress();
    }

    private static java.net.InetAddress ip(String s) {
        try {
            return s.isEmpty() ? null : dev.waypoint.model.mesh.HostPort.parseIp(s);
        } catch (IllegalArgumentException e) {
            return null; // not an address (a name, "unknown"): not trusted as one
        }
    }
}
