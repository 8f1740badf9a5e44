package dev.waypoint.authz;

import dev.waypoint.model.request.JwtAuthn;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The matcher tree's nodes (Envoy RBAC's {@code and_ids}/{@code or_ids}/{@code not_id} and its
 * leaves): composites that short-circuit, and leaves holding pre-built state. Static factories;
 * the implementations are private.
 */
final class Matchers {
    private Matchers() {}

    // ---- composites

    /** All of {@code ms}; {@link Matcher#ANY} when empty. */
    static Matcher and(List<Matcher> ms) {
        List<Matcher> kept = new ArrayList<>(ms.size());
        for (Matcher m : ms) {
            if (m == Matcher.NONE) {
                return Matcher.NONE;
            }
            if (m != Matcher.ANY) {
                kept.add(m);
            }
        }
        if (kept.isEmpty()) {
            return Matcher.ANY;
        }
        if (kept.size() == 1) {
            return kept.get(0);
        }
        return new And(kept.toArray(Matcher[]::new));
    }

    /** Any of {@code ms}; {@link Matcher#NONE} when empty. */
    static Matcher or(List<Matcher> ms) {
        List<Matcher> kept = new ArrayList<>(ms.size());
        for (Matcher m : ms) {
            if (m == Matcher.ANY) {
                return Matcher.ANY;
            }
            if (m != Matcher.NONE) {
                kept.add(m);
            }
        }
        if (kept.isEmpty()) {
            return Matcher.NONE;
        }
        if (kept.size() == 1) {
            return kept.get(0);
        }
        return new Or(kept.toArray(Matcher[]::new));
    }

    /** The negation of {@code m}. */
    static Matcher not(Matcher m) {
        if (m == Matcher.ANY) {
            return Matcher.NONE;
        }
        if (m == Matcher.NONE) {
            return Matcher.ANY;
        }
        return new Not(m);
    }

    private record And(Matcher[] ms) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            for (Matcher m : ms) {
                if (!m.matches(in)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public String toString() {
            return "and" + Arrays.toString(ms);
        }
    }

    private record Or(Matcher[] ms) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            for (Matcher m : ms) {
                if (m.matches(in)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public String toString() {
            return "or" + Arrays.toString(ms);
        }
    }

    private record Not(Matcher m) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            return !m.matches(in);
        }

        @Override
        public String toString() {
            return "not(" + m + ")";
        }
    }

    // ---- string attributes

    /** A single-valued string attribute of the request; null when absent. */
    enum Attr {
        /** The peer's SPIFFE ID as a URI ({@code source.principal}, principals, namespaces, ...). */
        PRINCIPAL(AuthzInput::principal),
        /** {@code <iss>/<sub>} of the validated JWT. */
        REQUEST_PRINCIPAL(in -> in.jwt == null ? null : in.jwt.principal()),
        /** {@code azp} of the validated JWT. */
        PRESENTER(in -> in.jwt == null ? null : in.jwt.presenter()),
        /** {@code :authority} / {@code Host}. */
        HOST(in -> in.request.host()),
        /** The method. */
        METHOD(in -> in.request.method()),
        /** No SNI inside an HBONE tunnel: {@code connection.sni} never has a value at a waypoint. */
        SNI(in -> null);

        private final Function<AuthzInput, String> read;

        Attr(Function<AuthzInput, String> read) {
            this.read = read;
        }

        String read(AuthzInput in) {
            return read.apply(in);
        }
    }

    /** {@code attr} matches {@code m}. */
    static Matcher string(Attr attr, StringMatch m) {
        return new StringLeaf(attr, m);
    }

    private record StringLeaf(Attr attr, StringMatch m) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            return m.test(attr.read(in));
        }

        @Override
        public String toString() {
            return attr.name().toLowerCase() + ":" + m;
        }
    }

    /** The path, query and fragment cut off, matches {@code m}. */
    static Matcher path(StringMatch m) {
        return new PathLeaf(m);
    }

    private record PathLeaf(StringMatch m) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            String p = in.path();
            return p != null && m.test(p, in.pathEnd());
        }

        @Override
        public String toString() {
            return "path:" + m;
        }
    }

    /**
     * {@code request.headers[name]}: "name case-insensitive, value case-sensitive, {@code *} =
     * header present". The first value is compared.
     */
    static Matcher header(String name, StringMatch m) {
        return new HeaderLeaf(name, m);
    }

    private record HeaderLeaf(String name, StringMatch m) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            return in.request.headers() != null && m.test(in.request.headers().get(name));
        }

        @Override
        public String toString() {
            return "header[" + name + "]:" + m;
        }
    }

    /** {@code request.auth.audiences}: any {@code aud} value matches. */
    static Matcher audiences(StringMatch m) {
        return new AudienceLeaf(m);
    }

    private record AudienceLeaf(StringMatch m) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            if (in.jwt == null) {
                return false;
            }
            for (String a : in.jwt.audiences()) {
                if (m.test(a)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public String toString() {
            return "aud:" + m;
        }
    }

    /**
     * {@code request.auth.claims[a][b]...}: "walks nested objects; a list claim matches if any
     * element matches; claims scope and permission are always split on spaces ... Missing claim
     * never matches." Claims named in {@code jwtRules[].spaceDelimitedClaims} are split by the
     * authn stage (it knows the rule); this leaf splits {@code scope} and {@code permission}
     * whatever the authn stage delivered.
     */
    static Matcher claim(List<String> path, StringMatch m) {
        String last = path.get(path.size() - 1);
        boolean split = path.size() == 1 && (last.equals("scope") || last.equals("permission"));
        return new ClaimLeaf(path.toArray(String[]::new), split, m);
    }

    private record ClaimLeaf(String[] path, boolean split, StringMatch m) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            JwtAuthn jwt = in.jwt;
            if (jwt == null) {
                return false;
            }
            Object v = jwt.claims();
            for (String key : path) {
                if (!(v instanceof Map<?, ?> map)) {
                    return false;
                }
                v = map.get(key);
            }
            return value(v);
        }

        private boolean value(Object v) {
            if (v instanceof String s) {
                return split ? anyWord(s) : m.test(s);
            }
            if (v instanceof List<?> list) {
                for (Object e : list) {
                    if (e instanceof String s ? (split ? anyWord(s) : m.test(s)) : e instanceof Number || e instanceof Boolean
                            ? m.test(e.toString()) : false) {
                        return true;
                    }
                }
                return false;
            }
            if (v instanceof Number || v instanceof Boolean) {
                return m.test(v.toString()); // Envoy compares the JSON scalar's string form
            }
            return false;
        }

        private boolean anyWord(String s) {
            int start = 0;
            int n = s.length();
            while (start <= n) {
                int sp = s.indexOf(' ', start);
                int end = sp < 0 ? n : sp;
                if (end > start && m.test(s.substring(start, end))) {
                    return true;
                }
                if (sp < 0) {
                    return false;
                }
                start = sp + 1;
            }
            return false;
        }

        @Override
        public String toString() {
            return "claim" + Arrays.toString(path) + ":" + m;
        }
    }

    // ---- addresses and ports

    /** Which address a CIDR leaf reads. */
    enum Address {
        /**
         * {@code source.ip} / {@code ipBlocks}: at a waypoint, the client pod address carried by
         * the tunnel ({@code RequestAttributes.sourceAddress()}: the {@code forwarded for=} of the
         * CONNECT, else the HBONE peer).
         */
        SOURCE,
        /**
         * {@code remote.ip} / {@code remoteIpBlocks}: the original client "from X-Forwarded-For /
         * PROXY with numTrustedProxies (equals the peer address otherwise)": with the mesh config's
         * {@code numTrustedProxies} at 0 (the default) the same address as {@link #SOURCE}.
         */
        REMOTE,
        /** {@code destination.ip}: the CONNECT authority's address (the Service VIP or the pod IP). */
        DESTINATION
    }

    /** The address is inside {@code cidr} ({@code 10.0.0.0/8}, {@code 1.2.3.4}, {@code 2001:db8::/32}). */
    static Matcher cidr(Address which, Cidr cidr) {
        return new CidrLeaf(which, cidr, 0);
    }

    /**
     * As {@link #cidr(Address, Cidr)}; for {@link Address#REMOTE} with {@code trustedHops > 0}, the
     * address is read from {@code X-Forwarded-For} ({@link AuthzInput#remote}).
     */
    static Matcher cidr(Address which, Cidr cidr, int trustedHops) {
        return new CidrLeaf(which, cidr, which == Address.REMOTE ? trustedHops : 0);
    }

    private record CidrLeaf(Address which, Cidr cidr, int trustedHops) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            if (trustedHops > 0) {
                java.net.InetAddress r = in.remote(trustedHops);
                return r != null && cidr.contains(r);
            }
            InetSocketAddress a = which == Address.DESTINATION ? in.request.destinationAddress() : in.request.sourceAddress();
            return a != null && a.getAddress() != null && cidr.contains(a.getAddress());
        }

        @Override
        public String toString() {
            return which.name().toLowerCase() + "-ip:" + cidr + (trustedHops > 0 ? " (xff, " + trustedHops + " trusted hops)" : "");
        }
    }

    /**
     * An address block, as address bytes and prefix length (IPv4 also as an int with its mask).
     */
    record Cidr(byte[] address, int prefix, int v4, int v4mask, String text) {
        /** Parses {@code a.b.c.d[/n]} or an IPv6 literal with an optional {@code /n}. */
        static Cidr parse(String s) {
            int slash = s.indexOf('/');
            String ip = slash < 0 ? s : s.substring(0, slash);
            InetAddress addr = dev.waypoint.model.mesh.HostPort.parseIp(ip); // IllegalArgumentException when bad
            byte[] bytes = addr.getAddress();
            int max = bytes.length * 8;
            int prefix = max;
            if (slash >= 0) {
                String p = s.substring(slash + 1);
                if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
                    throw new IllegalArgumentException("prefix length: " + p + " (expected: 0-" + max + ")");
                }
                prefix = Integer.parseInt(p);
                if (prefix > max) {
                    throw new IllegalArgumentException("prefix length: " + p + " (expected: 0-" + max + ")");
                }
            }
            int v4 = 0;
            int mask = 0;
            if (bytes.length == 4) {
                v4 = ((bytes[0] & 0xff) << 24) | ((bytes[1] & 0xff) << 16) | ((bytes[2] & 0xff) << 8) | (bytes[3] & 0xff);
                mask = prefix == 0 ? 0 : -1 << (32 - prefix);
                v4 &= mask;
            }
            return new Cidr(bytes, prefix, v4, mask, s);
        }

        boolean contains(InetAddress a) {
            if (a instanceof Inet4Address) {
                if (address.length != 4) {
                    return false;
                }
                // Inet4Address.hashCode() is the address as an int: no byte[] copy on the request path
                return (a.hashCode() & v4mask) == v4;
            }
            byte[] b = a.getAddress();
            if (b.length != address.length) {
                return false;
            }
            int full = prefix / 8;
            for (int i = 0; i < full; i++) {
                if (b[i] != address[i]) {
                    return false;
                }
            }
            int rest = prefix % 8;
            if (rest == 0) {
                return true;
            }
            int m = (0xff << (8 - rest)) & 0xff;
            return (b[full] & m) == (address[full] & m);
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** {@code ports} / {@code destination.port}: "integer equality" with the port the client addressed. */
    static Matcher port(int port) {
        return new PortLeaf(port);
    }

    private record PortLeaf(int port) implements Matcher {
        @Override
        public boolean matches(AuthzInput in) {
            InetSocketAddress d = in.request.destinationAddress();
            return d != null && d.getPort() == port;
        }

        @Override
        public String toString() {
            return "port:" + port;
        }
    }
}
