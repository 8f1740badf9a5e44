package dev.waypoint.routing;

/**
 * TLSRoute hostname against a ClientHello's SNI, as Gateway API defines it: an exact name matches
 * itself; {@code *.example.com} matches any name with at least one more label ending in
 * {@code .example.com} (not {@code example.com} itself); {@code *} (a route without hostnames)
 * matches everything, also a ClientHello without SNI. Names are compared lower-cased (DNS names
 * are case-insensitive; the compiler lower-cases the route's, {@link L4RouteTable} the SNI). Pure.
 */
final class SniMatch {
    private SniMatch() {}

    static boolean matches(String hostname, String sni) {
        if (hostname.equals("*")) {
            return true;
        }
        if (sni == null) {
            return false;
        }
        if (hostname.startsWith("*.")) {
            String suffix = hostname.substring(1); // ".example.com"
            return sni.length() > suffix.length() && sni.endsWith(suffix) && sni.charAt(0) != '.';
        }
        return hostname.equals(sni);
    }

    /**
     * Match order between two names: exact before wildcard, longer wildcard (more specific) before
     * shorter, {@code *} last; negative when {@code a} is tried first.
     */
    static int precedence(String a, String b) {
        return Integer.compare(rank(b), rank(a));
    }

    private static int rank(String h) {
        if (h.equals("*")) {
            return 0;
        }
        if (h.startsWith("*.")) {
            return h.length(); // at most 253
        }
        return 1000 + h.length();
    }
}
