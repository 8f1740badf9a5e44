package dev.waypoint.ca;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The two messages of {@code istio/api security/v1alpha1/ca.proto}, encoded by hand (one string,
 * one integer out; a repeated string back), so that the product needs no protobuf runtime:
 *
 * <pre>
 * message IstioCertificateRequest {
 *   string csr = 1;
 *   int64 validity_duration = 3;          // seconds
 *   google.protobuf.Struct metadata = 4;  // not sent: istio-agent only fills it for CertSigner
 * }
 * message IstioCertificateResponse {
 *   repeated string cert_chain = 1;
 * }
 * </pre>
 *
 * Unknown response fields are skipped, as protobuf requires.
 */
final class CaProto {
    private static final int WIRE_VARINT = 0;
    private static final int WIRE_FIXED64 = 1;
    private static final int WIRE_LEN = 2;
    private static final int WIRE_FIXED32 = 5;

    private CaProto() {}

    /** {@code IstioCertificateRequest{csr, validity_duration}}. */
    static byte[] request(String csrPem, long validitySeconds) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(csrPem.length() + 16);
        byte[] csr = csrPem.getBytes(StandardCharsets.UTF_8);
        varint(out, (1 << 3) | WIRE_LEN);
        varint(out, csr.length);
        out.writeBytes(csr);
        if (validitySeconds != 0) {
            varint(out, (3 << 3) | WIRE_VARINT);
            varint(out, validitySeconds);
        }
        return out.toByteArray();
    }

    /**
     * {@code IstioCertificateResponse.cert_chain}.
     *
     * @throws IllegalArgumentException if the bytes are not a well-formed message
     */
    static List<String> certChain(byte[] message) {
        List<String> chain = new ArrayList<>();
        int[] pos = {0};
        while (pos[0] < message.length) {
            long tag = readVarint(message, pos);
            int field = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            if (field == 0) {
                throw new IllegalArgumentException("IstioCertificateResponse: field number 0 (expected: >= 1)");
            }
            switch (wire) {
                case WIRE_VARINT -> readVarint(message, pos);
                case WIRE_FIXED64 -> skip(message, pos, 8);
                case WIRE_FIXED32 -> skip(message, pos, 4);
                case WIRE_LEN -> {
                    long len = readVarint(message, pos);
                    if (len < 0 || len > message.length - pos[0]) {
                        throw new IllegalArgumentException("IstioCertificateResponse: field " + field
                                + " length " + len + " (expected: <= " + (message.length - pos[0]) + ')');
                    }
                    if (field == 1) {
                        chain.add(new String(message, pos[0], (int) len, StandardCharsets.UTF_8));
                    }
                    pos[0] += (int) len;
                }
                default -> throw new IllegalArgumentException("IstioCertificateResponse: field " + field
                        + " wire type " + wire + " (expected: 0, 1, 2 or 5)");
            }
        }
        return chain;
    }

    private static void skip(byte[] b, int[] pos, int n) {
        if (n > b.length - pos[0]) {
            throw new IllegalArgumentException("IstioCertificateResponse: truncated");
        }
        pos[0] += n;
    }

    private static long readVarint(byte[] b, int[] pos) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos[0] >= b.length) {
                throw new IllegalArgumentException("IstioCertificateResponse: truncated varint");
            }
            byte x = b[pos[0]++];
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
        throw new IllegalArgumentException("IstioCertificateResponse: varint longer than 10 bytes");
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
