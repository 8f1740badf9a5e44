package dev.waypoint.lb;

import dev.waypoint.model.traffic.TrafficPolicySpec.TlsSpec;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
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
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * TLS origination to an endpoint outside the mesh, compiled from a DestinationRule {@code tls}
 * (SIMPLE or MUTUAL) once per config generation: the files are read and the client context is
 * built here, never on the data path.
 *
 * <p><b>Verification.</b> The server's chain is verified against {@code caCertificates}, or the
 * JVM's trust store when none is written (Istio uses the system roots); none with
 * {@code insecureSkipVerify}. Then one of {@code subjectAltNames} must be among the leaf's DNS
 * (wildcards as RFC 6125: {@code *.example.com} covers one label), URI or IP SANs; with no
 * {@code subjectAltNames}, the {@code sni} is checked the same way when written (Envoy's
 * {@code auto_san_validation} against the SNI Istio sets); with neither, the chain alone.
 * {@code sni} is sent as the TLS server name.
 *
 * <p>Equal when the spec and the bytes of its files are: a new generation with the same rule
 * keeps using pooled connections. A rule whose files cannot be read or used is {@link #broken}:
 * connections fail closed (503 UF), never in plaintext.
 */
final class UpstreamTls {
    private final TlsSpec spec;
    private final SslContext context;
    private final String broken;
    private final String fingerprint;

    private UpstreamTls(TlsSpec spec, SslContext context, String broken, String fingerprint) {
        this.spec = spec;
        this.context = context;
        this.broken = broken;
        this.fingerprint = fingerprint;
    }

    /** Reads the files of {@code spec} and builds its client context (a broken one says why). */
    static UpstreamTls compile(TlsSpec spec) {
        Objects.requireNonNull(spec, "spec");
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        String field = null;
        try {
            // Netty 4.2 verifies the host name itself by default; SANs are checked in verify() instead
            SslContextBuilder b = SslContextBuilder.forClient().endpointIdentificationAlgorithm(null);
            if (spec.insecureSkipVerify()) {
                b.trustManager(InsecureTrustManagerFactory.INSTANCE);
            } else if (spec.caCertificates() != null) {
                field = "caCertificates";
                byte[] ca = Files.readAllBytes(Path.of(spec.caCertificates()));
                digest.update(ca);
                b.trustManager(new ByteArrayInputStream(ca));
            }
            if (spec.mutual()) {
                field = "clientCertificate";
                byte[] cert = Files.readAllBytes(Path.of(spec.clientCertificate()));
                field = "privateKey";
                byte[] key = Files.readAllBytes(Path.of(spec.privateKey()));
                digest.update(cert);
                digest.update(key);
                field = "clientCertificate";
                b.keyManager(new ByteArrayInputStream(cert), new ByteArrayInputStream(key));
            }
            field = null;
            return new UpstreamTls(spec, b.build(), null, HexFormat.of().formatHex(digest.digest()));
        } catch (IOException | RuntimeException e) {
            String what = field == null ? "the client context" : switch (field) {
                case "caCertificates" -> spec.caCertificates();
                case "privateKey" -> spec.privateKey();
                default -> spec.clientCertificate();
            };
            return new UpstreamTls(spec, null, (field == null ? "tls" : field) + ": " + what + " cannot be used ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", "broken");
        }
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
        return spec.sni() != null ? context.newHandler(alloc, spec.sni(), port) : context.newHandler(alloc);
    }

    /** The names one of which the server certificate must carry; empty: the chain alone decides. */
    List<String> expectedNames() {
        if (spec.insecureSkipVerify()) {
            return List.of();
        }
        if (!spec.subjectAltNames().isEmpty()) {
            return spec.subjectAltNames();
        }
        return spec.sni() != null ? List.of(spec.sni()) : List.of();
    }

    /** Null when the handshake's peer is acceptable, else why not. */
    String verify(SSLSession session) {
        List<String> expected = expectedNames();
        if (expected.isEmpty()) {
            return null;
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
                && Objects.equals(t.broken, broken);
    }

    @Override
    public int hashCode() {
        return spec.hashCode() * 31 + fingerprint.hashCode();
    }

    @Override
    public String toString() {
        return (spec.mutual() ? "MUTUAL" : "SIMPLE") + (spec.sni() != null ? " sni=" + spec.sni() : "")
                + (expectedNames().isEmpty() ? "" : " san=" + expectedNames())
                + (spec.insecureSkipVerify() ? " insecureSkipVerify" : "") + (broken != null ? " BROKEN: " + broken : "");
    }
}
