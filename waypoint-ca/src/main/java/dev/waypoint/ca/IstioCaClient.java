package dev.waypoint.ca;

import static java.util.Objects.requireNonNull;

import dev.waypoint.identity.TlsMaterial;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * {@code istio.v1.auth.IstioCertificateService/CreateCertificate}, as istio-agent's citadel client
 * calls it ({@code security/pkg/nodeagent/caclient/providers/citadel/client.go}): gRPC over TLS
 * verified against the mesh root (and the CA's host name), {@code authorization: Bearer <token>}
 * and the {@code ClusterID} header, a PEM CSR and the requested lifetime in seconds.
 *
 * <p>The token and the root are read from their files for every call. The answer is checked before
 * it is used: the leaf must carry the requested SPIFFE ID and match the CSR's key, and
 * {@link TlsMaterial#of} must accept it.
 *
 * <h2>Threading</h2>
 * {@link #issue} reads two small files on the calling thread (call it off the event loops), runs
 * the call on the event loop group, and checks the answer on the given executor, where the future
 * completes.
 */
final class IstioCaClient {
    static final String PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

    private final CaSettings settings;
    private final EventLoopGroup group;

    IstioCaClient(CaSettings settings, EventLoopGroup group) {
        this.settings = requireNonNull(settings, "settings");
        this.group = requireNonNull(group, "group");
    }

    /**
     * A new key, a CSR for it, the call, and the checked material.
     *
     * @param checkOn where the answer is parsed and its SSL contexts are built (off the event loop)
     */
    CompletableFuture<TlsMaterial> issue(Executor checkOn) {
        List<X509Certificate> roots;
        String token;
        SslContext ssl;
        try {
            roots = certificates(read("--ca-root-cert", settings.rootCert()), "--ca-root-cert " + settings.rootCert());
            token = new String(read("--ca-token", settings.token()), StandardCharsets.UTF_8).strip();
            if (token.isEmpty()) {
                throw new IOException("--ca-token " + settings.token() + ": empty (expected: a service-account token)");
            }
            ssl = SslContextBuilder.forClient()
                    .trustManager(roots)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .endpointIdentificationAlgorithm("HTTPS")
                    .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                            ApplicationProtocolNames.HTTP_2))
                    .build();
        } catch (IOException | IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new CaCallException(e.getMessage(), -1, e));
        }
        Csr csr = Csr.create(settings.identity());
        byte[] request = CaProto.request(csr.pem(), settings.lifetime().toSeconds());
        Map<String, String> metadata = Map.of("authorization", "Bearer " + token,
                "clusterid", settings.clusterId());
        return GrpcUnaryCall.call(group, ssl, settings.host(), settings.port(), PATH, metadata, request,
                settings.callTimeout()).thenApplyAsync(response -> material(response, csr, roots), checkOn);
    }

    private TlsMaterial material(byte[] response, Csr csr, List<X509Certificate> roots) {
        List<String> pems;
        try {
            pems = CaProto.certChain(response);
        } catch (IllegalArgumentException e) {
            throw new CaResponseException(e.getMessage(), e);
        }
        if (pems.isEmpty()) {
            throw new CaResponseException("IstioCertificateResponse: cert_chain empty (expected: leaf first)", null);
        }
        List<X509Certificate> chain = new ArrayList<>();
        for (int i = 0; i < pems.size(); i++) {
            for (X509Certificate c : certificates(pems.get(i).getBytes(StandardCharsets.UTF_8), "cert_chain[" + i + "]")) {
                // istiod appends the root last; roots come from --ca-root-cert, the chain stops below them
                if (!chain.isEmpty() && c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
                    continue;
                }
                chain.add(c);
            }
        }
        try {
            TlsMaterial m = TlsMaterial.of(chain.toArray(X509Certificate[]::new), csr.keys().getPrivate(), roots);
            if (!m.identity().equals(settings.identity())) {
                throw new CaResponseException("cert_chain[0]: issued for " + m.identity().uri() + " (expected: "
                        + settings.identity().uri() + ')', null);
            }
            return m;
        } catch (IllegalArgumentException e) {
            throw new CaResponseException("IstioCertificateResponse: " + e.getMessage(), e);
        }
    }

    private static byte[] read(String flag, java.nio.file.Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException(flag + " " + file + ": not found (mounted by Istio's templates: "
                    + (flag.equals("--ca-token") ? "the projected token of audience istio-ca"
                            : "the istio-ca-root-cert ConfigMap") + ')', e);
        } catch (IOException e) {
            throw new IOException(flag + " " + file + ": cannot read (" + e + ')', e);
        }
    }

    private static List<X509Certificate> certificates(byte[] pem, String label) {
        try {
            List<X509Certificate> out = new ArrayList<>();
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException(label + ": no certificate (expected: PEM CERTIFICATE blocks)");
            }
            return out;
        } catch (CertificateException e) {
            throw new IllegalArgumentException(label + ": not PEM certificates (" + e.getMessage() + ')', e);
        }
    }

    /** A response that parsed as gRPC but carries no usable certificate. */
    static final class CaResponseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CaResponseException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
