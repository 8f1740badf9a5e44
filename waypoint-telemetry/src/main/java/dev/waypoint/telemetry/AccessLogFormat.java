package dev.waypoint.telemetry;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * An access-log line format, compiled once per snapshot from Envoy's command operators
 * ({@code %START_TIME%}, {@code %REQ(:METHOD)%}, ...): MeshConfig {@code accessLogFormat} as
 * text, or as a JSON object when {@code accessLogEncoding: JSON}; with neither, Istio's defaults
 * ({@link #ISTIO_TEXT}, {@link #ISTIO_JSON}).
 *
 * <p>Values the waypoint does not have are {@code -} in text and {@code null} in JSON, as Envoy
 * writes them; numeric operators ({@code %RESPONSE_CODE%}, {@code %BYTES_RECEIVED%},
 * {@code %BYTES_SENT%}, {@code %DURATION%}, {@code %RESPONSE_DURATION%},
 * {@code %UPSTREAM_REQUEST_ATTEMPT_COUNT%}, {@code %GRPC_STATUS_NUMBER%}) are JSON numbers when a JSON value is exactly one
 * operator. An unknown operator is a compile error ({@link IllegalArgumentException}), as Envoy
 * refuses it.
 *
 * <p>Supported operators: {@link Op}. {@code %AUTHZ_DECISION%} is this waypoint's: the
 * AuthorizationPolicy decision in Envoy's form ({@code allowed[ns[apps]-policy[web]-rule[0]]},
 * {@code rbac_access_denied_matched_policy[ns[apps]-policy[deny]-rule[1]]}), {@code -} where
 * authorization did not run.
 *
 * <p>Immutable; rendering is pure.
 */
final class AccessLogFormat {
    /** Istio's default TEXT format (MeshConfig {@code accessLogFormat} unset; istio/istio {@code EnvoyTextLogFormat}). */
    static final String ISTIO_TEXT_FORMAT = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% "
            + "%PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
            + "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
            + "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
            + "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% "
            + "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
            + "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

    /**
     * Istio's default JSON fields ({@code accessLogEncoding: JSON}, no {@code accessLogFormat};
     * istio/istio {@code EnvoyJSONLogFormatIstio}). Keys are written sorted, as Envoy prints them.
     */
    static final Map<String, String> ISTIO_JSON_FIELDS = Map.ofEntries(
            Map.entry("start_time", "%START_TIME%"),
            Map.entry("route_name", "%ROUTE_NAME%"),
            Map.entry("method", "%REQ(:METHOD)%"),
            Map.entry("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
            Map.entry("protocol", "%PROTOCOL%"),
            Map.entry("response_code", "%RESPONSE_CODE%"),
            Map.entry("response_flags", "%RESPONSE_FLAGS%"),
            Map.entry("response_code_details", "%RESPONSE_CODE_DETAILS%"),
            Map.entry("connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%"),
            Map.entry("bytes_received", "%BYTES_RECEIVED%"),
            Map.entry("bytes_sent", "%BYTES_SENT%"),
            Map.entry("duration", "%DURATION%"),
            Map.entry("upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"),
            Map.entry("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
            Map.entry("user_agent", "%REQ(USER-AGENT)%"),
            Map.entry("request_id", "%REQ(X-REQUEST-ID)%"),
            Map.entry("authority", "%REQ(:AUTHORITY)%"),
            Map.entry("upstream_host", "%UPSTREAM_HOST%"),
            Map.entry("upstream_cluster", "%UPSTREAM_CLUSTER%"),
            Map.entry("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
            Map.entry("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
            Map.entry("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
            Map.entry("requested_server_name", "%REQUESTED_SERVER_NAME%"),
            Map.entry("upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"));

    static final AccessLogFormat ISTIO_TEXT = text(ISTIO_TEXT_FORMAT);
    static final AccessLogFormat ISTIO_JSON = json(ISTIO_JSON_FIELDS);

    /** Envoy's default {@code %START_TIME%}: {@code %Y-%m-%dT%H:%M:%S.%3fZ}, UTC. */
    private static final DateTimeFormatter START_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            Locale.ROOT).withZone(ZoneOffset.UTC);

    /** The command operators understood here (Envoy's names). */
    enum Op {
        START_TIME, REQ, RESP, PROTOCOL, RESPONSE_CODE(true), RESPONSE_FLAGS, RESPONSE_CODE_DETAILS,
        CONNECTION_TERMINATION_DETAILS, UPSTREAM_TRANSPORT_FAILURE_REASON, BYTES_RECEIVED(true), BYTES_SENT(true),
        DURATION(true), RESPONSE_DURATION(true), UPSTREAM_HOST, UPSTREAM_CLUSTER, UPSTREAM_LOCAL_ADDRESS,
        DOWNSTREAM_LOCAL_ADDRESS, DOWNSTREAM_REMOTE_ADDRESS, DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT,
        DOWNSTREAM_PEER_URI_SAN, REQUESTED_SERVER_NAME, ROUTE_NAME, UPSTREAM_REQUEST_ATTEMPT_COUNT(true),
        GRPC_STATUS_NUMBER(true), AUTHZ_DECISION;

        final boolean numeric;

        Op() {
            this(false);
        }

        Op(boolean numeric) {
            this.numeric = numeric;
        }
    }

    /** One piece of a format: a literal, or an operator with its header argument and length limit. */
    record Piece(String literal, Op op, String header, String altHeader, int maxLength) {
        static Piece literal(String s) {
            return new Piece(s, null, null, null, -1);
        }
    }

    /** The values one log entry (a request or a TCP tunnel) gives the operators. */
    interface Entry {
        /** The value of {@code op} ({@code header}: the REQ/RESP argument, lower case), or null when there is none. */
        String string(Op op, String header);

        /** The value of a numeric operator, or -1 when there is none. */
        long number(Op op);

        /** When the entry started. */
        Instant start();
    }

    private final List<Piece> text;
    /** JSON: key → pieces, keys sorted; null for text. */
    private final Map<String, List<Piece>> json;

    private AccessLogFormat(List<Piece> text, Map<String, List<Piece>> json) {
        this.text = text;
        this.json = json;
    }

    /** A text format; a line without a trailing newline gets one (Envoy adds it too). */
    static AccessLogFormat text(String format) {
        String f = format.endsWith("\n") ? format : format + "\n";
        return new AccessLogFormat(List.copyOf(parse(f)), null);
    }

    /** A JSON format: each value is a string of literals and operators. */
    static AccessLogFormat json(Map<String, String> fields) {
        Map<String, List<Piece>> out = new TreeMap<>();
        fields.forEach((k, v) -> out.put(k, List.copyOf(parse(v))));
        return new AccessLogFormat(null, java.util.Collections.unmodifiableMap(out));
    }

    /**
     * MeshConfig {@code accessLogFormat} under {@code accessLogEncoding: JSON}: a JSON object of
     * string values (Istio passes it to Envoy as {@code json_format}). Nested objects and
     * non-string values are refused here.
     */
    static AccessLogFormat jsonObject(String object) {
        return json(FlatJson.parse(object));
    }

    /** Whether this is a JSON format. */
    boolean isJson() {
        return json != null;
    }

    /** The line for {@code e}, ending in a newline. */
    String render(Entry e) {
        StringBuilder b = new StringBuilder(320);
        if (text != null) {
            for (Piece p : text) {
                appendText(b, p, e);
            }
            return b.toString();
        }
        b.append('{');
        boolean first = true;
        for (Map.Entry<String, List<Piece>> f : json.entrySet()) {
            if (!first) {
                b.append(',');
            }
            first = false;
            FlatJson.quote(b, f.getKey());
            b.append(':');
            List<Piece> pieces = f.getValue();
            if (pieces.size() == 1 && pieces.get(0).op() != null) {
                Piece p = pieces.get(0);
                if (p.op().numeric) {
                    long n = e.number(p.op());
                    b.append(n < 0 ? "null" : Long.toString(n));
                } else {
                    String v = value(p, e);
                    if (v == null) {
                        b.append("null");
                    } else {
                        FlatJson.quote(b, v);
                    }
                }
            } else {
                StringBuilder s = new StringBuilder();
                for (Piece p : pieces) {
                    appendText(s, p, e);
                }
                FlatJson.quote(b, s.toString());
            }
        }
        return b.append("}\n").toString();
    }

    private static void appendText(StringBuilder b, Piece p, Entry e) {
        if (p.op() == null) {
            b.append(p.literal());
            return;
        }
        if (p.op().numeric) {
            long n = e.number(p.op());
            b.append(n < 0 ? "-" : Long.toString(n));
            return;
        }
        String v = value(p, e);
        b.append(v == null || v.isEmpty() ? "-" : v);
    }

    private static String value(Piece p, Entry e) {
        String v;
        if (p.op() == Op.START_TIME) {
            v = START_TIME.format(e.start());
        } else {
            v = e.string(p.op(), p.header());
            if (v == null && p.altHeader() != null) {
                v = e.string(p.op(), p.altHeader());
            }
        }
        if (v != null && p.maxLength() >= 0 && v.length() > p.maxLength()) {
            v = v.substring(0, p.maxLength());
        }
        return v;
    }

    /** Splits a format into literals and operators; {@code %%} is a literal {@code %}. */
    static List<Piece> parse(String format) {
        List<Piece> out = new ArrayList<>();
        StringBuilder lit = new StringBuilder();
        int i = 0;
        while (i < format.length()) {
            char c = format.charAt(i);
            if (c != '%') {
                lit.append(c);
                i++;
                continue;
            }
            if (i + 1 < format.length() && format.charAt(i + 1) == '%') {
                lit.append('%');
                i += 2;
                continue;
            }
            // NAME, then an optional (argument) that may itself hold '%' (START_TIME(%s)), then :N
            int end = i + 1;
            while (end < format.length() && (Character.isUpperCase(format.charAt(end)) || format.charAt(end) == '_'
                    || Character.isDigit(format.charAt(end)))) {
                end++;
            }
            if (end < format.length() && format.charAt(end) == '(') {
                int close = format.indexOf(')', end);
                end = close < 0 ? -1 : format.indexOf('%', close);
            } else {
                end = format.indexOf('%', end);
            }
            if (end < 0) {
                throw new IllegalArgumentException("unterminated command operator at offset " + i + ": "
                        + format.substring(i));
            }
            if (!lit.isEmpty()) {
                out.add(Piece.literal(lit.toString()));
                lit.setLength(0);
            }
            out.add(operator(format.substring(i + 1, end)));
            i = end + 1;
        }
        if (!lit.isEmpty()) {
            out.add(Piece.literal(lit.toString()));
        }
        return out;
    }

    /** {@code NAME}, {@code NAME(arg)}, {@code NAME(arg):N}. */
    private static Piece operator(String s) {
        String name = s;
        String arg = null;
        int max = -1;
        int open = s.indexOf('(');
        if (open >= 0) {
            int close = s.indexOf(')', open);
            if (close < 0) {
                throw new IllegalArgumentException("%" + s + "%: no closing parenthesis");
            }
            name = s.substring(0, open);
            arg = s.substring(open + 1, close);
            String rest = s.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("%" + s + "%: expected :LENGTH after the parenthesis");
                }
                try {
                    max = Integer.parseInt(rest.substring(1));
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException("%" + s + "%: length " + rest.substring(1) + " is not a number");
                }
            }
        }
        Op op;
        try {
            op = Op.valueOf(name);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("%" + s + "%: unknown command operator (supported: "
                    + java.util.Arrays.toString(Op.values()) + ")");
        }
        boolean takesArg = op == Op.REQ || op == Op.RESP;
        if (takesArg && (arg == null || arg.isEmpty())) {
            throw new IllegalArgumentException("%" + s + "%: " + name + " needs a header name, as " + name + "(X-REQUEST-ID)");
        }
        if (!takesArg && arg != null && op != Op.START_TIME) {
            throw new IllegalArgumentException("%" + s + "%: " + name + " takes no argument");
        }
        if (op == Op.START_TIME && arg != null && !arg.isEmpty()) {
            throw new IllegalArgumentException("%" + s + "%: custom START_TIME formats are not supported");
        }
        String header = null;
        String alt = null;
        if (takesArg) {
            int q = arg.indexOf('?');
            header = (q < 0 ? arg : arg.substring(0, q)).toLowerCase(Locale.ROOT);
            alt = q < 0 ? null : arg.substring(q + 1).toLowerCase(Locale.ROOT);
        }
        return new Piece(null, op, header, alt, max);
    }

    /** Minimal JSON for flat objects of strings: the accessLogFormat object in, escaped strings out. */
    static final class FlatJson {
        private FlatJson() {}

        static void quote(StringBuilder b, String s) {
            b.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                    }
                }
            }
            b.append('"');
        }

        /** {@code {"k": "v", ...}} to an ordered map; refuses anything else with the offset. */
        static Map<String, String> parse(String s) {
            Map<String, String> out = new LinkedHashMap<>();
            int[] pos = {skip(s, 0)};
            expect(s, pos, '{');
            pos[0] = skip(s, pos[0]);
            if (pos[0] < s.length() && s.charAt(pos[0]) == '}') {
                pos[0]++;
            } else {
                while (true) {
                    String k = string(s, pos);
                    pos[0] = skip(s, pos[0]);
                    expect(s, pos, ':');
                    pos[0] = skip(s, pos[0]);
                    String v = string(s, pos);
                    if (out.put(k, v) != null) {
                        throw new IllegalArgumentException("key \"" + k + "\" appears twice");
                    }
                    pos[0] = skip(s, pos[0]);
                    if (pos[0] < s.length() && s.charAt(pos[0]) == ',') {
                        pos[0] = skip(s, pos[0] + 1);
                        continue;
                    }
                    expect(s, pos, '}');
                    break;
                }
            }
            if (skip(s, pos[0]) != s.length()) {
                throw new IllegalArgumentException("text after the JSON object at offset " + pos[0]);
            }
            return out;
        }

        private static int skip(String s, int i) {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
            return i;
        }

        private static void expect(String s, int[] pos, char c) {
            if (pos[0] >= s.length() || s.charAt(pos[0]) != c) {
                throw new IllegalArgumentException("expected '" + c + "' at offset " + pos[0]
                        + " (a JSON object of string values)");
            }
            pos[0]++;
        }

        private static String string(String s, int[] pos) {
            if (pos[0] >= s.length() || s.charAt(pos[0]) != '"') {
                throw new IllegalArgumentException("expected a string at offset " + pos[0]
                        + " (values must be strings of literals and %OPERATORS%)");
            }
            StringBuilder b = new StringBuilder();
            int i = pos[0] + 1;
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == '"') {
                    pos[0] = i + 1;
                    return b.toString();
                }
                if (c == '\\' && i + 1 < s.length()) {
                    char n = s.charAt(++i);
                    switch (n) {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'u' -> {
                            if (i + 4 >= s.length()) {
                                throw new IllegalArgumentException("bad \\u escape at offset " + i);
                            }
                            b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                            i += 4;
                        }
                        default -> b.append(n);
                    }
                    i++;
                    continue;
                }
                b.append(c);
                i++;
            }
            throw new IllegalArgumentException("unterminated string at offset " + pos[0]);
        }
    }
}
