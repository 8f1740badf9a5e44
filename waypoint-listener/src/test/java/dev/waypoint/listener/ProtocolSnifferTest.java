package dev.waypoint.listener;

import static org.assertj.core.api.Assertions.assertThat;

import dev.waypoint.model.mesh.AppProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProtocolSnifferTest {

    @ParameterizedTest(name = "[{0}] {1} -> {2}")
    @CsvSource(delimiter = '|', nullValues = "WAIT", value = {
            // declared | first bytes (\r\n escaped)                     | decision
            "AUTO  | PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n               | HTTP2",
            "AUTO  | PRI * HTTP/2.0\\r\\n                                   | WAIT",
            "AUTO  | PRI                                                   | WAIT",
            "AUTO  | GET / HTTP/1.1\\r\\n                                   | HTTP1",
            "AUTO  | POST /api/v1/items?x=1 HTTP/1.1\\r\\nHost: a\\r\\n     | HTTP1",
            "AUTO  | OPTIONS * HTTP/1.0\\r\\n                               | HTTP1",
            "AUTO  | GET / HTTP/1.1                                        | WAIT",
            "AUTO  | GET                                                   | WAIT",
            "AUTO  | GET / SPDY/3\\r\\n                                     | TCP",
            "AUTO  | \\u0016\\u0003\\u0001\\u0002\\u0000                    | TCP",
            "AUTO  | SSH-2.0-OpenSSH_9.6\\r\\n                              | TCP",
            "AUTO  | get / HTTP/1.1\\r\\n                                   | TCP",
            "AUTO  | AAAAAAAAAAAAAAAAAAAAAAAAA                             | TCP",
            "HTTP  | \\u0016\\u0003\\u0001\\u0002\\u0000                    | HTTP1",
            "HTTP  | GET / SPDY/3\\r\\n                                     | HTTP1",
            "HTTP2 | PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n               | HTTP2",
            "GRPC  | GET / HTTP/1.1\\r\\n                                   | HTTP1",
    })
    void classify(AppProtocol declared, String bytes, InnerProtocol expected) {
        ByteBuf in = Unpooled.copiedBuffer(unescape(bytes.strip()), StandardCharsets.ISO_8859_1);
        try {
            assertThat(ProtocolSniffer.classify(in, declared)).isEqualTo(expected);
            assertThat(in.readerIndex()).as("classify only peeks").isZero();
        } finally {
            in.release();
        }
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'r' -> b.append('\r');
                    case 'n' -> b.append('\n');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                        i += 4;
                    }
                    default -> b.append(n);
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
