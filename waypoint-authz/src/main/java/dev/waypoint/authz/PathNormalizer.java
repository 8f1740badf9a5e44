package dev.waypoint.authz;

/**
 * Istio's {@code meshConfig.pathNormalization} (shared/spec/authz.md §5,
 * tests/integration/security/normalization_test.go): what the path of a request is turned into
 * before policies see it <em>and</em> before it is forwarded. Pure; the query is kept as is.
 *
 * <ul>
 *   <li>{@link Mode#NONE}: nothing;</li>
 *   <li>{@link Mode#BASE} (the default): "Decode percent-encoded unreserved characters (incl.
 *       {@code %2E}), turn {@code \} into {@code /}, remove dot segments (RFC 3986); keep
 *       {@code %2F}/{@code %5C} encoded, keep {@code //}";</li>
 *   <li>{@link Mode#MERGE_SLASHES}: BASE, then runs of {@code /} become one;</li>
 *   <li>{@link Mode#DECODE_AND_MERGE_SLASHES}: {@code %2F} and {@code %5C} decoded first (Envoy's
 *       {@code UNESCAPE_AND_FORWARD}), then MERGE_SLASHES.</li>
 * </ul>
 */
public final class PathNormalizer {
    /** The normalization levels of Istio's {@code ProxyPathNormalization}. */
    public enum Mode { NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES }

    private PathNormalizer() {}

    /**
     * Normalizes the path part of {@code target} (a request target such as {@code /a/../b?x=1});
     * returns {@code target} itself when nothing changes, and when it is not an origin-form path
     * ({@code *}, absolute-form).
     */
    public static String normalize(String target, Mode mode) {
        if (mode == Mode.NONE || target == null || target.isEmpty() || target.charAt(0) != '/') {
            return target;
        }
        int q = target.length();
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c == '?' || c == '#') {
                q = i;
                break;
            }
        }
        if (alreadyNormal(target, q, mode != Mode.BASE)) {
            return target; // the common case: nothing to change, nothing allocated
        }
        String path = target.substring(0, q);
        if (mode == Mode.DECODE_AND_MERGE_SLASHES) {
            path = decodeSlashes(path);
        }
        path = base(path);
        if (mode != Mode.BASE) {
            path = mergeSlashes(path);
        }
        String out = q == target.length() ? path : path + target.substring(q);
        return out.equals(target) ? target : out;
    }

    /** {@code %2F} → {@code /}, {@code %5C} → {@code \}, any case. */
    /**
     * True when the path {@code target[0, end)} is left as it is by every step {@code normalize}
     * would run: no {@code %} (nothing to decode), no backslash, no {@code .} or {@code ..}
     * segment, and, when slashes are merged, no {@code //}. One pass, no allocation.
     */
    static boolean alreadyNormal(String target, int end, boolean mergeSlashes) {
        for (int i = 0; i < end; i++) {
            char c = target.charAt(i);
            if (c == '%' || c == '\\') {
                return false;
            }
            if (c == '/' && i + 1 < end) {
                char n = target.charAt(i + 1);
                if (n == '/' && mergeSlashes) {
                    return false;
                }
                if (n == '.') {
                    // "/." or "/.." followed by '/' or the end of the path is a dot segment
                    int j = i + 2;
                    if (j < end && target.charAt(j) == '.') {
                        j++;
                    }
                    if (j == end || target.charAt(j) == '/') {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    static String decodeSlashes(String p) {
        if (p.indexOf('%') < 0) {
            return p;
        }
        StringBuilder b = new StringBuilder(p.length());
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '%' && i + 2 < p.length()) {
                int v = hex(p.charAt(i + 1)) * 16 + hex(p.charAt(i + 2));
                if (hex(p.charAt(i + 1)) >= 0 && hex(p.charAt(i + 2)) >= 0 && (v == '/' || v == '\\')) {
                    b.append((char) v);
                    i += 2;
                    continue;
                }
            }
            b.append(c);
        }
        return b.toString();
    }

    /** Unreserved decoding, backslashes, dot segments. */
    static String base(String p) {
        StringBuilder d = new StringBuilder(p.length());
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '%' && i + 2 < p.length()) {
                int h = hex(p.charAt(i + 1));
                int l = hex(p.charAt(i + 2));
                if (h >= 0 && l >= 0) {
                    char v = (char) (h * 16 + l);
                    if (unreserved(v)) {
                        d.append(v);
                        i += 2;
                        continue;
                    }
                }
            }
            d.append(c == '\\' ? '/' : c);
        }
        return removeDotSegments(d.toString());
    }

    /** RFC 3986 §5.2.4 over an absolute path; empty segments are kept. */
    static String removeDotSegments(String p) {
        if (!p.contains(".")) {
            return p;
        }
        String[] segs = p.substring(1).split("/", -1);
        java.util.ArrayDeque<String> out = new java.util.ArrayDeque<>();
        boolean trailing = false;
        for (int i = 0; i < segs.length; i++) {
            String s = segs[i];
            boolean last = i == segs.length - 1;
            if (s.equals(".")) {
                trailing = last;
            } else if (s.equals("..")) {
                if (!out.isEmpty()) {
                    out.removeLast();
                }
                trailing = last;
            } else {
                out.addLast(s);
                trailing = false;
            }
        }
        StringBuilder b = new StringBuilder(p.length());
        for (String s : out) {
            b.append('/').append(s);
        }
        if (trailing || b.length() == 0) {
            b.append('/');
        }
        return b.toString();
    }

    static String mergeSlashes(String p) {
        if (!p.contains("//")) {
            return p;
        }
        StringBuilder b = new StringBuilder(p.length());
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '/' && b.length() > 0 && b.charAt(b.length() - 1) == '/') {
                continue;
            }
            b.append(c);
        }
        return b.toString();
    }

    private static boolean unreserved(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                || c == '_' || c == '~';
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }
}
