package dev.waypoint.model.traffic;

import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.Objects;

/**
 * A Secret holding TLS material, read as Istio's credential controller reads the Secrets a
 * DestinationRule's {@code tls.credentialName} names ({@code ExtractCertInfo} and
 * {@code ExtractRoot} in {@code pilot/pkg/credentials/kube/secrets.go}): the generic keys
 * {@code cert}, {@code key} and {@code cacert} first, then a TLS Secret's {@code tls.crt},
 * {@code tls.key} and {@code ca.crt}. An empty value counts as absent. Only these three parts are
 * kept; {@link #toString()} never shows them (a private key must not reach a log or
 * {@code /config_dump}).
 *
 * @param name the Secret
 * @param certificateChain PEM of the client certificate chain ({@code cert}, else {@code tls.crt}), or null
 * @param privateKey PEM of its key ({@code key}, else {@code tls.key}), or null; only with a chain
 * @param caCertificates PEM of the roots that verify a server ({@code cacert}, else {@code ca.crt}), or null
 * @param source where the Secret was read
 */
public record TlsSecretSpec(NamespacedName name, String certificateChain, String privateKey, String caCertificates,
                            SourceRef source) {
    public TlsSecretSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        if ((certificateChain == null) != (privateKey == null)) {
            throw new IllegalArgumentException("certificateChain and privateKey: one without the other");
        }
    }

    /** Whether it holds a client certificate and key. */
    public boolean hasCertificate() {
        return certificateChain != null;
    }

    @Override
    public String toString() {
        return "TlsSecret[" + name + (hasCertificate() ? " cert+key" : "") + (caCertificates != null ? " ca" : "") + "]";
    }
}
