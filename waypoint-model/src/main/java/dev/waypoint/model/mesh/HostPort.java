package dev.waypoint.model.mesh;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * An IP literal and a port: the {@code :authority} of an HBONE CONNECT ({@code 10.0.0.5:8080},
 * {@code [fd00::5]:8080}). Parsing never touches DNS.
 */
public record HostPort(InetAddress address, int port) {
    public HostPort {
        Objects.requireNonNull(address, "address");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
        }
    }

    /**
     * Parses an authority in Rust {@code SocketAddr} display form.
     *
     * @throws IllegalArgumentException with a message naming what is wrong
     */
    public static HostPort parseAuthority(CharSequence authority) {
        String s = authority.toString();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("authority: " + s + " (expected: ip:port or [ipv6]:port)");
        }
        String host = s.substring(0, colon);
        int port = parsePort(s.substring(colon + 1), s);
        InetAddress address;
        if (host.startsWith("[") && host.endsWith("]")) {
            address = parseIpv6(host.substring(1, host.length() - 1), s);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException("authority: " + s + " (expected: IPv6 in brackets)");
        } else {
            address = parseIpv4(host, s);
        }
        return new HostPort(address, port);
    }

    /** Parses a bare IP literal (v4 dotted quad or v6), as found in {@code status.podIP}. */
    public static InetAddress parseIp(String ip) {
        return ip.indexOf(':') >= 0 ? parseIpv6(ip, ip) : parseIpv4(ip, ip);
    }

    private static int parsePort(String text, String whole) {
        if (text.length() > 5) {
            throw new IllegalArgumentException("authority: " + whole + " (expected: port 1-65535)");
        }
        int port = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("authority: " + whole + " (expected: port 1-65535)");
            }
            port = port * 10 + (c - '0');
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("authority: " + whole + " (expected: port 1-65535)");
        }
        return port;
    }

    private static InetAddress parseIpv4(String host, String whole) {
        String[] octets = host.split("\\.", -1);
        if (octets.length != 4) {
            throw new IllegalArgumentException("address: " + whole + " (expected: an IPv4 or IPv6 literal)");
        }
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            String o = octets[i];
            if (o.isEmpty() || o.length() > 3 || (o.length() > 1 && o.charAt(0) == '0')) {
                throw new IllegalArgumentException("address: " + whole + " (expected: an IPv4 or IPv6 literal)");
            }
            int v = 0;
            for (int j = 0; j < o.length(); j++) {
                char c = o.charAt(j);
                if (c < '0' || c > '9') {
                    throw new IllegalArgumentException("address: " + whole + " (expected: an IPv4 or IPv6 literal)");
                }
                v = v * 10 + (c - '0');
            }
            if (v > 255) {
                throw new IllegalArgumentException("address: " + whole + " (expected: an IPv4 or IPv6 literal)");
            }
            bytes[i] = (byte) v;
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static InetAddress parseIpv6(String host, String whole) {
        if (host.isEmpty() || host.indexOf(':') < 0) {
            throw new IllegalArgumentException("address: " + whole + " (expected: an IPv6 literal)");
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
            if (!ok) {
                // no zone ids, no host names: only literals reach InetAddress, so it never resolves
                throw new IllegalArgumentException("address: " + whole + " (expected: an IPv6 literal)");
            }
        }
        try {
            return InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address: " + whole + " (expected: an IPv6 literal)", e);
        }
    }

    /** Rust {@code SocketAddr} display form: {@code ip:port} or {@code [ipv6]:port}. */
    public String authority() {
        String ip = address.getHostAddress();
        return ip.indexOf(':') >= 0 ? "[" + ip + "]:" + port : ip + ":" + port;
    }

    @Override
    public String toString() {
        return authority();
    }
}
