package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.BoolValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.envoyproxy.envoy.service.auth.v3.DeniedHttpResponse;
import io.envoyproxy.envoy.service.auth.v3.OkHttpResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.envoyproxy.envoy.type.v3.StatusCode;
import java.util.AbstractMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The hand-written codec against the generated Envoy API classes, both directions. */
class CheckProtoTest {
    @Test
    void aCheckRequestParsesAsEnvoysCheckRequest() throws Exception {
        byte[] bytes = CheckProto.encode(new CheckProto.Request(
                new CheckProto.Peer("10.0.1.10", 40000, "spiffe://cluster.local/ns/ns1/sa/a"),
                new CheckProto.Peer("10.96.0.20", 8080, null), 1_700_000_000L, 123_000_000, "req-1", "POST",
                List.of(new AbstractMap.SimpleImmutableEntry<>(":path", "/x?y=1"),
                        new AbstractMap.SimpleImmutableEntry<>("x-ext-authz", "allow")),
                "/x?y=1", "b.ns1:8080", "http", -1, "HTTP/1.1"));

        CheckRequest r = CheckRequest.parseFrom(bytes);

        AttributeContext a = r.getAttributes();
        assertThat(a.getSource().getAddress().getSocketAddress().getAddress()).isEqualTo("10.0.1.10");
        assertThat(a.getSource().getAddress().getSocketAddress().getPortValue()).isEqualTo(40000);
        assertThat(a.getSource().getPrincipal()).isEqualTo("spiffe://cluster.local/ns/ns1/sa/a");
        assertThat(a.getDestination().getAddress().getSocketAddress().getAddress()).isEqualTo("10.96.0.20");
        assertThat(a.getDestination().getAddress().getSocketAddress().getPortValue()).isEqualTo(8080);
        assertThat(a.getDestination().getPrincipal()).isEmpty();
        assertThat(a.getRequest().getTime().getSeconds()).isEqualTo(1_700_000_000L);
        assertThat(a.getRequest().getTime().getNanos()).isEqualTo(123_000_000);
        AttributeContext.HttpRequest h = a.getRequest().getHttp();
        assertThat(h.getId()).isEqualTo("req-1");
        assertThat(h.getMethod()).isEqualTo("POST");
        assertThat(h.getHeadersMap()).isEqualTo(Map.of(":path", "/x?y=1", "x-ext-authz", "allow"));
        assertThat(h.getPath()).isEqualTo("/x?y=1");
        assertThat(h.getHost()).isEqualTo("b.ns1:8080");
        assertThat(h.getScheme()).isEqualTo("http");
        assertThat(h.getSize()).isEqualTo(-1);
        assertThat(h.getProtocol()).isEqualTo("HTTP/1.1");
        assertThat(r.toByteArray()).as("nothing unknown or left over").isEqualTo(bytes);
    }

    @Test
    void anOkCheckResponseIsRead() throws Exception {
        CheckResponse ok = CheckResponse.newBuilder()
                .setStatus(com.google.rpc.Status.newBuilder().setCode(0))
                .setOkResponse(OkHttpResponse.newBuilder()
                        .addHeaders(option("x-user", "alice", null, null))
                        .addHeaders(option("x-tag", "one", true, null))
                        .addHeaders(option("x-maybe", "m", null, HeaderValueOption.HeaderAppendAction.ADD_IF_ABSENT))
                        .addHeaders(option("x-only", "o", null, HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS))
                        .addHeaders(HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey("X-Raw")
                                .setRawValue(com.google.protobuf.ByteString.copyFromUtf8("raw"))))
                        .addHeadersToRemove("authorization")
                        .addResponseHeadersToAdd(option("set-cookie", "s=1", null, null)))
                .build();

        CheckProto.Response r = CheckProto.decode(ok.toByteArray());

        assertThat(r.code()).isZero();
        assertThat(r.okHeaders()).containsExactly(
                new CheckProto.HeaderOption("x-user", "alice", CheckProto.Apply.SET),
                new CheckProto.HeaderOption("x-tag", "one", CheckProto.Apply.APPEND),
                new CheckProto.HeaderOption("x-maybe", "m", CheckProto.Apply.ADD_IF_ABSENT),
                new CheckProto.HeaderOption("x-only", "o", CheckProto.Apply.OVERWRITE_IF_EXISTS),
                new CheckProto.HeaderOption("x-raw", "raw", CheckProto.Apply.SET));
        assertThat(r.okRemove()).containsExactly("authorization");
        assertThat(r.okResponseHeaders()).containsExactly(new CheckProto.HeaderOption("set-cookie", "s=1", CheckProto.Apply.SET));
    }

    @Test
    void aDeniedCheckResponseIsRead() throws Exception {
        CheckResponse denied = CheckResponse.newBuilder()
                .setStatus(com.google.rpc.Status.newBuilder().setCode(7).setMessage("no"))
                .setDeniedResponse(DeniedHttpResponse.newBuilder()
                        .setStatus(HttpStatus.newBuilder().setCode(StatusCode.Unauthorized))
                        .addHeaders(option("www-authenticate", "Bearer", null, null))
                        .setBody("denied by ext_authz"))
                .build();

        CheckProto.Response r = CheckProto.decode(denied.toByteArray());

        assertThat(r.code()).isEqualTo(7);
        assertThat(r.message()).isEqualTo("no");
        assertThat(r.deniedStatus()).isEqualTo(401);
        assertThat(r.deniedHeaders()).extracting(CheckProto.HeaderOption::name, CheckProto.HeaderOption::value)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("www-authenticate", "Bearer"));
        assertThat(r.deniedBody()).isEqualTo("denied by ext_authz");
    }

    @Test
    void unknownFieldsAreSkippedAndTruncatedMessagesRefused() throws Exception {
        byte[] withExtra = CheckResponse.newBuilder()
                .setStatus(com.google.rpc.Status.newBuilder().setCode(0)
                        .addDetails(com.google.protobuf.Any.newBuilder().setTypeUrl("x/y")))
                .setDynamicMetadata(com.google.protobuf.Struct.newBuilder().putFields("k",
                        com.google.protobuf.Value.newBuilder().setNumberValue(1.5).build()))
                .build().toByteArray();
        assertThat(CheckProto.decode(withExtra).code()).isZero();

        byte[] cut = java.util.Arrays.copyOf(withExtra, withExtra.length - 3);
        assertThatThrownBy(() -> CheckProto.decode(cut)).isInstanceOf(CheckProto.Malformed.class);
        assertThatThrownBy(() -> CheckProto.decode(new byte[] {(byte) 0x0F})).isInstanceOf(CheckProto.Malformed.class);
        assertThatThrownBy(() -> CheckProto.decode(new byte[] {(byte) 0x80, (byte) 0x80})).isInstanceOf(CheckProto.Malformed.class);
    }

    private static HeaderValueOption option(String k, String v, Boolean append, HeaderValueOption.HeaderAppendAction action) {
        HeaderValueOption.Builder b = HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(k).setValue(v));
        if (append != null) {
            b.setAppend(BoolValue.of(append));
        }
        if (action != null) {
            b.setAppendAction(action);
        }
        return b.build();
    }
}
