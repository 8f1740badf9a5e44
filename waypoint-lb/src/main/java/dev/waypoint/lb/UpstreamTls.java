package dev.waypoint.lb;

import dev.waypoint.model.traffic.TlsSecretSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.TlsSpec;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * TLS origination to an endpoint outside the mesh, compiled from a DestinationRule {@code tls}
 * (SIMPLE or MUTUAL) once per config generation: the files, or the Secrets {@code credentialName}
 * names, are read and the client context is built here, never on the data path.
 *
 * <p><b>Verification.</b> The server's chain is verified against {@code caCertificates}, or the
 * JVM's trust store when none is written (Istio uses the system roots); none with
 * {@code insecureSkipVerify}. Then one of {@code subjectAltNames} must be among the leaf's DNS
 * (wildcards as RFC 6125: {@code *.example.com} covers one label), URI or IP SANs; with no
 * {@code subjectAltNames}, the {@code sni} is checked the same way when written (Envoy's
 * {@code auto_san_validation} against the SNI Istio sets); with neither, the chain alone.
 * {@code sni} is sent as the TLS server name.
 *
 * <p>Equal when the spec and the bytes of its files or Secrets are: a new generation with the same
 * rule keeps using pooled connections, and a rotated Secret's new connections use the new material. A rule whose files cannot be read or used is {@link #broken}:
 * connections fail closed (503 UF), never in plaintext.
 */
final class UpstreamTls {
    private final TlsSpec spec;
    private final SslContext context;
    private final String broken;
    private final String fingerprint;

    /** Envoy's {@code auto_sni}: the request's host name when {@code sni} is not written, else null. */
    private final String autoSni;
    /**
     * Envoy's {@code auto_san_validation}: the name the server certificate must carry (the request's
     * host name or IP address; {@code ""}, which no certificate carries, for a request without a host),
     * or null: none beyond what the rule writes.
     */
    private final String autoSan;

    private UpstreamTls(TlsSpec spec, SslContext context, String broken, String fingerprint) {
        this(spec, context, broken, fingerprint, null, null);
    }

    private UpstreamTls(TlsSpec spec, SslContext context, String broken, String fingerprint, String autoSni,
                        String autoSan) {
        this.spec = spec;
        this.context = context;
        this.broken = broken;
        this.fingerprint = fingerprint;
        this.autoSni = autoSni;
        this.autoSan = autoSan;
    }

    /**
     * This TLS for a request to {@code host} (its {@code Host} / {@code :authority} as sent upstream,
     * after any rewrite): with no {@code sni} written, Istio sets Envoy's {@code auto_sni} (the host
     * name is the server name sent) and, without {@code subjectAltNames} and {@code insecureSkipVerify},
     * {@code auto_san_validation} (the server certificate must carry it), in
     * {@code setAutoSniAndAutoSanValidation} (cluster_tls.go). A connection is then per host name,
     * as Envoy keys its pool by the SNI. An IP address sends no server name (TLS forbids one) but must
     * still be among the certificate's SANs, as Envoy's SAN override is set either way; a request with
     * no host is refused when a name would be checked (Envoy's override is then empty and matches no
     * certificate), so that a client cannot switch the check off. Allocates only for a rule with no
     * {@code sni}.
     */
    UpstreamTls forHost(String host) {
        if (spec.sni() != null || broken != null) {
            return this;
        }
        boolean check = !spec.insecureSkipVerify() && spec.subjectAltNames().isEmpty();
        String name = host == null ? "" : hostName(host);
        if (name.isEmpty()) {
            return check ? new UpstreamTls(spec, context, null, fingerprint, null, "") : this;
        }
        String sni = isIp(name) ? null : name;
        return new UpstreamTls(spec, context, null, fingerprint, sni, check ? name : null);
    }

    /** The host name of a {@code Host} value: no port, no brackets, lower case, no trailing dot. */
    static String hostName(String host) {
        String h = host;
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            h = end < 0 ? h.substring(1) : h.substring(1, end);
        } else if (h.indexOf(':') >= 0 && h.indexOf(':') == h.lastIndexOf(':')) {
            h = h.substring(0, h.indexOf(':'));
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h.toLowerCase(Locale.ROOT);
    }

    /** Reads the files of {@code spec} and builds its client context (a broken one says why); no Secrets. */
    static UpstreamTls compile(TlsSpec spec) {
        return compile(spec, name -> null, "-");
    }

    /**
     * Reads the files, or the Secrets of {@code credentialName}, of {@code spec} and builds its
     * client context (a broken one says why, the field first).
     *
     * <p>{@code credentialName} is resolved as Istio's SDS does for a gateway: an optional
     * {@code kubernetes://} prefix dropped, the client certificate and key (MUTUAL) from the Secret
     * of that name, the roots from the Secret {@code <name>-cacert} when there is one, else from the
     * same Secret; both in the waypoint's namespace. There is no fallback to the system roots: a
     * Secret without roots is broken (unless {@code insecureSkipVerify}), as Envoy's cluster never
     * gets its validation context then.
     *
     * @param secrets the TLS Secrets of the waypoint's namespace by name (null: none of that name)
     * @param namespace the waypoint's namespace, for the messages
     */
    static UpstreamTls compile(TlsSpec spec, Function<String, TlsSecretSpec> secrets, String namespace) {
        Objects.requireNonNull(spec, "spec");
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] ca = null;
        byte[] cert = null;
        byte[] key = null;
        String caFrom = spec.caCertificates();
        String certFrom = spec.clientCertificate();
        String field = null;
        String from = null; // the Secret the failing part came from
        try {
            if (spec.credentialName() != null) {
                field = "credentialName";
                String name = spec.credentialName().startsWith("kubernetes://")
                        ? spec.credentialName().substring("kubernetes://".length()) : spec.credentialName();
                if (name.contains("://")) {
                    return broken(spec, "credentialName: " + spec.credentialName() + " cannot be used (only a Secret's "
                            + "name, or kubernetes://[namespace/]name, is read by this waypoint)");
                }
                int slash = name.indexOf('/');
                if (slash >= 0) {
                    // ParseResourceName's kubernetes://namespace/name: SDS serves only the proxy's own namespace
                    if (!name.substring(0, slash).equals(namespace)) {
                        return broken(spec, "credentialName: " + spec.credentialName() + " cannot be used (a Secret of "
                                + "another namespace than the waypoint's, " + namespace + ", is not read, as Istio refuses it)");
                    }
                    name = name.substring(slash + 1);
                }
                TlsSecretSpec secret = secrets.apply(name);
                if (spec.mutual()) {
                    if (secret == null || !secret.hasCertificate()) {
                        return broken(spec, "credentialName: " + (secret == null ? "no TLS Secret " + namespace + "/" + name
                                : "the Secret " + namespace + "/" + name + " has no cert and key (nor tls.crt and tls.key)")
                                + " (expected: a Secret of type Opaque or kubernetes.io/tls in the waypoint's namespace holding "
                                + "the client certificate)");
                    }
                    cert = secret.certificateChain().getBytes(StandardCharsets.ISO_8859_1);
                    key = secret.privateKey().getBytes(StandardCharsets.ISO_8859_1);
                    certFrom = "Secret " + namespace + "/" + name;
                }
                if (!spec.insecureSkipVerify()) {
                    TlsSecretSpec roots = secrets.apply(name + "-cacert");
                    String rootsName = namespace + "/" + name + "-cacert";
                    if (roots == null) {
                        roots = secret;
                        rootsName = namespace + "/" + name;
                    }
                    if (roots == null || roots.caCertificates() == null) {
                        return broken(spec, "credentialName: " + (roots == null ? "no TLS Secret " + namespace + "/" + name
                                + " nor " + namespace + "/" + name + "-cacert" : "the Secret " + rootsName + " has no cacert (nor ca.crt)")
                                + " (expected: a Secret of type Opaque or kubernetes.io/tls in the waypoint's namespace holding "
                                + "the roots that verify the server)");
                    }
                    ca = roots.caCertificates().getBytes(StandardCharsets.ISO_8859_1);
                    caFrom = "Secret " + rootsName;
                }
            } else {
                if (spec.caCertificates() != null && !spec.insecureSkipVerify()) {
                    field = "caCertificates";
                    ca = Files.readAllBytes(Path.of(spec.caCertificates()));
                }
                if (spec.mutual()) {
                    field = "clientCertificate";
                    cert = Files.readAllBytes(Path.of(spec.clientCertificate()));
                    field = "privateKey";
                    key = Files.readAllBytes(Path.of(spec.privateKey()));
                }
            }
            // Netty 4.2 verifies the host name itself by default; SANs are checked in verify() instead
            SslContextBuilder b = SslContextBuilder.forClient().endpointIdentificationAlgorithm(null);
            if (spec.insecureSkipVerify()) {
                b.trustManager(InsecureTrustManagerFactory.INSTANCE);
            } else if (ca != null) {
                field = spec.credentialName() != null ? "credentialName" : "caCertificates";
                from = caFrom;
                digest.update(ca);
                b.trustManager(new ByteArrayInputStream(ca));
            }
            if (cert != null) {
                field = spec.credentialName() != null ? "credentialName" : "clientCertificate";
                from = certFrom;
                digest.update(cert);
                digest.update(key);
                b.keyManager(new ByteArrayInputStream(cert), new ByteArrayInputStream(key));
            }
            field = null;
            return new UpstreamTls(spec, b.build(), null, HexFormat.of().formatHex(digest.digest()));
        } catch (IOException | RuntimeException e) {
            String what = field == null ? "the client context" : switch (field) {
                case "caCertificates" -> caFrom;
                case "privateKey" -> spec.privateKey();
                case "credentialName" -> spec.credentialName() + (from != null ? " (" + from + ")" : "");
                default -> certFrom;
            };
            return broken(spec, (field == null ? "tls" : field) + ": " + what + " cannot be used ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
    }

    private static UpstreamTls broken(TlsSpec spec, String why) {
        return new UpstreamTls(spec, null, why, "broken");
    }

    TlsSpec spec() {
        return spec;
    }

    /** Why this rule's TLS cannot be used (the field first), or null when it can. */
    String broken() {
        return broken;
    }

    /** A client handler for one connection to {@code port}, sending {@code sni} when written. */
    SslHandler newHandler(ByteBufAllocator alloc, int port) {
        String sni = spec.sni() != null ? spec.sni() : autoSni;
        if (sni == null) {
            return context.newHandler(alloc);
        }
        SslHandler h = context.newHandler(alloc, sni, port);
        // Netty and the JDK send a server name only when it has a dot; Envoy sends "reviews" too
        try {
            javax.net.ssl.SSLParameters p = h.engine().getSSLParameters();
            p.setServerNames(List.of(new javax.net.ssl.SNIHostName(sni)));
            h.engine().setSSLParameters(p);
        } catch (IllegalArgumentException notAHostName) {
            // not a DNS name (an odd character): sent as Netty would, or not at all
        }
        return h;
    }

    /** The names one of which the server certificate must carry; empty: the chain alone decides. */
    List<String> expectedNames() {
        if (spec.insecureSkipVerify()) {
            return List.of();
        }
        if (!spec.subjectAltNames().isEmpty()) {
            return spec.subjectAltNames();
        }
        return spec.sni() != null ? List.of(spec.sni()) : autoSan != null ? List.of(autoSan) : List.of();
    }

    /** Null when the handshake's peer is acceptable, else why not. */
    String verify(SSLSession session) {
        List<String> expected = expectedNames();
        if (expected.isEmpty()) {
            return null;
        }
        if ("".equals(autoSan) && spec.sni() == null) {
            return "the request has no Host to check the server certificate against (no sni or subjectAltNames written)";
        }
        List<String> sans;
        try {
            Certificate[] chain = session.getPeerCertificates();
            sans = subjectAltNames((X509Certificate) chain[0]);
        } catch (SSLPeerUnverifiedException | CertificateParsingException | ClassCastException e) {
            return "no usable server certificate: " + e.getMessage();
        }
        for (String name : expected) {
            for (String san : sans) {
                if (matches(san, name)) {
                    return null;
                }
            }
        }
        return "the server certificate's SANs " + sans + " have none of " + expected;
    }

    static List<String> subjectAltNames(X509Certificate cert) throws CertificateParsingException {
        List<String> out = new ArrayList<>();
        if (cert.getSubjectAlternativeNames() != null) {
            for (List<?> san : cert.getSubjectAlternativeNames()) {
                int type = (Integer) san.get(0);
                if (type == 2 || type == 6 || type == 7) { // dNSName, uniformResourceIdentifier, iPAddress
                    out.add(String.valueOf(san.get(1)));
                }
            }
        }
        return out;
    }

    /** A SAN against an expected name: exact (DNS case-insensitively, IPs by address) or a one-label wildcard. */
    static boolean matches(String san, String name) {
        if (san.equalsIgnoreCase(name)) {
            return true;
        }
        if (isIp(san) && isIp(name)) {
            return java.util.Arrays.equals(io.netty.util.NetUtil.createByteArrayFromIpAddressString(san),
                    io.netty.util.NetUtil.createByteArrayFromIpAddressString(name));
        }
        if (san.startsWith("*.") && !isIp(name)) {
            int dot = name.indexOf('.');
            return dot > 0 && name.substring(dot).toLowerCase(Locale.ROOT).equals(san.substring(1).toLowerCase(Locale.ROOT));
        }
        return false;
    }

    private static boolean isIp(String s) {
        return io.netty.util.NetUtil.isValidIpV4Address(s) || io.netty.util.NetUtil.isValidIpV6Address(s);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UpstreamTls t && t.spec.equals(spec) && t.fingerprint.equals(fingerprint)
                && Objects.equals(t.broken, broken) && Objects.equals(t.autoSni, autoSni)
                && Objects.equals(t.autoSan, autoSan);
    }

    @Override
    public int hashCode() {
        return ((spec.hashCode() * 31 + fingerprint.hashCode()) * 31 + Objects.hashCode(autoSni)) * 31
                + Objects.hashCode(autoSan);
    }

    @Override
    public String toString() {
        return (spec.mutual() ? "MUTUAL" : "SIMPLE") + (spec.sni() != null ? " sni=" + spec.sni() : "")
                + (autoSni != null ? " auto_sni=" + autoSni : "")
                + (expectedNames().isEmpty() ? "" : " san=" + expectedNames())
                + (spec.insecureSkipVerify() ? " insecureSkipVerify" : "") + (broken != null ? " BROKEN: " + broken : "");
    }
}
