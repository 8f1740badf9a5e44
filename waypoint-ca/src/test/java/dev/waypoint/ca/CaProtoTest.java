package dev.waypoint.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnknownFieldSet;
import java.io.ByteArrayOutputStream;
import org.junit.jupiter.api.Test;

/** The hand-written codec against protobuf-java. */
class CaProtoTest {
    @Test
    void requestIsWhatProtobufReadsAsIstioCertificateRequest() throws Exception {
        String csr = "-----BEGIN CERTIFICATE REQUEST-----\n" + "x".repeat(300) + "\n-----END CERTIFICATE REQUEST-----\n";
        UnknownFieldSet f = UnknownFieldSet.parseFrom(CaProto.request(csr, 86_400));
        assertThat(f.getField(1).getLengthDelimitedList()).containsExactly(ByteString.copyFromUtf8(csr));
        assertThat(f.getField(3).getVarintList()).containsExactly(86_400L);
        assertThat(f.asMap()).containsOnlyKeys(1, 3);
    }

    @Test
    void responseChainIsReadInOrderSkippingUnknownFields() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        out.writeInt64(9, -1);                 // varint, 10 bytes
        out.writeString(1, "leaf");
        out.writeFixed64(10, 7);
        out.writeString(2, "not the chain");
        out.writeFixed32(11, 7);
        out.writeString(1, "root");
        out.flush();
        assertThat(CaProto.certChain(bytes.toByteArray())).containsExactly("leaf", "root");
        assertThat(CaProto.certChain(new byte[0])).isEmpty();
    }

    @Test
    void malformedResponsesAreRefusedWithAReason() {
        assertThatThrownBy(() -> CaProto.certChain(new byte[] {0x0a, 0x05, 'a'}))
                .hasMessageContaining("field 1 length 5 (expected: <= 1)");
        assertThatThrownBy(() -> CaProto.certChain(new byte[] {0x0b}))
                .hasMessageContaining("wire type 3");
        assertThatThrownBy(() -> CaProto.certChain(new byte[] {(byte) 0x80}))
                .hasMessageContaining("truncated varint");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"1, 1m", "10000, 10000m", "99999999, 99999999m", "100000000, 100000S"})
    void grpcTimeoutHasAtMostEightDigits(long millis, String header) {
        assertThat(GrpcUnaryCall.grpcTimeout(millis)).isEqualTo(header);
    }
}
