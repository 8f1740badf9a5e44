package dev.waypoint.authz;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The protobuf wire form of the two messages of {@code envoy.service.auth.v3.Authorization/Check}:
 * {@code CheckRequest} written, {@code CheckResponse} read. Hand-written over the protobuf
 * encoding (varints and length-delimited fields) for the fields ext_authz uses, so the product
 * carries no protobuf runtime: the generated Envoy API classes are a 30 MB jar. The field numbers
 * are those of {@code envoy/service/auth/v3/{external_auth,attribute_context}.proto},
 * {@code envoy/config/core/v3/{address,base}.proto}, {@code envoy/type/v3/http_status.proto} and
 * {@code google/rpc/status.proto}; {@code CheckProtoTest} checks both directions against the
 * generated classes of {@code io.envoyproxy.controlplane:api}.
 *
 * <p>Unknown fields of a response are skipped, as protobuf parsers do.
 */
final class CheckProto {
    private CheckProto() {}

    /** {@code AttributeContext.Peer}: an address and a principal (either may be null). */
    record Peer(String ip, int port, String principal) {}

    /** What goes into {@code CheckRequest.attributes}. */
    record Request(Peer source, Peer destination, long epochSeconds, int nanos, String id, String method,
                   List<Map.Entry<String, String>> headers, String path, String host, String scheme, long size,
                   String protocol) {}

    // ---- CheckRequest

    static byte[] encode(Request r) {
        Out http = new Out();
        http.string(1, r.id());
        http.string(2, r.method());
        for (Map.Entry<String, String> h : r.headers()) {
            Out entry = new Out();
            entry.string(1, h.getKey());
            entry.string(2, h.getValue());
            http.message(3, entry);
        }
        http.string(4, r.path());
        http.string(5, r.host());
        http.string(6, r.scheme());
        http.int64(9, r.size());
        http.string(10, r.protocol());

        Out time = new Out();
        time.int64(1, r.epochSeconds());
        time.int64(2, r.nanos());
        Out request = new Out();
        request.message(1, time);
        request.message(2, http);

        Out attributes = new Out();
        if (r.source() != null) {
            attributes.message(1, peer(r.source()));
        }
        if (r.destination() != null) {
            attributes.message(2, peer(r.destination()));
        }
        attributes.message(4, request);
        Out check = new Out();
        check.message(1, attributes);
        return check.bytes();
    }

    private static Out peer(Peer p) {
        Out peer = new Out();
        if (p.ip() != null) {
            Out socket = new Out();
            // protocol TCP is 0, the default: not written
            socket.string(2, p.ip());
            socket.int64(3, p.port());
            Out address = new Out();
            address.message(1, socket);
            peer.message(1, address);
        }
        peer.string(4, p.principal());
        return peer;
    }

    /** A protobuf message being written; fields at their default values are left out, as protobuf does. */
    private static final class Out {
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        void string(int field, String s) {
            if (s == null || s.isEmpty()) {
                return;
            }
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void bytes(int field, byte[] b) {
            varint(((long) field << 3) | 2);
            varint(b.length);
            buf.write(b, 0, b.length);
        }

        void message(int field, Out m) {
            bytes(field, m.bytes());
        }

        void int64(int field, long v) {
            if (v == 0) {
                return;
            }
            varint((long) field << 3);
            varint(v);
        }

        private void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                buf.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            buf.write((int) v);
        }

        byte[] bytes() {
            return buf.toByteArray();
        }
    }

    // ---- CheckResponse

    /** {@code HeaderValueOption}: a header and how to apply it. */
    record HeaderOption(String name, String value, Apply apply) {}

    /** How a header of an OK response is applied to the upstream request. */
    enum Apply {
        /** Replace every value (the default of {@code OkHttpResponse.headers}: "append ... defaults to false"). */
        SET,
        /** Add one more value ({@code append: true}, or {@code APPEND_IF_EXISTS_OR_ADD}). */
        APPEND,
        /** {@code ADD_IF_ABSENT}. */
        ADD_IF_ABSENT,
        /** {@code OVERWRITE_IF_EXISTS}. */
        OVERWRITE_IF_EXISTS
    }

    /**
     * A decoded {@code CheckResponse}.
     *
     * @param code {@code status.code} (0: OK)
     * @param deniedStatus {@code denied_response.status.code}, 0 when unset
     * @param deniedHeaders {@code denied_response.headers}
     * @param deniedBody {@code denied_response.body}
     * @param okHeaders {@code ok_response.headers}
     * @param okRemove {@code ok_response.headers_to_remove}
     * @param okResponseHeaders {@code ok_response.response_headers_to_add}
     */
    record Response(int code, String message, int deniedStatus, List<HeaderOption> deniedHeaders, String deniedBody,
                    List<HeaderOption> okHeaders, List<String> okRemove, List<HeaderOption> okResponseHeaders) {}

    /** A protobuf message that is not one: a truncated field, a bad wire type. */
    static final class Malformed extends Exception {
        private static final long serialVersionUID = 1L;

        Malformed(String message) {
            super(message);
        }
    }

    static Response decode(byte[] bytes) throws Malformed {
        In in = new In(bytes, 0, bytes.length);
        int code = 0;
        String message = "";
        int deniedStatus = 0;
        List<HeaderOption> deniedHeaders = new ArrayList<>();
        String deniedBody = "";
        List<HeaderOption> okHeaders = new ArrayList<>();
        List<String> okRemove = new ArrayList<>();
        List<HeaderOption> okResponseHeaders = new ArrayList<>();
        while (in.more()) {
            long tag = in.varint();
            int field = (int) (tag >>> 3);
            int type = (int) (tag & 7);
            if (field == 1 && type == 2) { // google.rpc.Status status
                In s = in.sub();
                while (s.more()) {
                    long t = s.varint();
                    if (t == (1 << 3)) {
                        code = (int) s.varint();
                    } else if (t == ((2 << 3) | 2)) {
                        message = s.string();
                    } else {
                        s.skip((int) (t & 7));
                    }
                }
            } else if (field == 2 && type == 2) { // DeniedHttpResponse denied_response
                In d = in.sub();
                while (d.more()) {
                    long t = d.varint();
                    int f = (int) (t >>> 3);
                    if (f == 1 && (t & 7) == 2) { // type.v3.HttpStatus status
                        In hs = d.sub();
                        while (hs.more()) {
                            long u = hs.varint();
                            if (u == (1 << 3)) {
                                deniedStatus = (int) hs.varint();
                            } else {
                                hs.skip((int) (u & 7));
                            }
                        }
                    } else if (f == 2 && (t & 7) == 2) {
                        deniedHeaders.add(headerOption(d.sub()));
                    } else if (f == 3 && (t & 7) == 2) {
                        deniedBody = d.string();
                    } else {
                        d.skip((int) (t & 7));
                    }
                }
            } else if (field == 3 && type == 2) { // OkHttpResponse ok_response
                In o = in.sub();
                while (o.more()) {
                    long t = o.varint();
                    int f = (int) (t >>> 3);
                    if (f == 2 && (t & 7) == 2) {
                        okHeaders.add(headerOption(o.sub()));
                    } else if (f == 5 && (t & 7) == 2) {
                        okRemove.add(o.string());
                    } else if (f == 6 && (t & 7) == 2) {
                        okResponseHeaders.add(headerOption(o.sub()));
                    } else {
                        o.skip((int) (t & 7));
                    }
                }
            } else {
                in.skip(type);
            }
        }
        return new Response(code, message, deniedStatus, deniedHeaders, deniedBody, okHeaders, okRemove,
                okResponseHeaders);
    }

    private static HeaderOption headerOption(In in) throws Malformed {
        String key = "";
        String value = null;
        byte[] raw = null;
        Boolean append = null;
        int action = 0;
        while (in.more()) {
            long t = in.varint();
            int f = (int) (t >>> 3);
            if (f == 1 && (t & 7) == 2) { // HeaderValue header
                In h = in.sub();
                while (h.more()) {
                    long u = h.varint();
                    if (u == ((1 << 3) | 2)) {
                        key = h.string();
                    } else if (u == ((2 << 3) | 2)) {
                        value = h.string();
                    } else if (u == ((3 << 3) | 2)) {
                        raw = h.raw();
                    } else {
                        h.skip((int) (u & 7));
                    }
                }
            } else if (f == 2 && (t & 7) == 2) { // google.protobuf.BoolValue append
                In b = in.sub();
                append = false;
                while (b.more()) {
                    long u = b.varint();
                    if (u == (1 << 3)) {
                        append = b.varint() != 0;
                    } else {
                        b.skip((int) (u & 7));
                    }
                }
            } else if (f == 3 && (t & 7) == 0) {
                action = (int) in.varint();
            } else {
                in.skip((int) (t & 7));
            }
        }
        String v = value != null ? value : raw != null ? new String(raw, StandardCharsets.UTF_8) : "";
        Apply apply;
        if (append != null) {
            apply = append ? Apply.APPEND : Apply.SET;
        } else {
            apply = switch (action) {
                case 1 -> Apply.ADD_IF_ABSENT;
                case 3 -> Apply.OVERWRITE_IF_EXISTS;
                default -> Apply.SET; // 0 unset (the message's default: no append), 2 OVERWRITE_IF_EXISTS_OR_ADD
            };
        }
        return new HeaderOption(key.toLowerCase(java.util.Locale.ROOT), v, apply);
    }

    /** A protobuf message being read. */
    private static final class In {
        private final byte[] b;
        private int pos;
        private final int end;

        In(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        boolean more() {
            return pos < end;
        }

        long varint() throws Malformed {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new Malformed("truncated varint");
                }
                int x = b[pos++];
                v |= (long) (x & 0x7F) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
            throw new Malformed("varint longer than 10 bytes");
        }

        private int length() throws Malformed {
            long n = varint();
            if (n < 0 || n > end - pos) {
                throw new Malformed("length " + n + " past the end of the message");
            }
            return (int) n;
        }

        In sub() throws Malformed {
            int n = length();
            In s = new In(b, pos, pos + n);
            pos += n;
            return s;
        }

        byte[] raw() throws Malformed {
            int n = length();
            byte[] out = java.util.Arrays.copyOfRange(b, pos, pos + n);
            pos += n;
            return out;
        }

        String string() throws Malformed {
            int n = length();
            String s = new String(b, pos, n, StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        void skip(int wireType) throws Malformed {
            switch (wireType) {
                case 0 -> varint();
                case 1 -> advance(8);
                case 2 -> advance(length());
                case 5 -> advance(4);
                default -> throw new Malformed("wire type " + wireType + " not supported");
            }
        }

        private void advance(int n) throws Malformed {
            if (n > end - pos) {
                throw new Malformed("field past the end of the message");
            }
            pos += n;
        }
    }
}
