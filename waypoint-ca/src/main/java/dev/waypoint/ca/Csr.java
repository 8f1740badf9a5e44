package dev.waypoint.ca;

import dev.waypoint.model.mesh.SpiffeId;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * A fresh EC P-256 key and the PKCS#10 request for it, as istio-agent makes them
 * ({@code pkg/security/pkiutil.GenCSR} with {@code ECC_SIGNATURE_ALGORITHM=ECDSA}): an empty subject
 * and the SPIFFE ID as the only SAN, a critical URI (RFC 5280 4.2.1.6: with an empty subject the SAN
 * extension must be critical), signed with ECDSA-SHA256.
 *
 * @param keys the new key pair; the private key never leaves this process
 * @param pem the request, PEM ({@code CERTIFICATE REQUEST}), as {@code IstioCertificateRequest.csr} wants it
 */
record Csr(KeyPair keys, String pem) {

    static Csr create(SpiffeId id) {
        KeyPair keys;
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            keys = g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 is required of every JVM", e);
        }
        try {
            ExtensionsGenerator ext = new ExtensionsGenerator();
            ext.addExtension(Extension.subjectAlternativeName, true,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.uri())));
            PKCS10CertificationRequest req = new JcaPKCS10CertificationRequestBuilder(new X500Name(new RDN[0]),
                    keys.getPublic())
                    .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()));
            StringWriter out = new StringWriter();
            try (JcaPEMWriter w = new JcaPEMWriter(out)) {
                w.writeObject(req);
            }
            return new Csr(keys, out.toString());
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("cannot sign a CSR with ECDSA-SHA256", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the CSR for " + id, e);
        }
    }
}
