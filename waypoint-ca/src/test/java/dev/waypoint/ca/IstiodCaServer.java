package dev.waypoint.ca;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.testing.TestCa;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * A stand-in istiod: a real gRPC server (grpc-java over TLS) serving {@code
 * istio.v1.auth.IstioCertificateService/CreateCertificate} from {@code istio/api}'s {@code
 * ca.proto}, decoded and encoded with protobuf-java (not with the client's codec). It does what
 * istiod's CA server does with a request: authenticates the bearer token (here: a fixed map from
 * token to identity instead of a TokenReview), checks the CSR's signature and that its only SAN is
 * the caller's identity, and signs the CSR's key with the test CA, answering {@code [leaf, root]}
 * as istiod does. It can be told to fail with a status or to answer late.
 */
public final class IstiodCaServer implements AutoCloseable {
    public static final String SERVICE = "istio.v1.auth.IstioCertificateService";

    private final TestCa ca;
    private final Map<String, SpiffeId> tokens = new ConcurrentHashMap<>();
    private final Server server;
    private final ScheduledExecutorService delays = Executors.newSingleThreadScheduledExecutor();
    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    public volatile Status failWith;
    public volatile Duration delay = Duration.ZERO;
    public volatile Duration lifetime = Duration.ofHours(1);

    /** One request as the server saw it. */
    public record Request(String authorization, String clusterId, String csrSan, long validitySeconds) {}

    /**
     * @param servingDir where the server's certificate for {@code names} is written (Istio's layout)
     */
    public IstiodCaServer(TestCa ca, String bindHost, Path servingDir, String... names) throws IOException {
        this.ca = ca;
        TestCa.Issued serving = ca.issueServer(names);
        serving.writeIstioLayout(servingDir);
        MethodDescriptor<byte[], byte[]> method = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "CreateCertificate"))
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        ServerServiceDefinition service = ServerServiceDefinition.builder(SERVICE)
                .addMethod(method, new Handler()).build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress(bindHost, 0),
                        TlsServerCredentials.create(servingDir.resolve("cert-chain.pem").toFile(),
                                servingDir.resolve("key.pem").toFile()))
                .addService(service).build().start();
    }

    public int port() {
        return server.getPort();
    }

    /** Accept {@code token} as the service account of {@code id}. */
    public void allow(String token, SpiffeId id) {
        tokens.put(token, id);
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        delays.shutdownNow();
    }

    private final class Handler implements ServerCallHandler<byte[], byte[]> {
        @Override
        public ServerCall.Listener<byte[]> startCall(ServerCall<byte[], byte[]> call, Metadata headers) {
            call.request(1);
            return new ServerCall.Listener<>() {
                @Override
                public void onMessage(byte[] message) {
                    Reply r = answer(headers, message);
                    Runnable send = () -> {
                        if (r.status.isOk()) {
                            call.sendHeaders(new Metadata());
                            call.sendMessage(r.message);
                        }
                        call.close(r.status, new Metadata());
                    };
                    Duration d = delay;
                    if (d.isZero()) {
                        send.run();
                    } else {
                        delays.schedule(send, d.toMillis(), TimeUnit.MILLISECONDS);
                    }
                }
            };
        }
    }

    private record Reply(Status status, byte[] message) {}

    private Reply answer(Metadata headers, byte[] message) {
        String auth = headers.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER));
        String clusterId = headers.get(Metadata.Key.of("ClusterID", Metadata.ASCII_STRING_MARSHALLER));
        UnknownFieldSet req;
        try {
            req = UnknownFieldSet.parseFrom(message);
        } catch (InvalidProtocolBufferException e) {
            return new Reply(Status.INVALID_ARGUMENT.withDescription("not an IstioCertificateRequest"), null);
        }
        String csrPem = req.hasField(1) ? req.getField(1).getLengthDelimitedList().get(0).toStringUtf8() : "";
        long validity = req.hasField(3) ? req.getField(3).getVarintList().get(0) : 0;
        String san = null;
        SpiffeId caller = null;
        Status refusal = null;
        if (auth == null || !auth.startsWith("Bearer ") || !tokens.containsKey(auth.substring(7))) {
            refusal = Status.UNAUTHENTICATED.withDescription("request authenticate failure");
        } else {
            caller = tokens.get(auth.substring(7));
            try {
                PKCS10CertificationRequest csr;
                try (PEMParser p = new PEMParser(new StringReader(csrPem))) {
                    csr = (PKCS10CertificationRequest) p.readObject();
                }
                PublicKey key = KeyFactory.getInstance("EC")
                        .generatePublic(new X509EncodedKeySpec(csr.getSubjectPublicKeyInfo().getEncoded()));
                if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key))) {
                    refusal = Status.INVALID_ARGUMENT.withDescription("CSR signature invalid");
                }
                Extensions ext = Extensions.getInstance(
                        csr.getAttributes(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)[0].getAttrValues().getObjectAt(0));
                GeneralName[] names = GeneralNames.fromExtensions(ext, Extension.subjectAlternativeName).getNames();
                san = names.length == 1 && names[0].getTagNo() == GeneralName.uniformResourceIdentifier
                        ? names[0].getName().toString() : List.of(names).toString();
                if (refusal == null && !caller.uri().equals(san)) {
                    refusal = Status.UNAUTHENTICATED.withDescription("requested identity " + san
                            + " does not match the caller " + caller.uri());
                }
                if (refusal == null && failWith == null) {
                    X509Certificate leaf = ca.sign(caller, key, lifetime);
                    requests.add(new Request(auth, clusterId, san, validity));
                    return new Reply(Status.OK, response(List.of(pem(leaf), pem(ca.root()))));
                }
            } catch (Exception e) {
                refusal = Status.INVALID_ARGUMENT.withDescription("CSR parse error: " + e);
            }
        }
        requests.add(new Request(auth, clusterId, san, validity));
        return new Reply(refusal != null ? refusal : failWith, null);
    }

    /** {@code IstioCertificateResponse{cert_chain}} through protobuf-java. */
    private static byte[] response(List<String> chain) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        for (String c : chain) {
            out.writeBytes(1, ByteString.copyFromUtf8(c));
        }
        // an unknown field, which a client must skip
        out.writeInt64(7, 42);
        out.flush();
        return bytes.toByteArray();
    }

    static String pem(X509Certificate c) {
        try {
            return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(c.getEncoded())
                    + "\n-----END CERTIFICATE-----\n";
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };
}
