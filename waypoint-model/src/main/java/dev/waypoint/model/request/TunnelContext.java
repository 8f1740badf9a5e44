package dev.waypoint.model.request;

import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.SpiffeId;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The connection facts of one accepted inbound HBONE tunnel, fixed when its CONNECT is answered:
 * who is calling, from where, and what they addressed. Immutable; shared by every request in the
 * tunnel. Config is deliberately <em>not</em> here: each request pins the snapshot current when it
 * starts ({@link RequestContext#snapshot()}), so a keep-alive tunnel sees config changes.
 *
 * @param target the bound Service port or Pod the CONNECT addressed, as resolved when the tunnel
 *        was accepted (requests re-resolve {@link Target#authority()} against their own snapshot)
 * @param peer the TLS peer's SPIFFE identity (the source workload), or null if it presented none
 * @param peerAddress the TCP peer of the HBONE connection (the source ztunnel, or the source pod in
 *        in-pod mode), or null when unknown
 * @param source the original client address: the {@code for=} of ztunnel's {@code forwarded}
 *        header, parsed once, else the peer address; null when neither is known
 * @param forwarded ztunnel's {@code forwarded} header ({@code for="ip:port"}), or null
 * @param baggage ztunnel's {@code baggage} header (source workload metadata), or null
 * @param traceparent ztunnel's {@code traceparent} header, or null
 */
public record TunnelContext(Target target, SpiffeId peer, InetSocketAddress peerAddress, InetSocketAddress source,
                            String forwarded, String baggage, String traceparent) {
    public TunnelContext {
        Objects.requireNonNull(target, "target");
    }

    /**
     * The client address of a {@code forwarded} header (RFC 7239 §4, §6): the {@code for=} of its
     * first element, quoted or not, IPv4 or bracketed IPv6, with or without a port (port 0 when
     * absent). Null when the header has no usable IP ({@code for=unknown}, an obfuscated name,
     * garbage). Never touches DNS.
     */
    public static InetSocketAddress parseForwardedFor(String forwarded) {
        if (forwarded == null) {
            return null;
        }
        int comma = forwarded.indexOf(',');
        String first = comma < 0 ? forwarded : forwarded.substring(0, comma);
        for (String pair : first.split(";")) {
            String p = pair.trim();
            if (p.length() <= 4 || !p.regionMatches(true, 0, "for=", 0, 4)) {
                continue;
            }
            String v = p.substring(4).trim();
            if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
                v = v.substring(1, v.length() - 1);
            }
            try {
                if (v.startsWith("[")) {
                    int close = v.indexOf(']');
                    if (close < 0) {
                        return null;
                    }
                    if (close == v.length() - 1) {
                        return new InetSocketAddress(HostPort.parseIp(v.substring(1, close)), 0);
                    }
                    HostPort hp = HostPort.parseAuthority(v);
                    return new InetSocketAddress(hp.address(), hp.port());
                }
                if (v.indexOf(':') >= 0) {
                    HostPort hp = HostPort.parseAuthority(v);
                    return new InetSocketAddress(hp.address(), hp.port());
                }
                return new InetSocketAddress(HostPort.parseIp(v), 0);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }
}
